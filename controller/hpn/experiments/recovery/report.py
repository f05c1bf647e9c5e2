"""The recovery campaign as text, against its targets, and its timelines as a PNG.

A cut's recovery time is the time from the cut until every flow it hit delivered again;
a cut with a flow that never did has none ("never"). Per kind: the median and the worst
over its cuts, the flows hit and lost, the cuts after which the fabric was intact again,
and the machine's load over the kind. Targets: under 1 s, no lost flow.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from pathlib import Path

from hpn.emulation.cut_run import CutOutcome
from hpn.emulation.timeline import plot_timelines
from hpn.experiments.recovery.campaign import KindResult, RecoveryRun
from hpn.experiments.recovery.probe_cost import ProbeCost
from hpn.experiments.recovery.swapped import WiringRun
from hpn.operations.events import EventKind

TARGET_S = 1.0
TARGET_LOST_FLOWS = 0


def recovery_s(outcome: CutOutcome) -> float:
    """Seconds until every hit flow delivered again; inf when one never did."""
    rec = outcome.recovery
    return math.inf if rec.lost_flows or rec.recovery is None else rec.recovery


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return "never" if math.isinf(seconds) else f"{seconds * 1000:.0f} ms"


@dataclass(frozen=True)
class KindSummary:
    kind: str
    cuts: int
    median_s: float
    worst_s: float
    flows: int
    hit: int
    lost: int
    intact: int

    @property
    def met(self) -> bool:
        return self.worst_s < TARGET_S and self.lost <= TARGET_LOST_FLOWS


def summarize(result: KindResult) -> KindSummary:
    times = [recovery_s(o) for o in result.outcomes]
    return KindSummary(
        result.kind,
        len(times),
        statistics.median(times) if times else math.nan,
        max(times) if times else math.nan,
        sum(o.recovery.flows for o in result.outcomes),
        sum(o.recovery.hit for o in result.outcomes),
        sum(len(o.recovery.lost_flows) for o in result.outcomes),
        sum(o.intact for o in result.outcomes),
    )


def cut_line(kind: str, outcome: CutOutcome) -> str:
    """One cut: flows hit, recovery, the runner's milestones, back to intact."""
    rec, tl = outcome.recovery, outcome.timeline
    runner = ", ".join(
        f"{k.value} {_ms(t)}"
        for k in (EventKind.DETECTED, EventKind.DECLARED, EventKind.SWITCH_DOWN, EventKind.WRITTEN)
        if (t := tl.first(k)) is not None
    )
    back = ", ".join(
        f"{k.value} {_ms(t)}"
        for k in (EventKind.SWITCH_UP, EventKind.RESTORED, EventKind.WRITTEN)
        if (t := tl.last_back(k)) is not None
    )
    return (
        f"{kind} {outcome.cut.name}: {rec.hit}/{rec.flows} flows hit ({len(rec.pairs_hit)} pairs), "
        f"all delivering again after {_ms(recovery_s(outcome))}, {len(rec.lost_flows)} lost "
        f"({rec.lost_packets} packets; {rec.other_lost_packets} lost by flows not hit); "
        f"runner: {runner or 'no events'}; undone: {back or 'no events'}, "
        f"intact after {_ms(tl.intact_s)}"
        + ("" if not outcome.problems else f"; problems: {'; '.join(outcome.problems)}")
    )


def lines(run: RecoveryRun, cost: ProbeCost | None, wiring: WiringRun | None) -> list[str]:
    out = [
        f"hpnctl run on {run.fabric}, default timers (probes every 100 ms, down after 3 misses, "
        f"1 s hold-down); traffic: {run.per_pair} flows per host pair, a packet each every "
        f"{run.interval * 1000:.0f} ms; no hpnctl link, hosts not told",
        "",
        f"{'kind':<24}{'cuts':>5}{'median':>10}{'worst':>10}{'target':>10}{'flows hit':>11}"
        f"{'lost flows':>12}{'intact':>8}  met",
    ]
    for result in run.kinds:
        s = summarize(result)
        out.append(
            f"{s.kind:<24}{s.cuts:>5}{_ms(s.median_s):>10}{_ms(s.worst_s):>10}"
            f"{'< ' + _ms(TARGET_S):>10}{f'{s.hit}/{s.flows}':>11}{f'{s.lost} (0)':>12}"
            f"{f'{s.intact}/{s.cuts}':>8}  {'yes' if s.met else 'NO'}"
        )
    out.append("")
    for result in run.kinds:
        load = result.load.describe() if result.load is not None else "not measured"
        out.append(f"machine load during {result.kind}: {load}")
    if run.numbers is not None:
        n = run.numbers
        failovers = ", ".join(f"{k} {v:.0f}" for k, v in sorted(n.failovers.items()))
        out.append(
            f"runner metrics: failovers {failovers or 'none'}; switches touched {n.switches_touched:.0f}; "
            f"updates written {n.updates_written:.0f}; write errors {n.write_errors:.0f}; "
            f"detection to written: {n.detection_to_written.describe()}"
        )
    if cost is not None:
        out.append("")
        out.append(
            f"probe load, CPU seconds per second ({len(cost.probing)} phases each, alternated): "
            f"probes every {cost.interval_ms} ms vs one round per {cost.idle_interval_ms / 1000:.0f} s"
        )
        for which, label in (("runner", "runner process"), ("bmv2", f"{cost.switches} bmv2 processes")):
            ratio = cost.ratio(which)
            times = f"{cost.mean(True, which) * 1000:.0f} ms/s vs {cost.mean(False, which) * 1000:.0f} ms/s"
            out.append(f"  {label}: {times}, ratio " + ("-" if ratio is None else f"{ratio:.1f}"))
    if wiring is not None:
        a, b = wiring.crossing
        out.append("")
        out.append(f"swapped cables (crossed at {a} and {b}), pushed, then {' '.join(wiring.command[2:])}:")
        out += [f"  {line}" for line in wiring.output.splitlines()]
        out.append(f"  exit code {wiring.exit_code}")
    for problem in run.problems:
        out.append(f"problem: {problem}")
    return out


def plot(run: RecoveryRun, path: Path) -> Path:
    """Every cut's timeline in one PNG (raises PlottingUnavailable without matplotlib)."""
    timelines = []
    for result in run.kinds:
        for i, outcome in enumerate(result.outcomes, start=1):
            timelines.append(replace(outcome.timeline, label=f"{result.kind} #{i}"))
    return plot_timelines(timelines, path, f"hpnctl run on {run.fabric}: cuts healed with no command")

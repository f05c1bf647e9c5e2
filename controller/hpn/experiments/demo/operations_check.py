"""`hpnctl run` in the demo: a ToR-agg cable cut with traffic running, healed with no command.

On the demo's fabric, the runner is started as a process of its own
(hpn.emulation.runner_process) with an election id above the demo controller's, so it
takes the switches over; it pushes, learns every cable from its probes, and then one
ToR-agg cable is pulled in the patch panel (the hosts are not told). hpn.emulation.cut_run
measures how soon every flow across it delivers again, plugs it back, and waits until the
runner restored it and the fabric is intact (failure view empty, every switch's entries
those of the intact fabric). The runner's own numbers are read from its Prometheus
endpoint: failovers, switches touched, updates written, the detection-to-written
histogram; its events make the timeline PNG.

The check fails only on behaviour: the cable not declared down, not written, traffic not
delivering again, the cable not restored, the switches not back to the intact state. The
times depend on how fast the machine runs bmv2: they are reported, with the machine's
load over the check (hpn.netlab.load), and never fail it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from hpn.emulation.checks.base import Lab, Verdict
from hpn.emulation.cut_run import CutOutcome, cable_cut, intact_diff, run_cut
from hpn.emulation.plotting import PlottingUnavailable
from hpn.emulation.runner_process import (
    RunnerError,
    RunnerSettings,
    start_runner,
    stop_runner,
    wait_learnt,
)
from hpn.emulation.runner_readings import RunnerNumbers, scrape
from hpn.emulation.timeline import plot_timelines
from hpn.netlab.load import MachineLoad, Snapshot, between, snapshot
from hpn.topology.model import Fabric, Link, SwitchPort

TARGET_S = 1.0


@dataclass
class OperationsResult(Verdict):
    cable: str
    outcome: CutOutcome | None
    numbers: RunnerNumbers | None
    load: MachineLoad | None
    timeline_png: Path | None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        o = self.outcome
        if o is None:
            return "not measured"
        rec = o.recovery
        flows_back = "never" if rec.recovery is None else f"after {rec.recovery * 1000:.0f} ms"
        intact = o.timeline.intact_s
        return (
            f"{self.cable} cut, no command: {rec.hit}/{rec.flows} flows hit, all delivering again "
            f"{flows_back} (target < {TARGET_S * 1000:.0f} ms), {len(rec.lost_flows)} lost; "
            f"plugged back: intact after {'-' if intact is None else f'{intact:.1f} s'}"
        )

    def lines(self) -> list[str]:
        """The report's lines after the checks table: the runner's timeline and numbers."""
        out = []
        if self.outcome is not None:
            tl = self.outcome.timeline
            marks = ", ".join(
                f"{m.kind.value} {m.after_s * 1000:.0f}" for m in tl.cut if m.subject == self.cable
            )
            back = ", ".join(f"{m.kind.value} {m.after_s * 1000:.0f}" for m in tl.back)
            out.append(f"hpnctl run, ms after the cut: {marks or 'no events'}")
            out.append(f"hpnctl run, ms after the plug-in: {back or 'no events'}")
        n = self.numbers
        if n is not None:
            failovers = ", ".join(f"{k} {v:.0f}" for k, v in sorted(n.failovers.items())) or "none"
            out.append(
                f"hpnctl run's metrics: failovers {failovers}; switches touched {n.switches_touched:.0f}; "
                f"updates written {n.updates_written:.0f}; detection to written: "
                f"{n.detection_to_written.describe()}"
            )
        if self.load is not None:
            out.append(f"machine load over the check: {self.load.describe()}")
        out += [f"note: {line}" for line in self.notes]
        if self.timeline_png is not None:
            out.append(f"plot: {self.timeline_png} (hpnctl run's timeline)")
        return out


def demo_cable(fabric: Fabric) -> Link:
    """The first ToR's first uplink."""
    return next(
        link for link in fabric.links if isinstance(link.a, SwitchPort) and isinstance(link.b, SwitchPort)
    )


def _snapshot() -> Snapshot | None:
    try:
        return snapshot()
    except OSError:  # no /proc/stat: the load is not measured
        return None


async def cut_and_heal(lab: Lab, png: Path) -> OperationsResult:
    """The check: runner up, one cable cut and plugged back, runner stopped."""
    started = time.monotonic()
    before = _snapshot()
    emu = lab.emulation
    link = demo_cable(lab.fabric)
    result = OperationsResult(str(link), None, None, None, None)
    settings = RunnerSettings(election_id=lab.ctl.session.options.election_id + 1)
    try:
        record = await asyncio.to_thread(start_runner, emu.layout, emu.topology, None, settings)
    except RunnerError as exc:
        result.problems.append(str(exc))
        return result
    try:
        tail = await asyncio.to_thread(wait_learnt, record, lab.fabric)
        cut = cable_cut(emu, list(lab.nics.values()), link)
        differing = intact_diff(lab.ctl.session, lab.fabric)
        outcome = await run_cut(cut, tail, record.metrics_url, differing, running=record.proc.alive)
        result.outcome = outcome
        result.problems += outcome.problems
        if outcome.recovery.lost_flows:
            result.problems.append(f"{len(outcome.recovery.lost_flows)} flows never delivered again")
        result.numbers = await asyncio.to_thread(scrape, record.metrics_url)
    except RunnerError as exc:
        result.problems.append(str(exc))
    except OSError as exc:
        result.notes.append(f"the runner's metrics were not read: {exc}")
    finally:
        await asyncio.to_thread(stop_runner, emu.layout)
    after = _snapshot()
    result.load = None if before is None or after is None else between(before, after)
    if result.outcome is not None:
        try:
            result.timeline_png = plot_timelines(
                [result.outcome.timeline], png, f"hpnctl run on {lab.fabric.name}: {result.cable} cut"
            )
        except PlottingUnavailable as exc:
            result.notes.append(str(exc))
    result.seconds = time.monotonic() - started
    return result

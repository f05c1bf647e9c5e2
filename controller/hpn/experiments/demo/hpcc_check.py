"""HPCC closed-loop in the demo: a short run of the incast experiment (hpn.experiments.incast),
without congestion control and with HPCC, on a fabric made for it (topologies/hpcc-incast.yaml).

The check fails when the experiment did not work (an agent or the fabric failed, no INT, a
silent sender) or when HPCC did not behave as it should: its senders did not cut their rate
when INT showed U above eta, or its p99 queue was not below no CC's (the behaviour goals of
hpn.experiments.incast.goals). How far below, the goodput and the fairness depend on the
machine's speed: they are reported, met or not, with the machine's load over the
experiment (hpn.netlab.load), and never fail the check.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from hpn.emulation.checks.base import Lab, Verdict
from hpn.experiments.incast import (
    Comparison,
    IncastError,
    IncastSettings,
    behaviour_problems,
    compare,
    goals,
    queue_ratio,
    speed_note,
)
from hpn.experiments.incast.goals import BEHAVIOUR, of_kind
from hpn.netlab.load import MachineLoad, Snapshot, between, snapshot

DEMO_SETTINGS = IncastSettings(before_join_s=1.5, after_join_s=3.0)
"""Short enough for the demo (~15 s for both modes and the RTT); bench/bench_hpcc.py runs longer."""


@dataclass
class HpccIncastResult(Verdict):
    comparison: Comparison | None
    load: MachineLoad | None
    """The machine's load over the experiment (None: not measured)."""
    problems: list[str]
    seconds: float

    def summary(self) -> str:
        c = self.comparison
        if c is None or not {"none", "hpcc"} <= set(c.outcomes):
            return "not measured"
        none, hpcc = c.outcomes["none"], c.outcomes["hpcc"]
        measured = goals(c)
        behaviour = of_kind(measured, BEHAVIOUR)
        p99 = "-" if hpcc.queue_int is None else f"{hpcc.queue_int.p99:,.0f} B"
        return (
            f"{c.settings.senders}:1 at {c.settings.line_rate_pps:g} pkt/s: HPCC p99 queue (INT) {p99}, "
            f"{queue_ratio(c, 'int'):.3f} of no CC's; goodput {none.goodput_share:.0%} -> "
            f"{hpcc.goodput_share:.0%}; Jain {hpcc.fairness:.3f}; behaviour goals met "
            f"{sum(g.met for g in behaviour)}/{len(behaviour)}; {speed_note(measured, self.load)}"
        )


def verdict(comparison: Comparison, machine: MachineLoad | None, seconds: float) -> HpccIncastResult:
    """The check's result: the experiment's own problems, then every behaviour goal not met."""
    problems = comparison.problems() + behaviour_problems(goals(comparison))
    return HpccIncastResult(comparison, machine, problems, seconds)


def _snapshot() -> Snapshot | None:
    try:
        return snapshot()
    except OSError:  # no /proc/stat: the load is not measured
        return None


async def hpcc_incast(lab: Lab, work_dir: Path, settings: IncastSettings = DEMO_SETTINGS) -> HpccIncastResult:
    """Measure T, then the incast without CC and with HPCC; logs under `work_dir`."""
    started = time.monotonic()
    stop = threading.Event()
    before = _snapshot()
    try:
        comparison = await asyncio.to_thread(compare, lab.emulation, settings, work_dir, stop=stop)
    except asyncio.CancelledError:
        stop.set()  # the experiment's thread stops its agents, restores the port and ends
        raise
    except (IncastError, ValueError) as exc:
        return HpccIncastResult(None, None, [str(exc)], time.monotonic() - started)
    after = _snapshot()
    machine = None if before is None or after is None else between(before, after)
    return verdict(comparison, machine, time.monotonic() - started)

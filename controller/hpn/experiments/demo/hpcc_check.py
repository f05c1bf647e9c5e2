"""HPCC closed-loop in the demo: a short run of the incast experiment (hpn.experiments.incast),
without congestion control and with HPCC, on a fabric made for it (topologies/hpcc-incast.yaml).

The check fails only when the experiment did not work (an agent or the fabric failed, no INT,
a silent sender); whether HPCC met its goals is reported next to the numbers, as a
benchmark's result, not as a verdict on the fabric.
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
    compare,
    goals,
    queue_ratio,
)

DEMO_SETTINGS = IncastSettings(before_join_s=1.5, after_join_s=3.0)
"""Short enough for the demo (~15 s for both modes and the RTT); bench/bench_hpcc.py runs longer."""


@dataclass
class HpccIncastResult(Verdict):
    comparison: Comparison | None
    problems: list[str]
    seconds: float

    def summary(self) -> str:
        c = self.comparison
        if c is None or not {"none", "hpcc"} <= set(c.outcomes):
            return "not measured"
        none, hpcc = c.outcomes["none"], c.outcomes["hpcc"]
        met = sum(g.met for g in goals(c))
        p99 = "-" if hpcc.queue_int is None else f"{hpcc.queue_int.p99:,.0f} B"
        return (
            f"{c.settings.senders}:1 at {c.settings.line_rate_pps:g} pkt/s: HPCC p99 queue (INT) {p99}, "
            f"{queue_ratio(c, 'int'):.3f} of no CC's; goodput {none.goodput_share:.0%} -> "
            f"{hpcc.goodput_share:.0%}; Jain {hpcc.fairness:.3f}; goals met {met}/{len(goals(c))}"
        )


async def hpcc_incast(lab: Lab, work_dir: Path, settings: IncastSettings = DEMO_SETTINGS) -> HpccIncastResult:
    """Measure T, then the incast without CC and with HPCC; logs under `work_dir`."""
    started = time.monotonic()
    stop = threading.Event()
    try:
        comparison = await asyncio.to_thread(compare, lab.emulation, settings, work_dir, stop=stop)
    except asyncio.CancelledError:
        stop.set()  # the experiment's thread stops its agents, restores the port and ends
        raise
    except (IncastError, ValueError) as exc:
        return HpccIncastResult(None, [str(exc)], time.monotonic() - started)
    return HpccIncastResult(comparison, comparison.problems(), time.monotonic() - started)

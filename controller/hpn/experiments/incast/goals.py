"""What HPCC should achieve against no congestion control, and whether a comparison shows it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hpn.experiments.incast.comparison import Comparison
from hpn.hpcc.metrics import ratio

P99_RATIO_GOAL = 0.1
GOODPUT_GOAL = 0.9
FAIRNESS_GOAL = 0.95


@dataclass(frozen=True)
class Goal:
    """One goal of the experiment, with the value measured."""

    what: str
    value: float
    wanted: str
    """The bound, readable (e.g. ``<= 0.1``)."""
    met: bool


def queue_ratio(comparison: Comparison, source: str) -> float:
    """HPCC's p99 queue over no-CC's, each no more than the buffer holds (``source``: int|bmv2)."""
    summaries = []
    for cc in ("hpcc", "none"):
        o = comparison.outcomes.get(cc)
        q = None if o is None else (o.queue_int if source == "int" else o.queue_bmv2)
        if o is None or q is None:
            return math.nan
        summaries.append(min(q.p99, o.buffer_bytes))
    return ratio(summaries[0], summaries[1])


def goals(comparison: Comparison) -> list[Goal]:
    """The experiment's goals, measured (HPCC's numbers against no CC's)."""
    out = []
    for source, label in (("int", "INT"), ("bmv2", "bmv2")):
        r = queue_ratio(comparison, source)
        out.append(
            Goal(f"HPCC p99 queue / no CC's ({label})", r, f"<= {P99_RATIO_GOAL:g}", r <= P99_RATIO_GOAL)
        )
    hpcc = comparison.outcomes.get("hpcc")
    if hpcc is not None:
        g, j = hpcc.goodput_share, hpcc.fairness
        out.append(Goal("HPCC goodput / bottleneck", g, f">= {GOODPUT_GOAL:.0%}", g >= GOODPUT_GOAL))
        out.append(Goal("HPCC Jain fairness after the join", j, f">= {FAIRNESS_GOAL}", j >= FAIRNESS_GOAL))
    return out

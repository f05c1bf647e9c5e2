"""What HPCC should achieve against no congestion control, and whether a comparison shows it.

Two kinds of goal (docs/hpcc.md, "The goals, and what limits them"):

- **behaviour**: what the switches and the algorithm do whatever the machine's speed: HPCC's
  senders cut their rate when INT shows U above eta, and HPCC's p99 queue is below no CC's.
  Not meeting one means HPCC (or the INT it reads) does not work; the demo's check fails.
- **speed**: how far below, and how much of the bottleneck HPCC keeps busy, how fairly. These
  depend on how promptly the machine schedules bmv2 and the Python agents: they are reported,
  met or not, next to the machine's load over the experiment (hpn.netlab.load), and never
  fail a check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hpn.experiments.incast.comparison import Comparison
from hpn.hpcc.metrics import ratio
from hpn.netlab.load import MachineLoad

P99_RATIO_GOAL = 0.1
GOODPUT_GOAL = 0.9
FAIRNESS_GOAL = 0.95
BEHAVIOUR = "behaviour"
SPEED = "speed"


@dataclass(frozen=True)
class Goal:
    """One goal of the experiment, with the value measured."""

    what: str
    value: float
    wanted: str
    """The bound, readable (e.g. ``<= 0.1``)."""
    met: bool
    kind: str = SPEED
    """BEHAVIOUR (fails the demo's check when not met) or SPEED (reported)."""
    fmt: str = ".3f"
    """How `value` is shown."""

    @property
    def shown(self) -> str:
        return "not measured" if math.isnan(self.value) else format(self.value, self.fmt)


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


def _reacted(comparison: Comparison) -> Goal | None:
    hpcc = comparison.outcomes.get("hpcc")
    if hpcc is None:
        return None
    senders = len(hpcc.senders)
    reacted = sum(1 for r in (hpcc.reactions or {}).values() if r.cuts > 0)
    return Goal(
        "HPCC senders that cut their rate on an ACK with U above eta",
        reacted,
        f"all {senders}",
        senders > 0 and reacted == senders,
        BEHAVIOUR,
        "d",
    )


def goals(comparison: Comparison) -> list[Goal]:
    """The experiment's goals, measured (HPCC's numbers against no CC's): behaviour, then speed."""
    ratios = [
        (label, queue_ratio(comparison, source)) for source, label in (("int", "INT"), ("bmv2", "bmv2"))
    ]
    out = [Goal(f"HPCC p99 queue below no CC's ({label})", r, "< 1", r < 1, BEHAVIOUR) for label, r in ratios]
    reacted = _reacted(comparison)
    if reacted is not None:
        out.append(reacted)
    for label, r in ratios:
        out.append(
            Goal(f"HPCC p99 queue / no CC's ({label})", r, f"<= {P99_RATIO_GOAL:g}", r <= P99_RATIO_GOAL)
        )
    hpcc = comparison.outcomes.get("hpcc")
    if hpcc is not None:
        g, j = hpcc.goodput_share, hpcc.fairness
        out.append(Goal("HPCC goodput / bottleneck", g, f">= {GOODPUT_GOAL:.0%}", g >= GOODPUT_GOAL))
        out.append(Goal("HPCC Jain fairness after the join", j, f">= {FAIRNESS_GOAL}", j >= FAIRNESS_GOAL))
    return out


def of_kind(all_goals: list[Goal], kind: str) -> list[Goal]:
    return [g for g in all_goals if g.kind == kind]


def behaviour_problems(all_goals: list[Goal]) -> list[str]:
    """One problem per behaviour goal not met, naming it and what was measured."""
    return [
        f"goal not met: {g.what} {g.wanted}: {g.shown}" for g in of_kind(all_goals, BEHAVIOUR) if not g.met
    ]


def speed_note(all_goals: list[Goal], load: MachineLoad | None) -> str:
    """How many speed goals were met, with the machine's load next to it when some were not."""
    speed = of_kind(all_goals, SPEED)
    met = sum(g.met for g in speed)
    text = f"speed goals met {met}/{len(speed)}"
    if met == len(speed):
        return text
    if load is None:
        return f"{text} (reported, not checked; machine load not measured)"
    state = "machine loaded" if load.loaded else "machine not loaded"
    return f"{text} (reported, not checked; {state}: {load.describe()})"

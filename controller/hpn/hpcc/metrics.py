"""What the incast experiment reports, computed from its measurements: pure functions only.

Queue percentiles, Jain's fairness index, goodput as a share of a bottleneck, per-sender
rates over sliding windows, and the time until the rates are fair again after a sender
joins. Times are integer ns of one clock (the experiment uses CLOCK_MONOTONIC, which every
namespace of the machine shares); nothing here reads a clock. docs/hpcc.md ("The incast
experiment") defines each number.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks.

    The value at rank ``q / 100 * (n - 1)`` of the sorted values, interpolated between
    its two neighbours (numpy's default, "linear"). Raises ValueError on no values.
    """
    if not values:
        raise ValueError("the percentile of no values is undefined")
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile is between 0 and 100, not {q}")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class QueueSummary:
    """Median, 99th percentile and maximum of queue samples, in bytes."""

    samples: int
    median: float
    p99: float
    maximum: float

    @classmethod
    def of(cls, values: Sequence[float]) -> QueueSummary:
        if not values:
            raise ValueError("no queue samples")
        return cls(len(values), percentile(values, 50), percentile(values, 99), max(values))


def jain_index(values: Sequence[float]) -> float:
    """Jain's fairness index ``(sum x)^2 / (n * sum x^2)``: 1 when all are equal, 1/n when one has all.

    All zeros count as equal (1.0); negative values and an empty sequence are errors.
    """
    if not values:
        raise ValueError("Jain's index of no values is undefined")
    if any(v < 0 for v in values):
        raise ValueError(f"Jain's index needs non-negative values, got {list(values)}")
    squares = sum(v * v for v in values)
    if squares == 0:
        return 1.0
    return sum(values) ** 2 / (len(values) * squares)


def goodput_share(delivered: float, seconds: float, capacity_per_s: float) -> float:
    """What was delivered over ``seconds`` as a share of what the bottleneck could carry.

    ``delivered`` and ``capacity_per_s`` in the same unit (packets, or bytes).
    """
    if seconds <= 0 or capacity_per_s <= 0:
        raise ValueError("seconds and capacity_per_s must be positive")
    if delivered < 0:
        raise ValueError("delivered must not be negative")
    return delivered / (seconds * capacity_per_s)


def count_between(times_ns: Sequence[int], start_ns: int, end_ns: int) -> int:
    """How many of the sorted ``times_ns`` fall in ``[start_ns, end_ns)``."""
    return bisect.bisect_left(times_ns, end_ns) - bisect.bisect_left(times_ns, start_ns)


@dataclass(frozen=True)
class RateSample:
    """Per-key events per second over the window ``(end_ns - window_ns, end_ns]``."""

    end_ns: int
    rates: Mapping[str, float]


def window_rates(
    events_ns: Mapping[str, Sequence[int]], start_ns: int, end_ns: int, window_ns: int, step_ns: int
) -> list[RateSample]:
    """Events per second of each key over windows of ``window_ns``, every ``step_ns``.

    The first window is ``[start_ns, start_ns + window_ns)``; windows move by ``step_ns``
    while they end at or before ``end_ns``. ``events_ns`` must be sorted per key. With
    ``step_ns == window_ns`` these are plain bins.
    """
    if window_ns <= 0 or step_ns <= 0:
        raise ValueError("window_ns and step_ns must be positive")
    out = []
    t = start_ns + window_ns
    while t <= end_ns:
        rates = {k: count_between(ts, t - window_ns, t) * 1e9 / window_ns for k, ts in events_ns.items()}
        out.append(RateSample(t, rates))
        t += step_ns
    return out


def convergence_ns(
    fairness: Sequence[tuple[int, float]], join_ns: int, window_ns: int, threshold: float, hold_ns: int
) -> int | None:
    """How long after ``join_ns`` the rates became fair and stayed so for ``hold_ns``.

    ``fairness`` is (window end, Jain's index over that window) in time order, from
    windows of ``window_ns``. Only windows that lie wholly after the join count: the
    answer is ``t - join_ns`` for the earliest window end ``t >= join_ns + window_ns``
    such that every window ending in ``[t, t + hold_ns]`` has an index of at least
    ``threshold``, and the samples reach ``t + hold_ns``. None when that never happens.
    The answer is therefore at least ``window_ns``.
    """
    after = [(t, j) for t, j in fairness if t >= join_ns + window_ns]
    for i, (t, _) in enumerate(after):
        if after[-1][0] < t + hold_ns:
            return None
        held = [j for u, j in after[i:] if u <= t + hold_ns]
        if all(j >= threshold for j in held):
            return t - join_ns
    return None


def fairness_series(samples: Sequence[RateSample], keys: Sequence[str]) -> list[tuple[int, float]]:
    """Jain's index over ``keys`` for each window (a key with no events counts as rate 0)."""
    return [(s.end_ns, jain_index([s.rates.get(k, 0.0) for k in keys])) for s in samples]


def capped(value: float, capacity: float) -> float:
    """A queue reading no larger than what the buffer can hold."""
    return min(value, capacity)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; NaN when the denominator is 0."""
    return numerator / denominator if denominator else math.nan


def group_times(events: Sequence[tuple[K, int]]) -> dict[K, list[int]]:
    """(key, time) pairs -> sorted times per key."""
    out: dict[K, list[int]] = {}
    for key, t in events:
        out.setdefault(key, []).append(t)
    for times in out.values():
        times.sort()
    return out

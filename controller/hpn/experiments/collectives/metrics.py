"""The numbers a collective run is reported in: completion time, algorithm and bus bandwidth,
and the balance of the links it used.

- algorithm bandwidth: the buffer (`size` bytes per rank) over the completion time;
- bus bandwidth: what each rank's links carried per second, algbw * 2(n - 1)/n for an
  all-reduce: every rank sends (and receives) 2(n - 1)/n of the buffer, by ring or by
  halving-doubling alike (nccl-tests' definition), so it compares with the NIC's rate;
- link balance: the busiest link's bytes over the mean of the links that could carry the
  traffic (1.0 is even).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def algorithm_bandwidth(size: int, seconds: float) -> float:
    """Bytes per second: the buffer over the completion time."""
    if seconds <= 0:
        raise ValueError(f"a completion time must be positive, not {seconds}")
    return size / seconds


def bus_factor(ranks: int) -> float:
    """All-reduce: the share of the buffer each rank sends, 2(n - 1)/n (0 for one rank)."""
    if ranks < 1:
        raise ValueError(f"an all-reduce needs at least one rank, not {ranks}")
    return 2 * (ranks - 1) / ranks


def bus_bandwidth(size: int, ranks: int, seconds: float) -> float:
    return algorithm_bandwidth(size, seconds) * bus_factor(ranks)


@dataclass(frozen=True)
class LinkBalance:
    links: int
    max_bytes: int
    mean_bytes: float

    @property
    def max_over_mean(self) -> float:
        """nan when nothing was carried."""
        return self.max_bytes / self.mean_bytes if self.mean_bytes > 0 else float("nan")

    @classmethod
    def of(cls, carried: Mapping[str, int]) -> LinkBalance:
        values = list(carried.values())
        if not values:
            return cls(0, 0, 0.0)
        return cls(len(values), max(values), statistics.fmean(values))


@dataclass(frozen=True)
class Spread:
    """Median and worst of repeated runs' values (worst: the largest)."""

    runs: int
    median: float
    worst: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no runs to summarise")
        return cls(len(values), statistics.median(values), max(values))


def reduction(baseline: float, value: float) -> float:
    """How much shorter `value` is than `baseline`, as a share of it (0.3: 30% shorter)."""
    if baseline <= 0:
        raise ValueError(f"a baseline must be positive, not {baseline}")
    return 1 - value / baseline

"""Jobs on disjoint hosts: which host is each rank of each job.

A job asks for a number of ranks (hosts; each host joins with all its NICs, one per
rail). `place_jobs` gives jobs hosts that no other job has, in the order asked:

- `spread`: rank i of a job on segment i mod S (every ring neighbour in another
  segment: the placement that loads the fabric most);
- `packed`: a job's ranks fill one segment before the next (ring neighbours share a
  ToR wherever they can, as a topology-aware scheduler places them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from hpn.experiments.collectives.schedule import Algorithm


class Placement(str, Enum):
    SPREAD = "spread"
    PACKED = "packed"


@dataclass(frozen=True)
class JobSpec:
    """What a job asks for: `ranks` hosts, an all-reduce of `size` bytes per rank."""

    name: str
    ranks: int
    size: int
    algorithm: Algorithm = Algorithm.RING


@dataclass(frozen=True)
class Job:
    """A placed job: `hosts[r]` is rank r."""

    spec: JobSpec
    hosts: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.spec.name


def place_jobs(
    hosts: Sequence[tuple[str, int]], specs: Sequence[JobSpec], placement: Placement = Placement.SPREAD
) -> list[Job]:
    """Each job's hosts out of `hosts` ((name, segment)), no host in two jobs.

    Raises ValueError when the jobs need more hosts than there are, or names repeat.
    """
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"job names must differ: {names}")
    needed = sum(s.ranks for s in specs)
    if needed > len(hosts):
        raise ValueError(f"the jobs need {needed} hosts; the fabric has {len(hosts)}")
    if any(s.ranks < 1 for s in specs):
        raise ValueError("every job needs at least one rank")
    by_segment: dict[int, list[str]] = {}
    for name, segment in sorted(hosts, key=lambda h: (h[1], h[0])):
        by_segment.setdefault(segment, []).append(name)
    segments = sorted(by_segment)
    jobs = []
    for spec in specs:
        chosen: list[str] = []
        if placement is Placement.PACKED:
            for segment in segments:
                while by_segment[segment] and len(chosen) < spec.ranks:
                    chosen.append(by_segment[segment].pop(0))
        else:
            turn = 0
            while len(chosen) < spec.ranks:
                free = [s for s in segments if by_segment[s]]
                segment = free[turn % len(free)]
                chosen.append(by_segment[segment].pop(0))
                turn += 1
        jobs.append(Job(spec, tuple(chosen)))
    return jobs

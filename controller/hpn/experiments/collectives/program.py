"""Jobs' schedules turned into queue pairs and per-rank programs, rail by rail.

Every rail of a job runs its own all-reduce of its share of the buffer (NCCL's channels
over the rails), among the job's NICs on that rail. Every connection of a schedule
(a sender rank to a receiver rank) is one queue pair per NIC port (plane), each carrying
its share of every transfer on that connection, in whole packets of `payload_bytes`.

A rank's program is, per step, the packets it posts on each of its queue pairs and, to
go on to the next step, how many packets each queue pair into it must have delivered
(counted from the start of the collective: a queue pair used in several steps carries
them one after the other). Pure: no sockets, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hpn.experiments.collectives.placement import Job
from hpn.experiments.collectives.schedule import allreduce, chunk_bytes


@dataclass(frozen=True)
class QueuePair:
    """One direction of a connection on one NIC port: `qpn` is its BTH destination QP."""

    index: int
    job: str
    rail: int
    src: str  # host
    dst: str  # host
    plane: int  # the NIC port it is sent from (and, dual-plane, arrives on)
    qpn: int
    packets: int  # over the whole collective

    def bytes(self, payload_bytes: int) -> int:
        return self.packets * payload_bytes


@dataclass(frozen=True)
class RankStep:
    sends: tuple[tuple[int, int], ...]  # (queue pair index, packets posted)
    awaits: tuple[tuple[int, int], ...]  # (queue pair index, packets delivered since the start)


@dataclass(frozen=True)
class RankProgram:
    job: str
    rail: int
    rank: int
    host: str
    steps: tuple[RankStep, ...]


@dataclass(frozen=True)
class CollectivePlan:
    jobs: tuple[Job, ...]
    rails: int
    planes: int
    payload_bytes: int
    qps: tuple[QueuePair, ...]
    programs: tuple[RankProgram, ...]

    def job_qps(self, job: str) -> list[QueuePair]:
        return [q for q in self.qps if q.job == job]


def ideal_seconds(plan: CollectivePlan, line_rate_pps: float) -> float:
    """How long the plan takes when every NIC port sends at `line_rate_pps` and no link is shared.

    Per job and rail, the steps one after the other, each as long as its busiest NIC port
    (host, plane) takes to send the step's packets; the jobs run at once, so the longest
    counts. Latency is left out: a lower bound for what the emulation measures.
    """
    if line_rate_pps <= 0:
        raise ValueError(f"a NIC port's rate must be positive, not {line_rate_pps}")
    groups: dict[tuple[str, int], list[RankProgram]] = {}
    for program in plan.programs:
        groups.setdefault((program.job, program.rail), []).append(program)
    longest = 0
    for programs in groups.values():
        total = 0
        for k in range(max(len(p.steps) for p in programs)):
            per_port: dict[tuple[str, int], int] = {}
            for p in programs:
                for qi, count in p.steps[k].sends if k < len(p.steps) else ():
                    port = (p.host, plan.qps[qi].plane)
                    per_port[port] = per_port.get(port, 0) + count
            total += max(per_port.values(), default=0)
        longest = max(longest, total)
    return longest / line_rate_pps


def packets(nbytes: int, payload_bytes: int) -> int:
    return -(-nbytes // payload_bytes)


def build_plan(jobs: Sequence[Job], rails: int, planes: int, payload_bytes: int) -> CollectivePlan:
    """Queue pairs and programs of `jobs`, each all-reduce split over `rails` and `planes`."""
    if rails < 1 or planes < 1 or payload_bytes < 1:
        raise ValueError("rails, planes and payload_bytes must be positive")
    qp_keys: dict[tuple[str, int, int, int, int], int] = {}  # (job, rail, src, dst, plane) -> index
    qp_packets: list[int] = []
    qp_meta: list[tuple[str, int, str, str, int]] = []
    programs: list[RankProgram] = []
    for job in jobs:
        n = len(job.hosts)
        for rail, rail_size in enumerate(chunk_bytes(job.spec.size, rails)):
            schedule = allreduce(job.spec.algorithm, n, rail_size)
            sends: list[list[list[tuple[int, int]]]] = [[[] for _ in schedule] for _ in range(n)]
            awaits: list[list[list[tuple[int, int]]]] = [[[] for _ in schedule] for _ in range(n)]
            for k, step in enumerate(schedule):
                for t in step:
                    for plane, share in enumerate(chunk_bytes(t.bytes, planes)):
                        count = packets(share, payload_bytes)
                        if count == 0:
                            continue
                        key = (job.name, rail, t.src, t.dst, plane)
                        if key not in qp_keys:
                            qp_keys[key] = len(qp_packets)
                            qp_packets.append(0)
                            qp_meta.append((job.name, rail, job.hosts[t.src], job.hosts[t.dst], plane))
                        i = qp_keys[key]
                        qp_packets[i] += count
                        sends[t.src][k].append((i, count))
                        awaits[t.dst][k].append((i, qp_packets[i]))
            for r in range(n):
                steps = tuple(RankStep(tuple(sends[r][k]), tuple(awaits[r][k])) for k in range(len(schedule)))
                programs.append(RankProgram(job.name, rail, r, job.hosts[r], steps))
    qps = tuple(
        QueuePair(i, job, rail, src, dst, plane, qpn=i + 1, packets=qp_packets[i])
        for i, (job, rail, src, dst, plane) in enumerate(qp_meta)
    )
    return CollectivePlan(tuple(jobs), rails, planes, payload_bytes, qps, tuple(programs))

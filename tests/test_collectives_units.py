"""The pure parts of the collectives experiment: schedules, placement, queue pairs, ports,
the report's arithmetic and the generator's packet bytes. No emulation, no sockets."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hpn.experiments.collectives import report
from hpn.experiments.collectives.comparison import Case, CaseResult, Comparison, PathMode
from hpn.experiments.collectives.generator import GeneratorRun, Transport
from hpn.experiments.collectives.metrics import (
    LinkBalance,
    Spread,
    algorithm_bandwidth,
    bus_bandwidth,
    bus_factor,
    reduction,
)
from hpn.experiments.collectives.placement import JobSpec, Placement, place_jobs
from hpn.experiments.collectives.ports import demands, planned_ports, random_ports
from hpn.experiments.collectives.program import CollectivePlan, build_plan
from hpn.experiments.collectives.run import CollectiveRun, JobOutcome, uplinks
from hpn.experiments.collectives.schedule import (
    Algorithm,
    Schedule,
    allreduce,
    bytes_sent_per_rank,
    chunk_bytes,
    contributions,
    halving_doubling_allreduce,
    ring_allreduce,
)
from hpn.experiments.collectives.wire import DataTemplate, peek_data
from hpn.hpcc.messages import Ack, AckKind, DataPacket, decode_message
from hpn.paths.planner import ROCEV2_SOURCE_PORTS
from hpn.paths.predict import PathPredictor
from hpn.routing.state import LbMode
from hpn.telemetry.codec import IntStack
from hpn.topology.loader import load_fabric
from hpn.topology.model import NicPort, SwitchPort

TOPOLOGY = Path(__file__).resolve().parents[1] / "topologies" / "hpn-collectives.yaml"


def everyone_has_everything(n: int, schedule: Schedule) -> bool:
    return all(chunk == frozenset(range(n)) for row in contributions(n, schedule) for chunk in row)


# -- schedules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 10))
def test_ring_leaves_every_rank_with_every_chunk_reduced_over_all_ranks(n: int) -> None:
    schedule = ring_allreduce(n, 10_007)
    assert len(schedule) == 2 * (n - 1)
    assert everyone_has_everything(n, schedule)
    assert all(t.dst == (t.src + 1) % n and len(t.chunks) == 1 for step in schedule for t in step)


@pytest.mark.parametrize("n", [1, 2, 4, 8, 16])
def test_halving_doubling_leaves_every_rank_with_every_chunk_in_2_log_n_steps(n: int) -> None:
    schedule = halving_doubling_allreduce(n, 10_007)
    assert len(schedule) == 2 * int(math.log2(n))
    assert everyone_has_everything(n, schedule)


def test_halving_doubling_pairs_ranks_farthest_first_and_halves_then_doubles_the_data() -> None:
    schedule = halving_doubling_allreduce(8, 8000)
    partners = [{t.dst ^ t.src for t in step} for step in schedule]
    assert partners == [{4}, {2}, {1}, {1}, {2}, {4}]
    assert [{t.bytes for t in step} for step in schedule] == [{4000}, {2000}, {1000}, {1000}, {2000}, {4000}]


@pytest.mark.parametrize("n", [3, 5, 6, 12])
def test_halving_doubling_refuses_a_rank_count_that_is_not_a_power_of_two(n: int) -> None:
    with pytest.raises(ValueError, match=f"power-of-two number of ranks.*not {n}"):
        halving_doubling_allreduce(n, 1000)
    with pytest.raises(ValueError, match="power-of-two"):
        allreduce(Algorithm.HALVING_DOUBLING, n, 1000)


def test_a_schedule_missing_its_last_step_is_caught_by_the_replay() -> None:
    for algorithm in Algorithm:
        schedule = allreduce(algorithm, 4, 4000)
        assert everyone_has_everything(4, schedule)
        assert not everyone_has_everything(4, schedule[:-1])


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_every_rank_sends_2_n_minus_1_over_n_of_the_buffer(algorithm: Algorithm) -> None:
    size = 8 * 1000
    assert bytes_sent_per_rank(8, allreduce(algorithm, 8, size)) == [round(size * bus_factor(8))] * 8


def test_chunks_cover_the_buffer_and_differ_by_at_most_one_byte() -> None:
    for size, n in [(10, 3), (7, 8), (0, 4), (1_000_001, 7)]:
        chunks = chunk_bytes(size, n)
        assert sum(chunks) == size and len(chunks) == n and max(chunks) - min(chunks) <= 1
    with pytest.raises(ValueError):
        chunk_bytes(10, 0)


# -- placement ---------------------------------------------------------------------------------------

HOSTS = [(f"s{s}h{h}", s) for s in range(2) for h in range(4)]


def test_jobs_get_disjoint_hosts_and_spread_alternates_segments() -> None:
    jobs = place_jobs(HOSTS, [JobSpec("a", 4, 100), JobSpec("b", 4, 100)], Placement.SPREAD)
    assert not set(jobs[0].hosts) & set(jobs[1].hosts)
    segment = dict(HOSTS)
    for job in jobs:
        assert [segment[h] for h in job.hosts] == [0, 1, 0, 1]


def test_packed_fills_a_segment_before_the_next() -> None:
    jobs = place_jobs(HOSTS, [JobSpec("a", 2, 100), JobSpec("b", 4, 100)], Placement.PACKED)
    segment = dict(HOSTS)
    assert [segment[h] for h in jobs[0].hosts] == [0, 0]
    assert [segment[h] for h in jobs[1].hosts] == [0, 0, 1, 1]


def test_placement_refuses_more_ranks_than_hosts_and_repeated_names() -> None:
    with pytest.raises(ValueError, match="need 9 hosts; the fabric has 8"):
        place_jobs(HOSTS, [JobSpec("a", 5, 1), JobSpec("b", 4, 1)])
    with pytest.raises(ValueError, match="names must differ"):
        place_jobs(HOSTS, [JobSpec("a", 1, 1), JobSpec("a", 1, 1)])


# -- queue pairs and programs -----------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_programs_post_what_the_schedule_sends_split_over_rails_and_planes(algorithm: Algorithm) -> None:
    jobs = place_jobs(HOSTS, [JobSpec("a", 4, 60_000, algorithm), JobSpec("b", 4, 60_000, algorithm)])
    plan = build_plan(jobs, rails=2, planes=2, payload_bytes=1000)
    assert len(plan.programs) == 2 * 2 * 4
    assert len({q.qpn for q in plan.qps}) == len(plan.qps)
    posted = {q.index: 0 for q in plan.qps}
    for program in plan.programs:
        for step in program.steps:
            for qi, count in step.sends:
                assert plan.qps[qi].src == program.host and plan.qps[qi].rail == program.rail
                posted[qi] += count
    assert posted == {q.index: q.packets for q in plan.qps}
    schedule = allreduce(algorithm, 4, 15_000)  # 60 kB over 2 rails, per rail
    per_rail_plane = [math.ceil(b / 2 / 1000) for b in bytes_sent_per_rank(4, schedule)]
    assert sum(q.packets for q in plan.qps if q.job == "a" and q.rail == 0 and q.plane == 0) >= sum(
        per_rail_plane
    )


def test_a_rank_awaits_each_inbound_queue_pair_up_to_its_steps_cumulative_packets() -> None:
    jobs = place_jobs(HOSTS, [JobSpec("a", 4, 40_000)])
    plan = build_plan(jobs, rails=1, planes=2, payload_bytes=1000)
    rank0 = next(p for p in plan.programs if p.rank == 0)
    assert len(rank0.steps) == 6
    for qi, _ in rank0.steps[0].awaits:
        q = plan.qps[qi]
        assert q.dst == rank0.host and q.src == jobs[0].hosts[3]
    needs = [dict(step.awaits) for step in rank0.steps]
    for qi in needs[0]:
        assert [n[qi] for n in needs] == [5 * (k + 1) for k in range(6)]  # 10 kB chunks, 5 packets a plane


# -- source ports ---------------------------------------------------------------------------------


def test_random_ports_are_rocev2_ports_repeatable_per_seed() -> None:
    plan = build_plan(place_jobs(HOSTS, [JobSpec("a", 4, 40_000)]), 1, 2, 1000)
    a, b, c = random_ports(plan, 1), random_ports(plan, 1), random_ports(plan, 2)
    assert a == b != c
    assert len(a) == len(plan.qps) and all(p in ROCEV2_SOURCE_PORTS for p in a)


def test_planned_ports_place_each_queue_pair_from_its_nic_port_to_its_peer() -> None:
    fabric = load_fabric(TOPOLOGY)
    hosts = [(h.name, h.segment) for h in fabric.hosts]
    plan = build_plan(place_jobs(hosts, [JobSpec("a", 4, 80_000), JobSpec("b", 4, 80_000)]), 1, 2, 1000)
    wanted = demands(plan)
    assert [(d.qp, d.nic_port, d.size) for d in wanted] == [
        (q.qpn, q.plane, q.packets * 1000) for q in plan.qps
    ]
    sports, placed = planned_ports(plan, PathPredictor.for_view(fabric, lb_mode=LbMode.ECMP))
    assert sports == tuple(f.sport for f in placed.flows)
    for q, flow in zip(plan.qps, placed.flows, strict=True):
        assert flow.path.source == NicPort(q.src, q.rail, q.plane)
        assert flow.path.delivered_to == NicPort(q.dst, q.rail, q.plane)
        assert flow.path.flow.qp == q.qpn


# -- metrics -------------------------------------------------------------------------------------------


def test_bus_bandwidth_is_algorithm_bandwidth_times_2_n_minus_1_over_n() -> None:
    assert algorithm_bandwidth(1000, 2.0) == 500
    assert bus_factor(4) == 1.5 and bus_factor(1) == 0
    assert bus_bandwidth(1000, 4, 2.0) == 750
    assert bus_bandwidth(1000, 8, 1.0) == 1750
    with pytest.raises(ValueError):
        algorithm_bandwidth(1000, 0.0)


def test_link_balance_spread_and_reduction() -> None:
    balance = LinkBalance.of({"a": 300, "b": 100, "c": 200})
    assert (balance.links, balance.max_bytes, balance.mean_bytes, balance.max_over_mean) == (3, 300, 200, 1.5)
    assert math.isnan(LinkBalance.of({"a": 0}).max_over_mean)
    assert Spread.of([3.0, 1.0, 2.0, 10.0, 4.0]) == Spread(5, 3.0, 10.0)
    assert reduction(10.0, 6.0) == pytest.approx(0.4)


# -- packets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qpn", "psn", "seq", "sent"), [(1, 0, 0, 0), (77, 5, 5000, 123), (2**24 - 1, 2**25 + 3, 2**40, 2**63)]
)
def test_template_packets_are_hpcc_data_packets_byte_for_byte(
    qpn: int, psn: int, seq: int, sent: int
) -> None:
    template = DataTemplate(qpn, 1000)
    template.packet(9, 9, 9)  # an earlier packet leaves nothing behind
    expected = DataPacket(qpn, psn & 0xFFFFFF, seq, sent, 1000, IntStack()).encode()
    assert template.packet(psn, seq, sent) == expected
    decoded = decode_message(expected)
    assert isinstance(decoded, DataPacket)
    assert peek_data(expected) == (decoded.qpn, decoded.seq) == (qpn, seq)


def test_peek_reads_no_ack_and_no_short_packet() -> None:
    ack = Ack(5, 1, AckKind.ACK, 1000, 0, IntStack()).encode()
    assert peek_data(ack) is None
    assert peek_data(DataTemplate(5, 1000).packet(0, 0, 0)[:60]) is None


# -- the report ------------------------------------------------------------------------------------


def _run(plan: CollectivePlan, seconds: list[float | None], carried: dict[SwitchPort, int]) -> CollectiveRun:
    generated = GeneratorRun(plan, Transport(), [], [], 0.0, False)
    jobs = [
        JobOutcome(job.name, "ring", 4, job.spec.size, s, None, None)
        for job, s in zip(plan.jobs, seconds, strict=True)
    ]
    return CollectiveRun(generated, jobs, carried)


def test_the_report_compares_the_last_jobs_completion_and_counts_only_complete_runs() -> None:
    fabric = load_fabric(TOPOLOGY)
    hosts = [(h.name, h.segment) for h in fabric.hosts]
    plan = build_plan(place_jobs(hosts, [JobSpec("a", 4, 8000), JobSpec("b", 4, 8000)]), 1, 2, 1000)
    ups = uplinks(fabric)
    even = dict.fromkeys(ups, 100)
    skewed = {**dict.fromkeys(ups, 0), **dict.fromkeys(ups[:2], 200)}  # two of one ToR's four
    ecmp = CaseResult(Case(PathMode.ECMP, Algorithm.RING, "several"), plan)
    ecmp.runs = [
        _run(plan, [8.0, 10.0], skewed),
        _run(plan, [9.0, 12.0], skewed),
        _run(plan, [None, 1.0], even),
    ]
    planned = CaseResult(Case(PathMode.PLANNED, Algorithm.RING, "several"), plan)
    planned.runs = [_run(plan, [5.0, 6.0], even), _run(plan, [6.0, 5.5], even)]
    assert ecmp.completion() == Spread(2, 11.0, 12.0)  # the incomplete run is left out
    assert planned.completion() == Spread(2, 6.0, 6.0)
    assert planned.uplink_ratio(fabric) == Spread(2, 1.0, 1.0)
    assert ecmp.uplink_ratio(fabric) == Spread(3, 2.0, 2.0)
    comparison = Comparison(Transport(), Placement.SPREAD, [ecmp, planned])
    (line,) = report.targets(comparison, fabric, "several")
    assert "cuts the median completion time by 45%" in line and "(target >= 30%: met)" in line
    assert "worst 50%" in line and "uplink max/mean 1.00 (target <= 1.1: met)" in line
    assert len(report.table(comparison, fabric)) == 2 + 2

"""The collective generator's loop on real sockets, without a fabric: every "host" is an
address on the loopback of one namespace the test creates (needs root; no bmv2).

What is checked is what the loop does with packets: every queue pair delivers exactly
its packets, ranks finish their steps in order, and a rank whose data does not arrive
never posts its next step (so neither does anyone waiting on it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest

from hpn.emulation.traffic import EmulatedNic
from hpn.experiments.collectives.generator import Generator, Transport
from hpn.experiments.collectives.placement import JobSpec, place_jobs
from hpn.experiments.collectives.program import build_plan
from hpn.experiments.collectives.schedule import Algorithm
from hpn.netlab.netns import Netns, require_tools

needs_root = pytest.mark.skipif(bool(require_tools()), reason="; ".join(require_tools()) or "ok")
HOSTS = [(f"h{i}", i % 2) for i in range(8)]
PAYLOAD = 1000
TRANSPORT = Transport(line_rate_pps=2000, timeout_s=60)
"""The timeout bounds a broken run; nothing asserted depends on how long a run takes."""


@pytest.fixture
def namespaces() -> Iterator[tuple[Netns, Netns]]:
    """Two namespaces: the hosts' and, for the stall test, an unreachable one."""
    made = []
    try:
        for kind in ("a", "b"):
            ns = Netns(f"hpncg{kind}{os.getpid() % 100000}")
            ns.create()
            made.append(ns)
        yield made[0], made[1]
    finally:
        for ns in made:
            ns.delete()


def loopback_nics(main: Netns, elsewhere: Netns, away: set[str]) -> dict[tuple[str, int], EmulatedNic]:
    """Every host an address on a loopback: `main`'s, or for the hosts in `away`, `elsewhere`'s
    (no route leads there, nor back)."""
    out = {}
    for i, (host, segment) in enumerate(HOSTS):
        ns = elsewhere if host in away else main
        ip = f"10.77.0.{i + 1}"
        ns.ip("addr", "add", f"{ip}/32", "dev", "lo")
        out[(host, 0)] = EmulatedNic(host, 0, segment, IPv4Address(ip), ns.name, ("lo", "lo"))
    return out


@needs_root
@pytest.mark.root
@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_two_jobs_complete_with_every_packet_delivered_once_and_steps_in_order(
    namespaces: tuple[Netns, Netns], algorithm: Algorithm
) -> None:
    nics = loopback_nics(*namespaces, away=set())
    jobs = place_jobs(HOSTS, [JobSpec("a", 4, 24_000, algorithm), JobSpec("b", 4, 24_000, algorithm)])
    plan = build_plan(jobs, rails=1, planes=2, payload_bytes=PAYLOAD)
    sports = tuple(50_000 + i for i in range(len(plan.qps)))
    with Generator(plan, nics, sports, TRANSPORT) as generator:
        run = generator.run()
    assert not run.stopped and run.stalls() == []
    assert [(c.sent, c.delivered, c.duplicates) for c in run.qps] == [
        (q.packets, q.packets, 0) for q in plan.qps
    ]
    for rank in run.ranks:
        assert rank.done and rank.step_done_ns == sorted(rank.step_done_ns)
    for job in jobs:
        ranks = [r for r in run.ranks if r.program.job == job.name]
        assert run.job_done_ns(job.name) == max(r.step_done_ns[-1] for r in ranks)


@needs_root
@pytest.mark.root
def test_a_rank_whose_data_never_arrives_never_posts_its_next_step(namespaces: tuple[Netns, Netns]) -> None:
    """Ring a: ranks h0 h1 h2 h3, h1 in a namespace no route leads to or from: nothing
    reaches h1 and nothing from it arrives. h2 then never gets its step-0 data (from h1),
    so it sends step 0 only; h3 gets step 0 from h2 and sends steps 0 and 1; h0 gets those
    and sends steps 0, 1 and 2 (to h1, in vain)."""
    nics = loopback_nics(*namespaces, away={"h1"})
    jobs = place_jobs(HOSTS, [JobSpec("a", 4, 16_000)])
    plan = build_plan(jobs, rails=1, planes=1, payload_bytes=PAYLOAD)
    assert jobs[0].hosts == ("h0", "h1", "h2", "h3")
    sports = tuple(50_000 + i for i in range(len(plan.qps)))
    per_step = 4  # 16 kB / 4 ranks, one plane: 4 packets a step
    with Generator(plan, nics, sports, Transport(line_rate_pps=2000, timeout_s=3)) as generator:
        run = generator.run()
    sent = {(c.qp.src, c.qp.dst): c.sent for c in run.qps}
    assert sent[("h1", "h2")] == per_step  # posted at the start, lost on the way
    assert sent[("h2", "h3")] == per_step
    assert sent[("h3", "h0")] == 2 * per_step
    assert sent[("h0", "h1")] == 3 * per_step
    assert run.job_done_ns("a") is None
    assert {len(r.step_done_ns) for r in run.ranks if r.program.host in ("h1", "h2")} == {0}
    assert len(run.stalls()) == 4

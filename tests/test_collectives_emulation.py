"""The collective generator on the emulated fabric (Mininet + bmv2; marked `emulation`).

Two jobs of a ring all-reduce on topologies/hpn-collectives.yaml, with every switch port
at its link's rate: with random source ports (ECMP) and with ports planned by hpn.paths.
Each run must complete with every packet delivered once, and the switches' port
counters must show the traffic where hpn.paths predicts it: every ToR uplink carries
whole data frames, exactly as many as the queue pairs predicted onto it. The demo's
collectives check (hpn.experiments.demo.collectives_check) passes on the same fabric.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from hpn.emulation.checks.base import Lab
from hpn.emulation.emulation import Emulation, missing_prerequisites
from hpn.emulation.emulation_controller import EmulationController
from hpn.experiments.collectives import (
    CollectivePlan,
    CollectiveRun,
    JobSpec,
    PathMode,
    Transport,
    build_plan,
    place_jobs,
    planned_ports,
    random_ports,
    run_collectives,
    shaped_fabric,
    uplinks,
)
from hpn.experiments.demo.collectives_check import DEMO_SETTINGS, CollectivesResult, collective_jobs
from hpn.netlab.bmv2 import cli_missing
from hpn.paths.flow import Flow
from hpn.paths.predict import PathPredictor
from hpn.routing.state import LbMode
from hpn.topology.loader import load_fabric
from hpn.topology.model import NicPort, SwitchPort

TOPO = Path(__file__).resolve().parents[1] / "topologies" / "hpn-collectives.yaml"
TIMEOUT = 300.0
TRANSPORT = Transport(line_rate_pps=200, timeout_s=120)


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulation]:
    missing = missing_prerequisites() + [m for m in [cli_missing()] if m]
    if missing:
        pytest.skip("; ".join(missing))
    root = tmp_path_factory.mktemp("coll")
    text = TOPO.read_text().replace("name: hpn-collectives", "name: hpn-e2e-coll")
    topo = root / "hpn-e2e-coll.yaml"
    topo.write_text(text)
    fabric = load_fabric(topo)
    emulation = Emulation(fabric, topo, root / fabric.name)
    if emulation.leftovers():
        emulation.down()
    emulation.up()
    try:
        yield emulation
    finally:
        emulation.down()


def predicted_uplink_packets(
    plan: CollectivePlan, sports: tuple[int, ...], predictor: PathPredictor
) -> dict[SwitchPort, int]:
    fabric = predictor.fabric
    up = set(uplinks(fabric))
    out = dict.fromkeys(up, 0)
    for q, sport in zip(plan.qps, sports, strict=True):
        src, dst = fabric.nic(q.src, q.rail), fabric.nic(q.dst, q.rail)
        assert src is not None and dst is not None
        flow = Flow(IPv4Address(src.ip), IPv4Address(dst.ip), sport, qp=q.qpn)
        path = predictor.predict(flow, NicPort(q.src, q.rail, q.plane))
        assert path.ok, path.stopped
        for link in path.links():
            if link in up:
                out[link] += q.packets
    return out


def check(run: CollectiveRun, plan: CollectivePlan, predicted: dict[SwitchPort, int]) -> None:
    assert run.complete, run.run.stalls()
    assert [(c.delivered, c.duplicates) for c in run.run.qps] == [(q.packets, 0) for q in plan.qps]
    carried = run.link_bytes
    frames = {carried[link] // n for link, n in predicted.items() if n}
    assert len(frames) == 1, f"the uplinks carried frames of different sizes: {frames}"
    frame = frames.pop()
    assert {link: carried[link] for link in predicted} == {link: n * frame for link, n in predicted.items()}


@pytest.mark.emulation
@pytest.mark.root
def test_two_ring_jobs_complete_and_every_uplink_carries_what_was_predicted(emu: Emulation) -> None:
    fabric = emu.fabric
    hosts = [(h.name, h.segment) for h in fabric.hosts]
    plan = build_plan(place_jobs(hosts, [JobSpec("a", 4, 48_000), JobSpec("b", 4, 48_000)]), 1, 2, 1000)
    predictor = PathPredictor.for_view(fabric, lb_mode=LbMode.ECMP)

    async def main() -> list[tuple[CollectiveRun, dict[SwitchPort, int]]]:
        async with EmulationController(emu) as ctl:
            await ctl.wait_connected()
            report = await ctl.set_lb_mode(LbMode.ECMP)
            assert report.ok, report.errors
            lab = Lab(emu, ctl)
            out = []
            with shaped_fabric(emu, TRANSPORT.line_rate_pps, TRANSPORT.nic_gbps):
                for sports in (random_ports(plan, seed=1), planned_ports(plan, predictor)[0]):
                    run = await run_collectives(lab, plan, sports, TRANSPORT)
                    out.append((run, predicted_uplink_packets(plan, sports, predictor)))
            return out

    runs = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    for run, predicted in runs:
        check(run, plan, predicted)
    planned = runs[1][1]
    busy = {link.switch for link, n in planned.items() if n}
    for tor in busy:  # the planner spreads each ToR's queue pairs over all four uplinks
        assert len({n for link, n in planned.items() if link.switch == tor}) == 1


@pytest.mark.emulation
@pytest.mark.root
def test_the_demos_collectives_check_passes_with_its_bytes_conserved(emu: Emulation, tmp_path: Path) -> None:
    """ECMP and planned ports only, half the demo's buffer: what the check asserts, not its timing."""
    settings = dataclasses.replace(DEMO_SETTINGS, size=48_000, modes=(PathMode.ECMP, PathMode.PLANNED))

    async def main() -> CollectivesResult:
        async with EmulationController(emu) as ctl:
            await ctl.wait_connected()
            return await collective_jobs(Lab(emu, ctl), tmp_path / "collectives.png", settings)

    result = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    assert result.ok, result.problems
    assert [o.mode for o in result.outcomes] == [PathMode.ECMP, PathMode.PLANNED]
    planned = result.outcomes[1]
    assert planned.uplink_ratio == pytest.approx(1.0) and planned.completion is not None

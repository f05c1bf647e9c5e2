"""The source-port planner: every uplink and downlink at its share, on both targets."""

from __future__ import annotations

import math

import pytest

from hpn.paths.flow import Flow
from hpn.paths.load import Direction
from hpn.paths.planner import FlowDemand, Plan, plan_source_ports, random_source_ports
from hpn.paths.predict import PathPredictor, predict_path
from hpn.pipeline import Target
from hpn.routing.failures import FailureView
from hpn.topology.loader import load_fabric_text
from hpn.topology.model import Fabric, SwitchPort

FABRIC = """
kind: hpn
name: planner-4agg
segments: 2
hosts_per_segment: 8
rails: 1
planes: 2
aggs_per_plane: 4
speeds: {host_gbps: 200, fabric_gbps: 400}
addressing: {base: 10.0.0.0/8}
lb: {mode: ecmp}
"""
MB = 1 << 20


@pytest.fixture(scope="module")
def fabric() -> Fabric:
    return load_fabric_text(FABRIC, "planner-4agg.yaml")


def striding_ring(fabric: Fabric, size: int = MB) -> list[FlowDemand]:
    """Host i of segment 0 -> host i of segment 1 -> host i + 1 of segment 0 ...: every
    flow crosses the fabric; on NIC port 0 (plane 0)."""
    seg0 = [h for h in fabric.hosts if h.segment == 0]
    seg1 = [h for h in fabric.hosts if h.segment == 1]
    order = [h for pair in zip(seg0, seg1, strict=True) for h in pair]
    return [
        FlowDemand((h.name, 0), (order[(k + 1) % len(order)].name, 0), size, 0, qp=k)
        for k, h in enumerate(order)
    ]


def uplink_flows(plan: Plan) -> dict[SwitchPort, int]:
    return {r.link: r.bytes // MB for r in plan.links if r.direction is Direction.UP}


@pytest.mark.parametrize("target", [Target.BMV2, Target.TOFINO])
def test_planned_ports_put_every_link_at_its_share(fabric: Fabric, target: Target) -> None:
    predictor = PathPredictor.for_view(fabric, target=target)
    plan = plan_source_ports(predictor, striding_ring(fabric))
    assert not plan.undelivered
    # 8 flows up from each ToR over 4 uplinks, and 8 down into each over 4 aggs: 2 each
    assert sorted(set(uplink_flows(plan).values())) == [2]
    assert len(uplink_flows(plan)) == 2 * 4
    for direction in Direction:
        assert plan.balance(direction).max_over_share == 1.0
        assert plan.balance(direction).max_over_mean == 1.0


def test_planned_ports_give_the_planned_paths(fabric: Fabric) -> None:
    predictor = PathPredictor.for_view(fabric)
    plan = plan_source_ports(predictor, striding_ring(fabric))
    for planned in plan.flows:
        src = fabric.nic(*planned.demand.src)
        dst = fabric.nic(*planned.demand.dst)
        assert src is not None and dst is not None
        flow = Flow(src.ip, dst.ip, planned.sport, qp=planned.demand.qp)
        assert predict_path(fabric, flow, planned.demand.nic_port).hops == planned.path.hops


def test_random_ports_are_the_ecmp_baseline(fabric: Fabric) -> None:
    predictor = PathPredictor.for_view(fabric)
    demands = striding_ring(fabric)
    worst = max(random_source_ports(predictor, demands, seed=s).balance().max_over_share for s in range(5))
    # five draws of 16 flows over 8 uplinks: some uplink gets more than its 2 flows
    assert worst > 1.0
    assert plan_source_ports(predictor, demands).balance().max_over_share == 1.0


@pytest.mark.parametrize("controller_knows", [True, False])
def test_a_failed_uplink_gets_no_flow_and_the_rest_share(fabric: Fabric, controller_knows: bool) -> None:
    dead = SwitchPort("tor-s0-r0-p0", 129)
    view = FailureView.parse(fabric, [str(dead)])
    predictor = PathPredictor.for_view(fabric, view, controller_knows=controller_knows)
    plan = plan_source_ports(predictor, striding_ring(fabric))
    assert not plan.undelivered
    assert all(dead not in f.path.links() for f in plan.flows)
    flows_up = {link: n for link, n in uplink_flows(plan).items() if link.switch == dead.switch}
    assert len(flows_up) == 3 and max(flows_up.values()) == math.ceil(8 / 3)


def test_larger_flows_are_placed_first(fabric: Fabric) -> None:
    demands = striding_ring(fabric)
    # one ToR sends 4 large flows and 4 small ones: the large ones get an uplink each
    sized = [
        FlowDemand(d.src, d.dst, 8 * MB if k < 8 and k % 2 == 0 else MB, d.nic_port, d.dport, d.qp)
        for k, d in enumerate(demands)
    ]
    plan = plan_source_ports(PathPredictor.for_view(fabric), sized)
    large_uplinks = [f.path.links()[0] for f in plan.flows if f.demand.size == 8 * MB]
    assert len(large_uplinks) == len(set(large_uplinks)) == 4


def test_flows_under_one_tor_use_no_fabric_link(fabric: Fabric) -> None:
    hosts = [h for h in fabric.hosts if h.segment == 0]
    demands = [FlowDemand((hosts[0].name, 0), (hosts[1].name, 0), MB)]
    plan = plan_source_ports(PathPredictor.for_view(fabric), demands)
    assert plan.flows[0].path.ok and len(plan.flows[0].path.hops) == 1
    assert plan.links == ()

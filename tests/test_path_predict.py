"""Path prediction: each switch's choice re-derived by hand, and what failures change."""

from __future__ import annotations

import zlib
from collections import Counter
from ipaddress import IPv4Address, IPv4Network

import pytest

from hpn.paths.flow import Flow
from hpn.paths.hashing import KeyHashes
from hpn.paths.predict import PathPredictor, predict_path, switch_egress
from hpn.paths.switch_model import SwitchModel
from hpn.pipeline import Target
from hpn.pipeline.buckets import layout
from hpn.pipeline.drop_reasons import DropReason
from hpn.routing.failures import FailureView
from hpn.routing.state import Group, LbMode, LbParams, PortConfig, Route, SwitchState
from hpn.topology.loader import load_fabric_text
from hpn.topology.model import Fabric, NicPort, SwitchPort

FABRIC = """
kind: hpn
name: paths-4agg
segments: 2
hosts_per_segment: 3
rails: 2
planes: 2
aggs_per_plane: 4
speeds: {host_gbps: 200, fabric_gbps: 400}
addressing: {base: 10.0.0.0/8}
lb: {mode: ecmp}
"""
MEMBERS = (2, 3, 4, 5)
SEED = 0x5EED
SRC, DST = IPv4Address("10.0.0.1"), IPv4Address("10.1.0.9")


@pytest.fixture(scope="module")
def fabric() -> Fabric:
    return load_fabric_text(FABRIC, "paths-4agg.yaml")


def one_switch(mode: LbMode = LbMode.ECMP, members: tuple[int, ...] = MEMBERS) -> SwitchState:
    """A switch routing 10.1.0.0/24 in plane 0 to group 1 over `members`."""
    return SwitchState(
        name="sw",
        switch_mac="02:00:00:00:00:fe",
        routes=(Route(0, IPv4Network("10.1.0.0/24"), 1),),
        groups=(Group(1, mode, frozenset(members)),),
        ports=tuple(PortConfig(p, 0, f"peer{p}", f"02:00:00:00:01:{p:02x}") for p in range(8)),
        lb=LbParams(hash_seed=SEED),
    )


def flows(n: int, base: int = 20000) -> list[Flow]:
    return [Flow(SRC, DST, base + i, 5678) for i in range(n)]


def by_hand(flow: Flow, mode: LbMode = LbMode.ECMP, down: frozenset[int] = frozenset()) -> int | None:
    """bmv2's choice for `one_switch`, worked out from the P4 source's arithmetic alone."""
    key = flow.src.packed + flow.dst.packed + bytes([17]) + flow.sport.to_bytes(2, "big")
    key += flow.dport.to_bytes(2, "big") + bytes(3)
    h = zlib.crc32(key)
    if mode is not LbMode.ECMP:
        h ^= 0x00010001  # the salt of flowlet id 1
    x = ((h ^ SEED) * 0x9E3779B1) % 2**32
    buckets = layout(MEMBERS)
    bucket = (x >> 24) % len(buckets.pairs)
    pick = 1 if not x & (1 << 23) else 5
    # selector members: the sentinel, then the live pair members by handle (port order)
    members = [None, *sorted(p for p in buckets.pairs[bucket] if p not in down)]
    return members[pick % len(members)]


@pytest.mark.parametrize("mode", [LbMode.ECMP, LbMode.FLOWLET])
def test_bmv2_switch_choice_matches_the_hand_derivation(mode: LbMode) -> None:
    sample = flows(500)
    predicted = switch_egress(one_switch(mode), sample, in_port=0)
    assert predicted == [by_hand(f, mode) for f in sample]
    assert set(predicted) == set(MEMBERS)


def test_a_dead_member_moves_only_its_own_flows() -> None:
    sample = flows(1000)
    before = switch_egress(one_switch(), sample, in_port=0)
    after = switch_egress(one_switch(), sample, in_port=0, down_ports=[4])
    assert after == [by_hand(f, down=frozenset({4})) for f in sample]
    moved = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert moved and all(b == 4 for b, _ in moved)
    assert 4 not in after
    assert {a for _, a in moved} == set(MEMBERS) - {4}


def test_a_bucket_without_live_members_drops_on_bmv2() -> None:
    model = SwitchModel(one_switch(members=(2, 3)), Target.BMV2, down_ports=[2, 3])
    decision = model.decide(0, int(DST), KeyHashes(flows(1)[0]))
    assert decision.out_port is None and decision.drop is DropReason.NO_LIVE_MEMBER


def test_spray_and_a_tofino_flowlet_without_its_id_are_not_predicted() -> None:
    spray = SwitchModel(one_switch(LbMode.SPRAY))
    hashes = KeyHashes(flows(1)[0])
    assert spray.decide(0, int(DST), hashes).unknown
    tofino = SwitchModel(one_switch(LbMode.FLOWLET), Target.TOFINO)
    assert tofino.decide(0, int(DST), hashes).unknown
    assert tofino.decide(0, int(DST), hashes, flowlet_id=0x1000).out_port in MEMBERS


def test_route_miss_and_unknown_plane_are_the_programs_drops() -> None:
    model = SwitchModel(one_switch())
    other = Flow(SRC, IPv4Address("10.9.0.1"), 1, 2)
    assert model.decide(0, int(other.dst), KeyHashes(other)).drop is DropReason.NO_ROUTE
    assert model.decide(99, int(DST), KeyHashes(other)).drop is DropReason.NO_PLANE


def _nic_flows(fabric: Fabric, n: int) -> list[tuple[Flow, int]]:
    """n flows from host-s0-h0's rail-0 NIC to NICs of segment 1, over both planes."""
    src = fabric.nic("host-s0-h0", 0)
    dsts = [nic for host, nic in fabric.nics() if host.segment == 1]
    assert src is not None
    return [(Flow(src.ip, dsts[i % len(dsts)].ip, 49152 + i, qp=i), i % 2) for i in range(n)]


@pytest.mark.parametrize("target", [Target.BMV2, Target.TOFINO])
def test_every_flow_reaches_its_nic_in_the_plane_it_was_sent_in(fabric: Fabric, target: Target) -> None:
    predictor = PathPredictor.for_view(fabric, target=target)
    uplinks: Counter[SwitchPort] = Counter()
    for flow, port in _nic_flows(fabric, 400):
        path = predictor.predict(flow, predictor.source_port(flow, port))
        assert path.ok, path.stopped
        assert path.delivered_to is not None
        assert fabric.nic(path.delivered_to.host, path.delivered_to.rail).ip == flow.dst  # type: ignore[union-attr]
        assert path.delivered_to.port == port
        assert [fabric.switch(h.switch).plane for h in path.hops] == [port] * 3
        for a, b in zip(path.hops, path.hops[1:], strict=False):
            assert fabric.peer(a.switch, a.out_port) == SwitchPort(b.switch, b.in_port)  # type: ignore[arg-type]
        uplinks[path.links()[0]] += 1
    # every uplink of both ToRs is used: the choice is the hash's, not one fixed port
    assert len(uplinks) == 2 * 4


@pytest.mark.parametrize("controller_knows", [True, False])
def test_a_failed_uplink_moves_only_the_flows_that_crossed_it(fabric: Fabric, controller_knows: bool) -> None:
    intact = PathPredictor.for_view(fabric)
    sample = _nic_flows(fabric, 400)
    before = [intact.predict(f, intact.source_port(f, p)) for f, p in sample]
    dead = before[0].links()[0]  # the first flow's uplink
    view = FailureView.parse(fabric, [str(dead)])
    failed = PathPredictor.for_view(fabric, view, controller_knows=controller_knows)
    after = [failed.predict(f, failed.source_port(f, p)) for f, p in sample]
    crossed = 0
    for b, a in zip(before, after, strict=True):
        assert a.ok
        assert dead not in a.links()
        if dead in b.links():
            crossed += 1
        else:
            assert a.hops == b.hops
    assert crossed > 10


def test_predict_path_names_a_dropped_nic_link(fabric: Fabric) -> None:
    flow = _nic_flows(fabric, 1)[0][0]
    view = FailureView.parse(fabric, ["host-s0-h0/nic0/p0"])
    path = predict_path(fabric, flow, 0, view=view)
    assert not path.ok and path.stopped is not None and "down" in path.stopped
    assert predict_path(fabric, flow, 1, view=view).delivered_to == NicPort("host-s1-h0", 0, 1)

"""Routing properties on the mini fabrics (exhaustively) and on the full HPN pod.

Reachability is judged from the computed state itself: `hpn.routing.reach`
walks the groups like the data plane does, and `_paths` below is an
independent, naive walk that lists every path of a few pairs.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from hpn.routing.compute import compute_fabric_state, hash_seed
from hpn.routing.failures import FailureView
from hpn.routing.groups import MAX_GROUPS
from hpn.routing.plan import plan_json, state_text, summarize, summary_text
from hpn.routing.reach import ReachReport, physical_cut, reachability
from hpn.routing.state import PORT_LIMIT, LbMode, LinkRate, SwitchState
from hpn.topology import Fabric, NicPort, Role, SwitchPort, load_fabric, load_fabric_text
from hpn.topology.model import Link

TOPOLOGIES = Path(__file__).resolve().parent.parent / "topologies"
States = dict[str, SwitchState]


@pytest.fixture(scope="module")
def mini() -> Fabric:
    return load_fabric(TOPOLOGIES / "hpn-mini.yaml")


@pytest.fixture(scope="module")
def merged() -> Fabric:
    return load_fabric(TOPOLOGIES / "hpn-mini-merged.yaml")


@pytest.fixture(scope="module")
def pod() -> Fabric:
    return load_fabric(TOPOLOGIES / "hpn-pod.yaml")


@pytest.fixture(scope="module")
def pod_states(pod: Fabric) -> States:
    return compute_fabric_state(pod)


def _assert_all_reachable(report: ReachReport, what: str) -> None:
    assert report.plane_crossings == (), what
    assert report.faults == (), what
    assert report.unreachable == 0, f"{what}: {report.unreachable} pairs cut, e.g. {report.examples}"
    assert report.physical_cut == 0, what


def _single_failures(fabric: Fabric) -> Iterator[FailureView]:
    for link in fabric.links:
        yield FailureView(links=frozenset({link}))
    for sw in fabric.switches:
        yield FailureView(switches=frozenset({sw.name}))


def _route_group(state: SwitchState, prefix: str) -> set[int] | None:
    """Member ports of the route for `prefix`, None without one."""
    groups = {g.group_id: g.ports for g in state.groups}
    for route in state.routes:
        if str(route.prefix) == prefix:
            return set(groups[route.group_id])
    return None


def _live(state: SwitchState) -> set[int] | None:
    return None if state.live_ports is None else set(state.live_ports)


# -- an independent, naive path walk --------------------------------------------------------


def _lookup(state: SwitchState, plane: int, ip: IPv4Address) -> frozenset[int] | None:
    best = None
    for route in state.routes:
        if route.plane == plane and ip in route.prefix and (best is None or route.prefix.prefixlen > best[0]):
            best = (route.prefix.prefixlen, route.group_id)
    if best is None:
        return None
    ports = next(g.ports for g in state.groups if g.group_id == best[1])
    live = ports if state.live_ports is None else ports & state.live_ports
    return frozenset(p for p in live if state.plane_ports()[plane] >= {p})


def _paths(fabric: Fabric, states: States, src: NicPort, dst: IPv4Address) -> list[list[str]]:
    """Every path a packet from `src` to `dst` can take; a path ends with the NIC port reached or 'DROP'."""
    first = fabric.nic_switch_port(src)
    assert first is not None
    out: list[list[str]] = []

    def walk(hop: SwitchPort, path: list[str]) -> None:
        state = states.get(hop.switch)
        if state is None or len(path) > 8:
            out.append([*path, "DROP"])
            return
        plane = next(p.plane for p in state.ports if p.port == hop.port)
        ports = _lookup(state, plane, dst)
        if not ports:
            out.append([*path, hop.switch, "DROP"])
            return
        for port in sorted(ports):
            peer = fabric.peer(hop.switch, port)
            if isinstance(peer, SwitchPort):
                walk(peer, [*path, hop.switch])
            else:
                out.append([*path, hop.switch, str(peer)])

    walk(first, [])
    return out


def _check_paths(fabric: Fabric, states: States, src: NicPort, host: str, rail: int) -> None:
    nic = fabric.nic(host, rail)
    assert nic is not None
    paths = _paths(fabric, states, src, nic.ip)
    assert paths
    for path in paths:
        # delivered to the destination NIC on the port of the plane it was sent on
        assert path[-1] == str(NicPort(host, rail, src.port)), path
        # never leaves the plane of the source port: ToR (-> agg -> ToR)
        assert all(fabric.switch(sw).plane == src.port for sw in path[:-1]), path
        assert len(path) - 1 in (1, 3), path
        roles = [fabric.switch(sw).role for sw in path[:-1]]
        assert roles in ([Role.TOR], [Role.TOR, Role.AGG, Role.TOR]), path


def test_naive_walk_on_every_mini_pair(mini: Fabric) -> None:
    states = compute_fabric_state(mini)
    nics = [(h.name, n.rail) for h, n in mini.nics()]
    for host, rail in nics:
        for port in (0, 1):
            for dst_host, dst_rail in nics:
                if (dst_host, dst_rail) != (host, rail):
                    _check_paths(mini, states, NicPort(host, rail, port), dst_host, dst_rail)


def test_naive_walk_on_sampled_pod_pairs(pod: Fabric, pod_states: States) -> None:
    rng = random.Random(2024)
    nics = [(h.name, n.rail) for h, n in pod.nics()]
    for _ in range(150):
        (host, rail), (dst_host, dst_rail) = rng.sample(nics, 2)
        _check_paths(pod, pod_states, NicPort(host, rail, rng.randrange(2)), dst_host, dst_rail)


# -- reachability: mini, every single failure ---------------------------------------------


def test_mini_all_pairs_reachable(mini: Fabric, merged: Fabric) -> None:
    for fabric in (mini, merged):
        report = reachability(fabric)
        _assert_all_reachable(report, fabric.name)
        assert report.pairs == 8 * 7 and report.degraded == 0


@pytest.mark.parametrize("name", ["hpn-mini.yaml", "hpn-mini-merged.yaml", "rig-4.yaml"])
def test_every_single_failure_keeps_pairs_connected(name: str) -> None:
    fabric = load_fabric(TOPOLOGIES / name)
    dual_homed = name != "rig-4.yaml"
    for failures in _single_failures(fabric):
        report = reachability(fabric, failures)
        assert report.plane_crossings == () and report.faults == (), failures.describe()
        if dual_homed:
            _assert_all_reachable(report, failures.describe())
        else:  # single-homed rig: only pairs the cables no longer join may be cut
            assert report.unreachable == report.physical_cut, failures.describe()


def test_losing_both_ports_of_a_nic_cuts_exactly_that_nic(mini: Fabric) -> None:
    failures = FailureView.parse(mini, links=["host-s0-h0/nic1/p0", "host-s0-h0/nic1/p1"])
    report = reachability(mini, failures)
    assert report.unreachable == report.physical_cut == 2 * 7
    assert "host-s0-h0/nic1" in report.examples[0]
    assert report.plane_crossings == () and report.faults == ()


def test_opposite_planes_down_at_both_ends_is_a_real_cut(mini: Fabric) -> None:
    """Source lost plane 1, destination lost plane 0: no plane joins them, and nothing crosses."""
    failures = FailureView.parse(mini, links=["host-s0-h0/nic0/p1", "host-s1-h1/nic0/p0"])
    report = reachability(mini, failures)
    assert report.unreachable == report.physical_cut == 2
    assert report.plane_crossings == ()


# -- reachability: the full pod ----------------------------------------------------------------


def test_pod_all_pairs_reachable(pod: Fabric, pod_states: States) -> None:
    report = reachability(pod, states=pod_states)
    _assert_all_reachable(report, "intact pod")
    assert report.nics == 15_360 and report.pairs == 15_360 * 15_359
    assert report.classes == 120  # one per (segment, rail): the walk ran 120 times, not 10^8


def _pod_failures(pod: Fabric) -> list[tuple[str, FailureView]]:
    """One deterministic sample of each failure kind, in each plane."""
    rng = random.Random(15360)
    host_links = [lk for lk in pod.links if isinstance(lk.a, NicPort)]
    fabric_links = [lk for lk in pod.links if isinstance(lk.a, SwitchPort)]
    cases: list[tuple[str, FailureView]] = []
    for plane in (0, 1):
        host_link = rng.choice([lk for lk in host_links if isinstance(lk.a, NicPort) and lk.a.port == plane])
        fabric_link = rng.choice([lk for lk in fabric_links if pod.switch(_switch(lk.a)).plane == plane])
        cases.append((f"host link {host_link}", FailureView(links=frozenset({host_link}))))
        cases.append((f"ToR-agg link {fabric_link}", FailureView(links=frozenset({fabric_link}))))
    cases.append(("ToR down", FailureView(switches=frozenset({rng.choice(pod.tors()).name}))))
    cases.append(("agg down", FailureView(switches=frozenset({rng.choice(pod.aggs()).name}))))
    return cases


def _switch(end: object) -> str:
    assert isinstance(end, SwitchPort)
    return end.switch


def test_pod_single_failures_of_every_kind(pod: Fabric) -> None:
    for what, failures in _pod_failures(pod):
        report = reachability(pod, failures)
        _assert_all_reachable(report, f"{what}: {failures.describe()}")


def test_pod_ids_ports_and_table_sizes(pod: Fabric, pod_states: States) -> None:
    _assert_bounds(pod_states)
    for tor in pod.tors():
        state = pod_states[tor.name]
        assert len(state.routes) == 128 + (15 * 8 - 1)  # host /32s + every other (segment, rail) /24
        assert len(state.groups) == 128 + 1  # one per host port + the uplink group
    for agg in pod.aggs():
        assert len(pod_states[agg.name].routes) == 15 * 8


def test_hash_seeds_differ_between_switches(pod: Fabric, pod_states: States) -> None:
    seeds = [s.lb.hash_seed for s in pod_states.values()]
    assert len(set(seeds)) == len(seeds) == 360
    assert all(0 <= s < 2**32 for s in seeds)
    assert pod_states["agg-p0-a0"].lb.hash_seed == hash_seed("agg-p0-a0")


def test_shared_objects_keep_the_pod_small(pod_states: States) -> None:
    uplink_groups = {
        id(max(s.groups, key=lambda g: len(g.ports))) for n, s in pod_states.items() if "tor" in n
    }
    assert len(uplink_groups) == 1  # 240 ToRs, one Group object for their uplink group


# -- structure of the state ---------------------------------------------------------------------


def _assert_bounds(states: States) -> None:
    for state in states.values():
        ids = [g.group_id for g in state.groups]
        assert len(set(ids)) == len(ids)
        assert all(0 < i < MAX_GROUPS for i in ids)
        assert all(0 <= p < PORT_LIMIT for g in state.groups for p in g.ports)
        assert all(p.port < PORT_LIMIT for p in state.ports)
        keys = [(g.mode, g.ports) for g in state.groups]
        assert len(set(keys)) == len(keys), f"{state.name}: duplicate groups"
        assert {r.group_id for r in state.routes} == set(ids), f"{state.name}: unused or missing groups"


def test_mini_state_shape(mini: Fabric) -> None:
    states = compute_fabric_state(mini)
    _assert_bounds(states)
    tor = states["tor-s0-r1-p1"]
    assert _route_group(tor, "10.0.1.1/32") == {1}  # host-s0-h0 on port 1
    assert _route_group(tor, "10.0.1.2/32") == {2}
    assert _route_group(tor, "10.1.1.0/24") == {129, 130}  # same rail, other segment: up
    assert _route_group(tor, "10.0.0.0/24") == {129, 130}  # other rail, same segment: up too
    assert _route_group(tor, "10.0.1.0/24") is None  # its own /24: only host routes
    assert all(r.plane == 1 for r in tor.routes)
    agg = states["agg-p1-a0"]
    assert _route_group(agg, "10.0.1.0/24") == {2}  # port 1 + segment 0 * 2 rails + rail 1
    assert _route_group(agg, "10.1.0.0/24") == {3}


def test_port_configs(mini: Fabric) -> None:
    states = compute_fabric_state(mini)
    tor = states["tor-s1-r0-p1"]
    by_port = {p.port: p for p in tor.ports}
    nic = mini.nic("host-s1-h1", 0)
    assert nic is not None
    assert by_port[2].peer == "host-s1-h1/nic0/p1" and by_port[2].neighbor_mac == nic.mac
    assert by_port[2].speed_gbps == 200 and LinkRate.from_gbps(by_port[2].speed_gbps) is LinkRate.G200
    assert by_port[130].peer == "agg-p1-a1"
    assert by_port[130].neighbor_mac == mini.switch("agg-p1-a1").mac
    assert by_port[130].speed_gbps == 400
    assert all(p.plane == 1 for p in tor.ports)
    assert all(p.ecn == mini.settings.ecn for p in tor.ports) and mini.settings.ecn is not None
    assert tor.plane_ports() == {1: frozenset({1, 2, 129, 130})}
    assert tor.lb.flowlet_gap_us == 10_000 and tor.live_ports is None


def test_lb_mode_comes_from_the_file() -> None:
    text = (TOPOLOGIES / "hpn-mini.yaml").read_text().replace("mode: ecmp", "mode: flowlet")
    states = compute_fabric_state(load_fabric_text(text, "flowlet.yaml"))
    tor = states["tor-s0-r0-p0"]
    modes = {len(g.ports): g.mode for g in tor.groups}
    assert modes == {1: LbMode.ECMP, 2: LbMode.FLOWLET}  # host ports: one member, plain ECMP
    assert all(g.mode is LbMode.FLOWLET for g in states["agg-p0-a0"].groups)


def test_state_is_deterministic(mini: Fabric) -> None:
    failures = FailureView.parse(mini, links=["tor-s0-r0-p0:129"])
    assert compute_fabric_state(mini, failures) == compute_fabric_state(mini, failures)
    assert compute_fabric_state(mini) == compute_fabric_state(load_fabric(TOPOLOGIES / "hpn-mini.yaml"))


# -- failure views ------------------------------------------------------------------------------------


def test_host_link_down_removes_the_host_route_on_that_tor_only(mini: Fabric) -> None:
    states = compute_fabric_state(mini, FailureView.parse(mini, links=["host-s0-h1/nic0/p0"]))
    _assert_bounds(states)
    assert _route_group(states["tor-s0-r0-p0"], "10.0.0.2/32") is None
    assert _route_group(states["tor-s0-r0-p1"], "10.0.0.2/32") == {2}  # the other plane still has it
    assert _live(states["tor-s0-r0-p0"]) == {1, 129, 130}
    # dual-plane: no switch gets an exception route for it
    assert all(_route_group(s, "10.0.0.2/32") is None for n, s in states.items() if n != "tor-s0-r0-p1")


def test_tor_agg_link_down(mini: Fabric) -> None:
    intact = compute_fabric_state(mini)
    states = compute_fabric_state(mini, FailureView.parse(mini, links=["tor-s0-r0-p0:129"]))
    _assert_bounds(states)
    # the ToR stops using that uplink; the agg loses its only way to 10.0.0.0/24
    assert _route_group(states["tor-s0-r0-p0"], "10.1.0.0/24") == {130}
    assert _route_group(states["agg-p0-a0"], "10.0.0.0/24") is None
    assert _live(states["agg-p0-a0"]) == {2, 3, 4}
    # other ToRs of the plane reach 10.0.0.0/24 through agg-p0-a1 only, the rest as before
    other = states["tor-s1-r1-p0"]
    assert _route_group(other, "10.0.0.0/24") == {130}
    assert _route_group(other, "10.0.1.0/24") == {129, 130}
    # ids of untouched routes stay put, so a runtime diff touches only what changed
    before = {r.prefix: r.group_id for r in intact["tor-s1-r1-p0"].routes}
    after = {r.prefix: r.group_id for r in other.routes}
    changed = {p for p in before if before[p] != after[p]}
    assert {str(p) for p in changed} == {"10.0.0.0/24"}
    # plane 1 is untouched
    for name in ("tor-s0-r0-p1", "agg-p1-a0"):
        assert states[name] == intact[name]


def test_agg_down(mini: Fabric) -> None:
    states = compute_fabric_state(mini, FailureView(switches=frozenset({"agg-p1-a0"})))
    _assert_bounds(states)
    assert "agg-p1-a0" not in states
    for tor in mini.tors(1):
        assert all(g.ports <= {1, 2, 130} for g in states[tor.name].groups)
        assert _live(states[tor.name]) == {1, 2, 130}
    for tor in mini.tors(0):
        assert states[tor.name].live_ports is None


def test_tor_down_removes_its_routes(mini: Fabric) -> None:
    states = compute_fabric_state(mini, FailureView(switches=frozenset({"tor-s1-r0-p0"})))
    _assert_bounds(states)
    assert "tor-s1-r0-p0" not in states
    for name, state in states.items():
        if mini.switch(name).plane == 0:
            assert _route_group(state, "10.1.0.0/24") is None, name
    assert _route_group(states["agg-p1-a0"], "10.1.0.0/24") == {3}


def test_merged_host_link_down_steers_to_the_other_tor(merged: Fabric) -> None:
    intact = compute_fabric_state(merged)
    assert _route_group(intact["agg-p0-a0"], "10.0.0.0/24") == {1, 2}  # both ToRs of the pair
    link = merged.nic_link(NicPort("host-s0-h0", 0, 0))
    assert isinstance(link, Link)
    states = compute_fabric_state(merged, FailureView(links=frozenset({link})))
    _assert_bounds(states)
    for agg in merged.aggs():
        assert _route_group(states[agg.name], "10.0.0.1/32") == {2}  # only tor-s0-r0-p1 has it
    # the ToR that lost it sends it up instead of dropping it
    assert _route_group(states["tor-s0-r0-p0"], "10.0.0.1/32") == set(range(129, 133))
    assert _route_group(states["tor-s0-r0-p1"], "10.0.0.1/32") == {1}


def test_failure_view_parsing(mini: Fabric) -> None:
    view = FailureView.parse(mini, links=["tor-s0-r0-p0:129", "host-s0-h0/nic1/p1"], switches=["agg-p0-a1"])
    assert len(view.links) == 2 and view.switches == {"agg-p0-a1"}
    assert "agg-p0-a1" in view.describe() and bool(view) and not FailureView()
    with pytest.raises(ValueError, match="no link at 'tor-s0-r0-p0:7'"):
        FailureView.parse(mini, links=["tor-s0-r0-p0:7"])
    with pytest.raises(ValueError, match="unknown switch"):
        FailureView.parse(mini, switches=["agg-9"])


# -- plan ---------------------------------------------------------------------------------------------


def test_plan_summary_and_dumps(mini: Fabric) -> None:
    failures = FailureView(switches=frozenset({"agg-p0-a0"}))
    states = compute_fabric_state(mini, failures)
    summary = summarize(mini, states)
    assert summary.down == ("agg-p0-a0",)
    assert len(summary.switches) == 11 and summary.fits()
    row = next(s for s in summary.switches if s.name == "tor-s0-r0-p0")
    assert (row.routes, row.host_routes, row.groups, row.ports, row.down_ports) == (5, 2, 3, 4, 1)
    text = summary_text(summary)
    assert "hpn-mini: 11 switches" in text and "down: agg-p0-a0" in text
    dump = state_text(states["tor-s0-r0-p0"])
    assert "port 129 plane 0 400G -> agg-p0-a0" in dump and "DOWN" in dump
    data = json.loads(plan_json(states, ["tor-s0-r0-p0"]))
    assert data["tor-s0-r0-p0"]["routes"][0] == {"plane": 0, "prefix": "10.0.0.1/32", "group": 1}
    assert data["tor-s0-r0-p0"]["live_ports"] == [1, 2, 130]
    with pytest.raises(KeyError):
        plan_json(states, ["agg-p0-a0"])


def test_physical_cut_counts_ordered_pairs(mini: Fabric) -> None:
    assert physical_cut(mini) == 0
    isolate = FailureView(switches=frozenset({"tor-s0-r0-p0", "tor-s0-r0-p1"}))
    # two NICs with no live port: every ordered pair that involves one of them, 8*7 - 6*5
    assert physical_cut(mini, isolate) == 26

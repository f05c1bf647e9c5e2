"""Per-switch desired state of a fabric under a failure view.

Per plane, with a ToR "owning" the /24 of its (segment, rail):
  ToR  /32 per attached NIC whose link is up -> that host port (one-member ECMP group)
       /24 of every other (segment, rail) -> live uplinks to aggs that still reach it
  agg  /24 of every (segment, rail) -> live ports to the ToR(s) owning it
Cross-rail traffic takes the same up-down path as cross-segment traffic.

A NIC not reachable through every live owner ToR of its /24 (its link to one is
down) is an exception: switches get a /32 for it toward the ToRs that still
reach it. In a dual-plane fabric that set is empty (one owner per plane), so the
NIC is simply unreachable in that plane and hosts use the other port; in a
merged fabric the aggs steer its traffic to the other ToR of the pair.

Nothing here enumerates paths: each switch's routes come from per-/24 and
per-NIC sets, and equal groups and routes are shared objects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from hpn.bulk import gc_paused
from hpn.params import GATEWAY_IP
from hpn.routing.failures import FailureView
from hpn.routing.groups import Interner, RouteSpec, allocate
from hpn.routing.state import LbMode, LbParams, PortConfig, SwitchState
from hpn.topology.model import Fabric, NicId, NicPort, Role, Switch, SwitchPort

_NO_PORTS: frozenset[int] = frozenset()
_NO_AGGS: frozenset[str] = frozenset()


def hash_seed(switch_name: str) -> int:
    """Per-switch ECMP seed: stable across runs, different between switches."""
    return int.from_bytes(hashlib.blake2b(switch_name.encode(), digest_size=4).digest(), "big")


def compute_fabric_state(fabric: Fabric, failures: FailureView | None = None) -> dict[str, SwitchState]:
    """Desired state of every switch that is up (switches that are down are absent)."""
    with gc_paused():
        return _compute(fabric, failures or FailureView())


def _compute(fabric: Fabric, failures: FailureView) -> dict[str, SwitchState]:
    ctx = _Context(fabric, failures)
    states: dict[str, SwitchState] = {}
    for sw in fabric.switches:
        if not ctx.up(sw.name):
            continue
        plane = ctx.planes[sw.plane]
        specs = _tor_routes(ctx, plane, sw) if sw.role is Role.TOR else _agg_routes(ctx, plane, sw)
        routes, groups = allocate(sw.name, specs, ctx.interner)
        ports = _port_configs(fabric, sw)
        all_ports = frozenset(p.port for p in ports)
        live_ports = frozenset(p for p in all_ports if ctx.live(sw.name, p))
        states[sw.name] = SwitchState(
            name=sw.name,
            switch_mac=sw.mac,
            routes=routes,
            groups=groups,
            ports=ports,
            lb=LbParams(
                hash_seed=hash_seed(sw.name),
                flowlet_gap_us=fabric.settings.flowlet_gap_us,
                load_window_us=fabric.settings.load_window_us,
            ),
            live_ports=None if live_ports == all_ports else live_ports,
            gateway_ips=(GATEWAY_IP,) if sw.role is Role.TOR else (),
        )
    return states


@dataclass
class _Plane:
    """Wiring and liveness of one routing plane as sets; /24s are indexes into `prefixes`."""

    plane: int
    prefixes: list[IPv4Network] = field(default_factory=list)
    tor_prefix: dict[str, int] = field(default_factory=dict)  # ToR -> the /24 it owns
    nic_tors: dict[NicId, set[str]] = field(default_factory=dict)  # NIC -> ToRs with a live link to it
    nic_prefix: dict[NicId, int] = field(default_factory=dict)
    # agg -> /24 -> (ports to the owner ToRs, live ports to live owner ToRs)
    agg_routes: dict[str, dict[int, tuple[frozenset[int], frozenset[int]]]] = field(default_factory=dict)
    reach: list[frozenset[str]] = field(default_factory=list)  # /24 -> aggs with a live route to it
    reach_intact: list[frozenset[str]] = field(default_factory=list)
    exceptions: list[NicId] = field(default_factory=list)
    # NIC -> agg -> live ports toward the ToRs that still reach the NIC
    exception_ports: dict[NicId, dict[str, frozenset[int]]] = field(default_factory=dict)


class _Context:
    def __init__(self, fabric: Fabric, failures: FailureView) -> None:
        self.fabric = fabric
        self.down = failures.switches
        self.dead = {(sp.switch, sp.port) for sp in failures.dead_ports(fabric)}
        self.interner = Interner()
        self.mode = fabric.settings.lb_mode
        self._host_nets: dict[NicId, IPv4Network] = {}
        self.planes = {p: self._plane(p) for p in fabric.planes}

    def up(self, name: str) -> bool:
        return name not in self.down

    def live(self, switch: str, port: int) -> bool:
        return not self.dead or (switch, port) not in self.dead

    def host_net(self, nic_id: NicId) -> IPv4Network:
        """The NIC's /32, one object per NIC."""
        net = self._host_nets.get(nic_id)
        if net is None:
            nic = self.fabric.nic(*nic_id)
            assert nic is not None
            net = self._host_nets[nic_id] = IPv4Network((int(nic.ip), 32))
        return net

    def _plane(self, plane: int) -> _Plane:
        fabric = self.fabric
        view = _Plane(plane)
        tors = fabric.tors(plane)
        view.prefixes = sorted({fabric.subnet_of(t.segment or 0, t.rail or 0) for t in tors})
        index = {prefix: i for i, prefix in enumerate(view.prefixes)}
        owners: list[set[str]] = [set() for _ in view.prefixes]
        for tor in tors:
            i = view.tor_prefix[tor.name] = index[fabric.subnet_of(tor.segment or 0, tor.rail or 0)]
            if self.up(tor.name):
                owners[i].add(tor.name)
            for port, peer in fabric.peers(tor.name).items():
                if isinstance(peer, NicPort):
                    nic_id = (peer.host, peer.rail)
                    attached = view.nic_tors.setdefault(nic_id, set())
                    view.nic_prefix[nic_id] = i
                    if self.up(tor.name) and self.live(tor.name, port):
                        attached.add(tor.name)

        shared: dict[frozenset[str], frozenset[str]] = {}
        reach: list[set[str]] = [set() for _ in view.prefixes]
        reach_intact: list[set[str]] = [set() for _ in view.prefixes]
        for agg in fabric.aggs(plane):
            per_prefix: dict[int, tuple[set[int], set[int]]] = {}
            for port, peer in fabric.peers(agg.name).items():
                if not isinstance(peer, SwitchPort) or peer.switch not in view.tor_prefix:
                    continue
                wired, live = per_prefix.setdefault(view.tor_prefix[peer.switch], (set(), set()))
                wired.add(port)
                if self.up(agg.name) and self.live(agg.name, port):
                    live.add(port)
            view.agg_routes[agg.name] = {i: (frozenset(w), frozenset(v)) for i, (w, v) in per_prefix.items()}
            for i, (_, live) in per_prefix.items():
                reach_intact[i].add(agg.name)
                if live:
                    reach[i].add(agg.name)
        view.reach = [shared.setdefault(frozenset(a), frozenset(a)) for a in reach]
        view.reach_intact = [shared.setdefault(frozenset(a), frozenset(a)) for a in reach_intact]

        view.exceptions = sorted(n for n, t in view.nic_tors.items() if t != owners[view.nic_prefix[n]])
        for nic_id in view.exceptions:
            view.exception_ports[nic_id] = self._exception_ports(plane, view.nic_tors[nic_id])
        return view

    def _exception_ports(self, plane: int, tors: set[str]) -> dict[str, frozenset[int]]:
        """Per agg: live ports toward the ToRs that still reach an exception NIC."""
        ports: dict[str, frozenset[int]] = {}
        for agg in self.fabric.aggs(plane):
            live = frozenset(
                port
                for port, peer in self.fabric.peers(agg.name).items()
                if isinstance(peer, SwitchPort) and peer.switch in tors and self.live(agg.name, port)
            )
            if live and self.up(agg.name):
                ports[agg.name] = live
        return ports


def _tor_routes(ctx: _Context, plane: _Plane, tor: Switch) -> list[RouteSpec]:
    specs: list[RouteSpec] = []
    uplinks: list[tuple[int, str]] = []
    attached: set[NicId] = set()
    for port, peer in ctx.fabric.peers(tor.name).items():
        if isinstance(peer, SwitchPort):
            uplinks.append((port, peer.switch))
        elif ctx.live(tor.name, port):
            nic_id = (peer.host, peer.rail)
            attached.add(nic_id)
            ports = frozenset((port,))
            specs.append(RouteSpec(plane.plane, ctx.host_net(nic_id), LbMode.ECMP, ports, ports))

    # Uplink member sets, one per distinct set of aggs (most /24s share one).
    cache: dict[tuple[frozenset[str], bool], frozenset[int]] = {}

    def members(aggs: frozenset[str], live_only: bool) -> frozenset[int]:
        key = (aggs, live_only)
        found = cache.get(key)
        if found is None:
            found = cache[key] = frozenset(
                p for p, agg in uplinks if agg in aggs and (not live_only or ctx.live(tor.name, p))
            )
        return found

    own = plane.tor_prefix[tor.name]
    live_group: dict[int, frozenset[int]] = {}
    for i, prefix in enumerate(plane.prefixes):
        if i == own:
            continue
        live = live_group[i] = members(plane.reach[i], live_only=True)
        if live:
            intact = members(plane.reach_intact[i], live_only=False)
            specs.append(RouteSpec(plane.plane, prefix, ctx.mode, live, intact))

    for nic_id in plane.exceptions:
        if nic_id in attached:
            continue
        live = members(frozenset(plane.exception_ports[nic_id]), live_only=True)
        if live and live != live_group.get(plane.nic_prefix[nic_id]):
            specs.append(RouteSpec(plane.plane, ctx.host_net(nic_id), ctx.mode, live, None))
    return specs


def _agg_routes(ctx: _Context, plane: _Plane, agg: Switch) -> list[RouteSpec]:
    specs: list[RouteSpec] = []
    routes = plane.agg_routes.get(agg.name, {})
    for i, prefix in enumerate(plane.prefixes):
        wired, live = routes.get(i, (_NO_PORTS, _NO_PORTS))
        if live:
            specs.append(RouteSpec(plane.plane, prefix, ctx.mode, live, wired))
    for nic_id in plane.exceptions:
        live = plane.exception_ports[nic_id].get(agg.name, _NO_PORTS)
        if live and live != routes.get(plane.nic_prefix[nic_id], (_NO_PORTS, _NO_PORTS))[1]:
            specs.append(RouteSpec(plane.plane, ctx.host_net(nic_id), ctx.mode, live, None))
    return specs


def _port_configs(fabric: Fabric, sw: Switch) -> tuple[PortConfig, ...]:
    ecn = fabric.settings.ecn
    configs = []
    for port, peer in fabric.peers(sw.name).items():
        link = fabric.link_at(sw.name, port)
        assert link is not None
        if isinstance(peer, SwitchPort):
            name, mac = peer.switch, fabric.switch(peer.switch).mac
        else:
            nic = fabric.nic(peer.host, peer.rail)
            assert nic is not None
            name, mac = str(peer), nic.mac
        configs.append(PortConfig(port, sw.plane, name, mac, link.gbps, ecn))
    return tuple(configs)

"""Which NIC pairs the computed state actually connects, found by walking the groups.

The walk does what the data plane does: at each switch the ingress port's plane
and the destination pick a route (longest prefix), the group's members are
masked by that plane's ports and the live ports, and every remaining member is
followed, since a hash may pick any of them. A pair is reachable when some
usable port of the source gets there on every such path, without a loop and
without visiting a switch of another plane.

Walking every pair of a full pod (10^8 pairs) is out of reach, so destinations
are grouped into classes that no switch can tell apart: same /24 and the same
host (/32) routes, up to the port that leads to the NIC itself. Sources are
grouped by the ingress points their usable ports offer. The walk runs once per
destination class; pairs are counted per (source group, destination class).

`physical_cut` counts pairs with no live cable path inside any one plane
(networkx components): routing can't do better than that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from hpn.bulk import gc_paused
from hpn.routing.compute import compute_fabric_state
from hpn.routing.failures import FailureView
from hpn.routing.state import SwitchState
from hpn.topology.model import Fabric, NicId, NicPort, SwitchPort

Node = tuple[str, int]  # (switch, plane of the packet there)
_Hop = tuple[str, int, int]  # (switch, its packet plane, -1) or (host, rail, NIC port)


@dataclass(frozen=True)
class ReachReport:
    nics: int
    pairs: int  # ordered pairs of different NICs
    unreachable: int
    degraded: int  # reachable, but some live port of the source blackholes
    physical_cut: int  # no live cable path in any plane
    classes: int  # destination classes walked
    examples: tuple[str, ...]  # some unreachable pairs, "src -> dst"
    plane_crossings: tuple[str, ...]
    faults: tuple[str, ...]  # loops and deliveries to the wrong NIC

    @property
    def ok(self) -> bool:
        return self.unreachable == 0 and not self.plane_crossings and not self.faults


def reachability(
    fabric: Fabric,
    failures: FailureView | None = None,
    states: dict[str, SwitchState] | None = None,
    max_examples: int = 10,
) -> ReachReport:
    """Reachability of every NIC pair under `failures` (states computed unless given)."""
    failures = failures or FailureView()
    if states is None:
        states = compute_fabric_state(fabric, failures)
    with gc_paused():
        return _Walker(fabric, failures, states).report(max_examples)


@dataclass
class _Switch:
    """A switch's state in the form the walk reads."""

    plane: int
    port_plane: dict[int, int]
    usable: dict[int, frozenset[int]]  # packet plane -> live ports of that plane
    # plane -> [(prefixlen, {network: group id})], longest prefix first
    lpm: dict[int, list[tuple[int, dict[int, int]]]]
    groups: dict[int, frozenset[int]]


def _prepare(state: SwitchState, plane: int) -> _Switch:
    port_plane = {p.port: p.plane for p in state.ports}
    all_ports = frozenset(port_plane)
    live = all_ports if state.live_ports is None else state.live_ports
    usable = {pl: ports & live for pl, ports in state.plane_ports().items()}
    tables: dict[int, dict[int, dict[int, int]]] = {}
    for route in state.routes:
        length = route.prefix.prefixlen
        if 24 < length < 32:
            raise ValueError(
                f"{state.name}: {route.prefix}: the walk handles /32 and /24-or-shorter routes only"
            )
        tables.setdefault(route.plane, {}).setdefault(length, {})[int(route.prefix.network_address)] = (
            route.group_id
        )
    lpm = {pl: sorted(t.items(), reverse=True) for pl, t in tables.items()}
    return _Switch(plane, port_plane, usable, lpm, {g.group_id: g.ports for g in state.groups})


class _Walker:
    def __init__(self, fabric: Fabric, failures: FailureView, states: dict[str, SwitchState]) -> None:
        self.fabric = fabric
        self.failures = failures
        self.switches = {name: _prepare(st, fabric.switch(name).plane) for name, st in states.items()}
        self.nic_ids: list[NicId] = [(h.name, n.rail) for h, n in fabric.nics()]
        self.ip = {(h.name, n.rail): int(n.ip) for h, n in fabric.nics()}
        self.crossings: list[str] = []
        self.faults: list[str] = []
        self._hops: dict[tuple[str, int, int], tuple[_Hop, ...]] = {}
        self._hop_sets: dict[tuple[_Hop, ...], tuple[_Hop, ...]] = {}  # equal tuples -> one object
        self._host_routes = self._index_host_routes()

    # -- forwarding ----------------------------------------------------------
    def _lookup(self, name: str, plane: int, ip: int) -> int | None:
        for length, table in self.switches[name].lpm.get(plane, ()):
            gid = table.get(ip & (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF)
            if gid is not None:
                return gid
        return None

    def _next_hops(self, name: str, plane: int, gid: int) -> tuple[_Hop, ...]:
        """Where group `gid` can send a packet of `plane`: (switch, plane, -1) or (host, rail, port)."""
        key = (name, plane, gid)
        hops = self._hops.get(key)
        if hops is None:
            sw = self.switches[name]
            members = sw.groups.get(gid, frozenset()) & sw.usable.get(plane, frozenset())
            found: list[_Hop] = []
            for port in sorted(members):
                peer = self.fabric.peer(name, port)
                if isinstance(peer, SwitchPort):
                    nxt = self.switches.get(peer.switch)
                    found.append((peer.switch, -1 if nxt is None else nxt.port_plane.get(peer.port, 0), -1))
                elif isinstance(peer, NicPort):
                    found.append((peer.host, peer.rail, peer.port))
            hops = self._hops[key] = self._hop_sets.setdefault(tuple(found), tuple(found))
        return hops

    def _index_host_routes(self) -> dict[int, list[tuple[str, int, int]]]:
        index: dict[int, list[tuple[str, int, int]]] = {}
        for name, sw in self.switches.items():
            for plane, tables in sw.lpm.items():
                for length, table in tables:
                    if length == 32:
                        for ip, gid in table.items():
                            index.setdefault(ip, []).append((name, plane, gid))
        return index

    def _class_key(self, nic: NicId) -> tuple[object, ...]:
        """Equal keys: no switch forwards the two NICs differently."""
        ip = self.ip[nic]
        host_routes = []
        for name, plane, gid in self._host_routes.get(ip, ()):
            hops = tuple(
                ("self", h[2]) if h[2] >= 0 and (h[0], h[1]) == nic else h
                for h in self._next_hops(name, plane, gid)
            )
            host_routes.append((name, plane, hops))
        return (ip >> 8, tuple(sorted(host_routes, key=repr)))

    def _walk(self, dst: NicId, start: Iterable[Node]) -> dict[Node, bool]:
        """For each start node: does every path deliver to `dst`?

        Results are memoised per node and per next-hop set: the ToRs of a plane
        share their uplink sets, so each set is judged once per destination.
        """
        ip = self.ip[dst]
        merged = self.fabric.planes_merged
        memo: dict[Node, bool] = {}
        set_memo: dict[tuple[int, int], bool] = {}  # (id of an interned hop tuple, plane) -> all good
        on_path: set[Node] = set()
        label = _label(dst)

        def node_ok(node: Node) -> bool:
            found = memo.get(node)
            if found is not None:
                return found
            if node in on_path:
                self.faults.append(f"loop through {node[0]} toward {label}")
                return False
            name, plane = node
            good = False
            if name in self.switches:
                on_path.add(node)
                gid = self._lookup(name, plane, ip)
                if gid is not None:
                    good = hops_ok(name, plane, self._next_hops(name, plane, gid))
                on_path.discard(node)
            memo[node] = good
            return good

        def hops_ok(name: str, plane: int, hops: tuple[_Hop, ...]) -> bool:
            key = (id(hops), plane)
            found = set_memo.get(key)
            if found is not None:
                return found
            good = bool(hops)  # no live member: dropped
            for a, b, port in hops:
                if port < 0:
                    nxt = self.switches.get(a)
                    if b != plane or (nxt is not None and nxt.plane != plane):
                        self.crossings.append(f"{name} (plane {plane}) -> {a} (plane {b}) toward {label}")
                        good = False
                    elif not node_ok((a, b)):
                        good = False
                elif (a, b) != dst:
                    self.faults.append(f"{name} sends traffic for {label} to {_label((a, b))}")
                    good = False
                elif not merged and port != plane:
                    self.crossings.append(f"{name} delivers plane-{plane} traffic to {label} port {port}")
                    good = False
            set_memo[key] = good
            return good

        return {node: node_ok(node) for node in start}

    # -- sources ---------------------------------------------------------------
    def _ingress(self, nic: NicId) -> tuple[Node, ...]:
        """Where the NIC's usable ports enter the fabric."""
        nodes = []
        for port in (0, 1):
            nic_port = NicPort(nic[0], nic[1], port)
            tor = self.fabric.nic_switch_port(nic_port)
            if tor is None or not self.failures.nic_port_up(self.fabric, nic_port):
                continue
            sw = self.switches.get(tor.switch)
            if sw is not None:
                nodes.append((tor.switch, sw.port_plane.get(tor.port, 0)))
        return tuple(nodes)

    def report(self, max_examples: int) -> ReachReport:
        profiles: dict[tuple[Node, ...], int] = {}
        classes: dict[tuple[object, ...], int] = {}
        profile_of = [profiles.setdefault(self._ingress(n), len(profiles)) for n in self.nic_ids]
        class_of = [classes.setdefault(self._class_key(n), len(classes)) for n in self.nic_ids]
        representative = {c: self.nic_ids[i] for i, c in reversed(list(enumerate(class_of)))}
        starts = {node for profile in profiles for node in profile}
        results = {c: self._walk(representative[c], starts) for c in classes.values()}

        sources: dict[int, list[int]] = {}
        dests: dict[int, list[int]] = {}
        for i, (p, c) in enumerate(zip(profile_of, class_of, strict=True)):
            sources.setdefault(p, []).append(i)
            dests.setdefault(c, []).append(i)
        same = Counter(zip(profile_of, class_of, strict=True))  # a NIC in both is not a pair with itself
        unreachable = degraded = 0
        examples: list[str] = []
        for profile, p in profiles.items():
            for c, result in results.items():
                n = len(sources[p]) * len(dests[c]) - same[(p, c)]
                good = sum(result[node] for node in profile)
                if good == 0 and n:
                    unreachable += n
                    examples.extend(self._examples(sources[p], dests[c], max_examples - len(examples)))
                elif good < len(profile):
                    degraded += n
        n = len(self.nic_ids)
        return ReachReport(
            nics=n,
            pairs=n * (n - 1),
            unreachable=unreachable,
            degraded=degraded,
            physical_cut=physical_cut(self.fabric, self.failures),
            classes=len(classes),
            examples=tuple(examples),
            plane_crossings=tuple(dict.fromkeys(self.crossings)),
            faults=tuple(dict.fromkeys(self.faults)),
        )

    def _examples(self, sources: list[int], dests: list[int], limit: int) -> list[str]:
        out: list[str] = []
        for s in sources:
            for d in dests:
                if len(out) >= limit:
                    return out
                if s != d:
                    out.append(f"{_label(self.nic_ids[s])} -> {_label(self.nic_ids[d])}")
        return out


def _label(nic: NicId) -> str:
    return f"{nic[0]}/nic{nic[1]}"


# -- physical connectivity (networkx) --------------------------------------------------


def physical_graph(fabric: Fabric, failures: FailureView | None = None) -> nx.Graph:
    """Live switch-to-switch cables; each edge carries the plane of its ends."""
    failures = failures or FailureView()
    graph = nx.Graph()
    graph.add_nodes_from(s.name for s in fabric.switches if s.name not in failures.switches)
    for link in fabric.links:
        a, b = link.ends()
        if not (isinstance(a, SwitchPort) and isinstance(b, SwitchPort)) or link in failures.links:
            continue
        if a.switch in failures.switches or b.switch in failures.switches:
            continue
        graph.add_edge(a.switch, b.switch, plane=fabric.switch(a.switch).plane)
    return graph


def physical_cut(fabric: Fabric, failures: FailureView | None = None) -> int:
    """Ordered NIC pairs with no live cable path inside any single plane."""
    failures = failures or FailureView()
    graph = physical_graph(fabric, failures)
    component: dict[str, tuple[int, int]] = {}  # switch -> (plane, component)
    for plane in fabric.planes:
        in_plane = graph.subgraph(s.name for s in fabric.switches if s.plane == plane and s.name in graph)
        for i, names in enumerate(nx.connected_components(in_plane)):
            component.update((name, (plane, i)) for name in names)

    def signature(host: str, rail: int) -> frozenset[tuple[int, int]]:
        """Plane components the NIC's live ports reach."""
        out = set()
        for port in (0, 1):
            tor = fabric.nic_switch_port(NicPort(host, rail, port))
            if tor is not None and failures.nic_port_up(fabric, NicPort(host, rail, port)):
                out.add(component[tor.switch])
        return frozenset(out)

    signatures = Counter(signature(h.name, n.rail) for h, n in fabric.nics())
    total = sum(signatures.values())
    cut = 0
    items = list(signatures.items())
    for sig, count in items:
        reach = sum(c for other, c in items if sig & other) if sig else 1  # counts the NIC itself
        cut += count * (total - reach)
    return cut

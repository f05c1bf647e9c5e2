"""Per-switch state kept up to date as the failure view changes, recomputing only what moves.

`compute_fabric_state` rebuilds every switch of the fabric from the wiring (seconds on a
pod). `IncrementalRouting` keeps the per-plane sets compute derives (which aggs still
reach each /24, which NICs are exceptions and through which agg ports) and, per switch,
its route specs; on a new failure view it patches the sets the changed ports touch,
re-derives only the specs that read a changed set, and allocates group ids through a memo
(switches with the same spec sequence get the same ids; `allocate` is the only allocator).

The rules are compute.py's, restated over the patched sets: the result is the state
`compute_fabric_state` gives for the same view, which tests/test_ops_failover.py checks
for every single and many random multiple failures of the mini fabrics, and
bench/bench_failover.py for the pod's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from hpn.bulk import gc_paused
from hpn.routing.compute import compute_fabric_state
from hpn.routing.failures import FailureView
from hpn.routing.groups import GroupKey, Interner, RouteSpec, allocate
from hpn.routing.state import Group, LbMode, Route, SwitchState
from hpn.topology.model import Fabric, NicId, NicPort, Role, SwitchPort

_NONE: frozenset[int] = frozenset()
_MEMBER_CACHE = 1024
"""Sets of aggs a ToR keeps its live uplinks to before it starts over (bounds memory)."""
_Triple = tuple[LbMode, frozenset[int], frozenset[int] | None]


@dataclass
class _Plane:
    """compute.py's per-plane sets, kept patchable; /24s are indexes into `prefixes`."""

    plane: int
    prefixes: list[IPv4Network] = field(default_factory=list)
    tor_prefix: dict[str, int] = field(default_factory=dict)
    prefix_tors: list[list[str]] = field(default_factory=list)  # every ToR owning the /24
    owners: list[frozenset[str]] = field(default_factory=list)  # ... those that are up
    nic_prefix: dict[NicId, int] = field(default_factory=dict)
    nic_cables: dict[NicId, list[tuple[str, int]]] = field(default_factory=dict)  # (ToR, port)
    nic_tors: dict[NicId, frozenset[str]] = field(default_factory=dict)  # ToRs with a live link
    uplinks: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)  # ToR: (port, agg, agg port)
    agg_wired: dict[str, dict[int, frozenset[int]]] = field(default_factory=dict)
    agg_live: dict[str, dict[int, frozenset[int]]] = field(default_factory=dict)
    prefix_aggs: list[list[str]] = field(default_factory=list)  # aggs wired to the /24's owners
    reach: list[frozenset[str]] = field(default_factory=list)
    reach_intact: list[frozenset[str]] = field(default_factory=list)
    exceptions: list[NicId] = field(default_factory=list)
    exception_ports: dict[NicId, dict[str, frozenset[int]]] = field(default_factory=dict)
    aggs: list[str] = field(default_factory=list)
    tors: list[str] = field(default_factory=list)
    shared: dict[frozenset[str], frozenset[str]] = field(default_factory=dict)


@dataclass
class _TorSpecs:
    """A ToR's route specs in compute's order: host /32s, /24s by prefix, exceptions."""

    hosts: list[RouteSpec]
    attached: frozenset[NicId]
    prefixes: list[RouteSpec | None]
    live_group: dict[int, frozenset[int]]
    exceptions: list[RouteSpec]
    # The host /32s come first and each has its own port as its group: `allocate` gives
    # them the first ids whatever follows, so their distinct triples and routes are kept.
    host_firsts: dict[_Triple, RouteSpec] | None = None
    host_routes: tuple[Route, ...] | None = None

    def rest(self) -> list[RouteSpec]:
        """The specs after the host /32s."""
        return [*(s for s in self.prefixes if s is not None), *self.exceptions]


@dataclass(frozen=True)
class RoutingUpdate:
    """What a new failure view changed: the state before and after of each switch whose
    state differs (None: down, it holds nothing), and how many switches were re-derived."""

    view: FailureView
    changed: dict[str, SwitchState | None]
    before: dict[str, SwitchState | None]
    rederived: int


class IncrementalRouting:
    """Per-switch desired state under a failure view that changes one step at a time."""

    def __init__(self, fabric: Fabric, failures: FailureView | None = None) -> None:
        self.fabric = fabric
        self._templates = compute_fabric_state(fabric)  # every switch, for the fields routing keeps
        self._interner = Interner()
        self._memo: dict[tuple[_Triple, ...], tuple[dict[GroupKey, int], tuple[Group, ...]]] = {}
        self._nets: dict[NicId, IPv4Network] = {}
        # per ToR: a set of aggs -> its live uplinks to them (dropped when its ports change),
        # and its uplinks to the aggs that reach each /24 with nothing down (never change)
        self._member_cache: dict[str, dict[frozenset[str], frozenset[int]]] = {}
        self._intact_members: dict[tuple[str, int], frozenset[int]] = {}
        self._agg_prefix_specs: dict[str, list[RouteSpec]] = {}
        self._agg_exception_specs: dict[str, list[RouteSpec]] = {}
        self._mode = fabric.settings.lb_mode
        self.view = FailureView()
        self._dead: set[tuple[str, int]] = set()
        self._down: frozenset[str] = frozenset()
        self._position = {sw.name: i for i, sw in enumerate(fabric.switches)}
        with gc_paused():
            self._planes = {p: self._build_plane(p) for p in fabric.planes}
            self._tor_specs: dict[str, _TorSpecs] = {}
            self.states: dict[str, SwitchState] = {}
            for sw in fabric.switches:
                self._rederive(sw.name)
        if failures:
            self.update(failures)

    # -- building -----------------------------------------------------------------------
    def _up(self, name: str) -> bool:
        return name not in self._down

    def _live(self, switch: str, port: int) -> bool:
        return (switch, port) not in self._dead

    def _host_net(self, nic_id: NicId) -> IPv4Network:
        net = self._nets.get(nic_id)
        if net is None:
            nic = self.fabric.nic(*nic_id)
            assert nic is not None
            net = self._nets[nic_id] = IPv4Network((int(nic.ip), 32))
        return net

    def _build_plane(self, plane: int) -> _Plane:
        fabric = self.fabric
        view = _Plane(plane)
        tors = fabric.tors(plane)
        view.tors = [t.name for t in tors]
        view.aggs = [a.name for a in fabric.aggs(plane)]
        view.prefixes = sorted({fabric.subnet_of(t.segment or 0, t.rail or 0) for t in tors})
        index = {prefix: i for i, prefix in enumerate(view.prefixes)}
        view.prefix_tors = [[] for _ in view.prefixes]
        for tor in tors:
            i = view.tor_prefix[tor.name] = index[fabric.subnet_of(tor.segment or 0, tor.rail or 0)]
            view.prefix_tors[i].append(tor.name)
            view.uplinks[tor.name] = []
            for port, peer in fabric.peers(tor.name).items():
                if isinstance(peer, NicPort):
                    nic_id = (peer.host, peer.rail)
                    view.nic_cables.setdefault(nic_id, []).append((tor.name, port))
                    view.nic_prefix[nic_id] = i
                elif isinstance(peer, SwitchPort):
                    view.uplinks[tor.name].append((port, peer.switch, peer.port))
        view.owners = [frozenset(t) for t in view.prefix_tors]
        view.nic_tors = {nic: frozenset(t for t, _ in cables) for nic, cables in view.nic_cables.items()}
        aggs_of: list[set[str]] = [set() for _ in view.prefixes]
        for agg in view.aggs:
            wired: dict[int, set[int]] = {}
            for port, peer in fabric.peers(agg).items():
                if isinstance(peer, SwitchPort) and peer.switch in view.tor_prefix:
                    wired.setdefault(view.tor_prefix[peer.switch], set()).add(port)
            view.agg_wired[agg] = {i: frozenset(p) for i, p in wired.items()}
            view.agg_live[agg] = dict(view.agg_wired[agg])
            for i in wired:
                aggs_of[i].add(agg)
        view.prefix_aggs = [sorted(a) for a in aggs_of]
        view.reach = [view.shared.setdefault(frozenset(a), frozenset(a)) for a in aggs_of]
        view.reach_intact = list(view.reach)
        # a NIC not cabled to every owner of its /24 is an exception even with nothing down
        view.exceptions = sorted(n for n, t in view.nic_tors.items() if t != view.owners[view.nic_prefix[n]])
        view.exception_ports = {n: self._exception_ports(view, view.nic_tors[n]) for n in view.exceptions}
        return view

    # -- the update ---------------------------------------------------------------------
    def update(self, failures: FailureView) -> RoutingUpdate:
        """Move to `failures`; the states of the switches that changed."""
        with gc_paused():
            return self._update(failures)

    def _update(self, failures: FailureView) -> RoutingUpdate:
        fabric = self.fabric
        dead = {(sp.switch, sp.port) for sp in failures.dead_ports(fabric)}
        flipped_ports = dead ^ self._dead
        flipped_switches = failures.switches ^ self._down
        self._dead, self._down, self.view = dead, failures.switches, failures
        own = {s for s, _ in flipped_ports} | flipped_switches  # their own ports or state changed
        for name in own:
            self._member_cache.pop(name, None)
        # ToRs whose host routes may change: a host port flipped, or the ToR went down or up
        hosts_changed = flipped_switches | {
            s for s, p in flipped_ports if isinstance(self.fabric.peer(s, p), NicPort)
        }
        todo: set[str] = set(own)
        for plane in self._planes.values():
            todo |= self._patch_plane(plane, flipped_ports, flipped_switches, own)
        changed: dict[str, SwitchState | None] = {}
        previous: dict[str, SwitchState | None] = {}
        for name in sorted(todo, key=self._position.__getitem__):
            before = self.states.get(name)
            after = self._rederive(name, full=name in own, hosts=name in hosts_changed)
            if after is not before and after != before:
                changed[name] = after
                previous[name] = before
        return RoutingUpdate(failures, changed, previous, len(todo))

    def _patch_plane(
        self, view: _Plane, ports: set[tuple[str, int]], switches: frozenset[str], own: set[str]
    ) -> set[str]:
        """Patch the plane's sets; the switches of the plane whose specs must be re-derived
        besides those in `own` (whose own ports changed). Marks ToR specs to patch."""
        touched_prefixes: set[int] = set()
        touched_nics: set[NicId] = set()
        agg_changed = False
        for agg in view.aggs:
            if agg not in own:
                continue
            agg_changed = True
            up = self._up(agg)
            live = view.agg_live[agg]
            for i, wired in view.agg_wired[agg].items():
                new = frozenset(p for p in wired if self._live(agg, p)) if up else _NONE
                if new != live[i]:
                    live[i] = new
                    touched_prefixes.add(i)
        for tor in view.tors:
            if tor not in own:
                continue
            i = view.tor_prefix[tor]
            owners = frozenset(t for t in view.prefix_tors[i] if self._up(t))
            if owners != view.owners[i]:
                view.owners[i] = owners
                touched_nics.update(n for n, p in view.nic_prefix.items() if p == i)
            for port, peer in self.fabric.peers(tor).items():
                if isinstance(peer, NicPort) and ((tor, port) in ports or tor in switches):
                    touched_nics.add((peer.host, peer.rail))
        for nic in touched_nics:
            view.nic_tors[nic] = frozenset(
                t for t, p in view.nic_cables[nic] if self._up(t) and self._live(t, p)
            )
        reach_changed: set[int] = set()
        for i in touched_prefixes:
            reach = frozenset(a for a in view.prefix_aggs[i] if view.agg_live[a].get(i))
            reach = view.shared.setdefault(reach, reach)  # equal sets, one object: cheap cache keys
            if reach != view.reach[i]:
                view.reach[i] = reach
                reach_changed.add(i)

        exceptions = view.exceptions
        if touched_nics:
            was = set(exceptions)
            for nic in touched_nics:
                if view.nic_tors[nic] != view.owners[view.nic_prefix[nic]]:
                    was.add(nic)
                else:
                    was.discard(nic)
            exceptions = sorted(was)
        exception_ports = view.exception_ports
        if exceptions != view.exceptions or agg_changed or touched_nics:
            exception_ports = {nic: self._exception_ports(view, view.nic_tors[nic]) for nic in exceptions}
        exceptions_changed = exceptions != view.exceptions or exception_ports != view.exception_ports
        view.exceptions, view.exception_ports = exceptions, exception_ports

        todo: set[str] = set()
        if reach_changed or exceptions_changed:
            for tor in view.tors:
                specs = self._tor_specs.get(tor)
                if tor in own or specs is None:
                    continue
                if self._patch_tor(view, tor, specs, reach_changed, exceptions_changed):
                    todo.add(tor)
        if exceptions_changed:
            for agg in view.aggs:
                if agg in own or agg not in self._agg_exception_specs:
                    continue
                found = self._agg_exceptions(view, agg)
                if found != self._agg_exception_specs[agg]:
                    self._agg_exception_specs[agg] = found
                    todo.add(agg)
        return todo

    def _exception_ports(self, view: _Plane, tors: frozenset[str]) -> dict[str, frozenset[int]]:
        """Per agg that is up: its live ports toward the ToRs that still reach the NIC."""
        ports: dict[str, set[int]] = {}
        for tor in tors:
            for _, agg, agg_port in view.uplinks[tor]:
                if agg in view.agg_live and self._up(agg) and self._live(agg, agg_port):
                    ports.setdefault(agg, set()).add(agg_port)
        return {agg: frozenset(ports[agg]) for agg in view.aggs if agg in ports}

    # -- per switch ---------------------------------------------------------------------
    def _members(self, view: _Plane, tor: str, aggs: frozenset[str]) -> frozenset[int]:
        """The ToR's live uplinks to `aggs`."""
        cache = self._member_cache.get(tor)
        if cache is None or len(cache) > _MEMBER_CACHE:
            cache = self._member_cache[tor] = {}
        found = cache.get(aggs)
        if found is None:
            found = cache[aggs] = frozenset(
                p for p, agg, _ in view.uplinks[tor] if agg in aggs and self._live(tor, p)
            )
        return found

    def _intact(self, view: _Plane, tor: str, i: int) -> frozenset[int]:
        key = (tor, i)
        found = self._intact_members.get(key)
        if found is None:
            aggs = view.reach_intact[i]
            found = self._intact_members[key] = frozenset(p for p, agg, _ in view.uplinks[tor] if agg in aggs)
        return found

    def _prefix_spec(self, view: _Plane, tor: str, i: int, specs: _TorSpecs) -> RouteSpec | None:
        live = specs.live_group[i] = self._members(view, tor, view.reach[i])
        if not live:
            return None
        return RouteSpec(view.plane, view.prefixes[i], self._mode, live, self._intact(view, tor, i))

    def _exception_specs(self, view: _Plane, tor: str, specs: _TorSpecs) -> list[RouteSpec]:
        out = []
        for nic_id in view.exceptions:
            if nic_id in specs.attached:
                continue
            live = self._members(view, tor, frozenset(view.exception_ports[nic_id]))
            if live and live != specs.live_group.get(view.nic_prefix[nic_id]):
                out.append(RouteSpec(view.plane, self._host_net(nic_id), self._mode, live, None))
        return out

    def _full_tor_specs(self, view: _Plane, tor: str, keep: _TorSpecs | None = None) -> _TorSpecs:
        """Every spec of the ToR; the host /32s of `keep` when its host ports did not change."""
        if keep is not None:
            hosts, attached = keep.hosts, set(keep.attached)
        else:
            hosts, attached = [], set()
            for port, peer in self.fabric.peers(tor).items():
                if isinstance(peer, NicPort) and self._live(tor, port):
                    nic_id = (peer.host, peer.rail)
                    attached.add(nic_id)
                    ports = frozenset((port,))
                    hosts.append(RouteSpec(view.plane, self._host_net(nic_id), LbMode.ECMP, ports, ports))
        specs = _TorSpecs(hosts, frozenset(attached), [None] * len(view.prefixes), {}, [])
        if keep is not None:
            specs.host_firsts, specs.host_routes = keep.host_firsts, keep.host_routes
        own = view.tor_prefix[tor]
        for i in range(len(view.prefixes)):
            if i != own:
                specs.prefixes[i] = self._prefix_spec(view, tor, i, specs)
        specs.exceptions = self._exception_specs(view, tor, specs)
        return specs

    def _patch_tor(
        self, view: _Plane, tor: str, specs: _TorSpecs, prefixes: set[int], exceptions: bool
    ) -> bool:
        """Re-derive the specs that read a changed set; whether any spec changed."""
        changed = False
        own = view.tor_prefix[tor]
        for i in prefixes:
            if i == own:
                continue
            spec = self._prefix_spec(view, tor, i, specs)
            if spec != specs.prefixes[i]:
                specs.prefixes[i] = spec
                changed = True
        if view.exceptions or exceptions:
            found = self._exception_specs(view, tor, specs)
            if found != specs.exceptions:
                specs.exceptions = found
                changed = True
        return changed

    def _agg_specs(self, view: _Plane, agg: str, full: bool) -> list[RouteSpec]:
        """The agg's /24 specs (re-derived when its own ports changed), then its exceptions."""
        wired, live = view.agg_wired[agg], view.agg_live[agg]
        prefix_specs = self._agg_prefix_specs.get(agg)
        if full or prefix_specs is None:
            prefix_specs = self._agg_prefix_specs[agg] = [
                RouteSpec(view.plane, prefix, self._mode, live[i], wired[i])
                for i, prefix in enumerate(view.prefixes)
                if live.get(i, _NONE)
            ]
        exceptions = self._agg_exception_specs.get(agg)
        if full or exceptions is None:
            exceptions = self._agg_exception_specs[agg] = self._agg_exceptions(view, agg)
        return [*prefix_specs, *exceptions]

    def _agg_exceptions(self, view: _Plane, agg: str) -> list[RouteSpec]:
        live = view.agg_live[agg]
        specs = []
        for nic_id in view.exceptions:
            ports = view.exception_ports[nic_id].get(agg, _NONE)
            if ports and ports != live.get(view.nic_prefix[nic_id], _NONE):
                specs.append(RouteSpec(view.plane, self._host_net(nic_id), self._mode, ports, None))
        return specs

    def _rederive(self, name: str, full: bool = True, hosts: bool = True) -> SwitchState | None:
        """The switch's state from its specs: all re-derived (`full`, its own ports changed;
        `hosts`, some of them host ports), or the patched ones; stored, and returned."""
        if not self._up(name):
            self.states.pop(name, None)
            self._tor_specs.pop(name, None)
            self._agg_prefix_specs.pop(name, None)
            self._agg_exception_specs.pop(name, None)
            return None
        sw = self.fabric.switch(name)
        view = self._planes[sw.plane]
        if sw.role is Role.TOR:
            specs = self._tor_specs.get(name)
            if full or specs is None:
                keep = None if hosts or specs is None else specs
                specs = self._tor_specs[name] = self._full_tor_specs(view, name, keep)
            routes, groups = self._allocate(name, specs.rest(), specs)
        else:
            routes, groups = self._allocate(name, self._agg_specs(view, name, full))
        template = self._templates[name]
        before = self.states.get(name)
        if full or before is None:
            all_ports = frozenset(p.port for p in template.ports)
            live_ports = frozenset(p for p in all_ports if self._live(name, p))
            live = None if live_ports == all_ports else live_ports
        else:
            live = before.live_ports  # only its own ports change it
        if (
            before is not None
            and before.routes == routes
            and before.groups == groups
            and before.live_ports == live
        ):
            return before
        state = dataclasses.replace(template, routes=routes, groups=groups, live_ports=live)
        self.states[name] = state
        return state

    def _allocate(
        self, switch: str, specs: Sequence[RouteSpec], head: _TorSpecs | None = None
    ) -> tuple[tuple[Route, ...], tuple[Group, ...]]:
        """`allocate`'s routes and groups for `head`'s host specs (a ToR's) then `specs`,
        with its id assignment memoised on the sequence of distinct (mode, live, intact)
        triples, which is all the ids depend on."""
        if head is not None and head.host_firsts is None:
            head.host_firsts = {}
            for s in head.hosts:
                head.host_firsts.setdefault((s.mode, s.live, s.intact), s)
        firsts: dict[_Triple, RouteSpec] = (
            {} if head is None or head.host_firsts is None else dict(head.host_firsts)
        )
        for s in specs:
            firsts.setdefault((s.mode, s.live, s.intact), s)
        key = tuple(firsts)
        found = self._memo.get(key)
        if found is None:
            distinct = list(firsts.values())
            routes, groups = allocate(switch, distinct, self._interner)
            ids = {(s.mode, s.live): r.group_id for s, r in zip(distinct, routes, strict=True)}
            found = self._memo[key] = (ids, groups)
        ids, groups = found
        if head is None:
            return self._interner.routes(specs, ids), groups
        if head.host_routes is None:
            head.host_routes = self._interner.routes(head.hosts, ids)
        return head.host_routes + self._interner.routes(specs, ids), groups

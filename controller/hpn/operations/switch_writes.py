"""One switch's change of desired state -> the P4Runtime writes that make it, and no more.

`EntityBuilder.writes(delta)` builds only what the change moves: the members whose port
no group uses any more (or now does), each new or gone group whole, and of a group that
keeps its id only the buckets whose pair of members changed (`GroupEncoder.change`), the
routes that come, go or point elsewhere, and on Tofino the seed entries of a bucket width
that comes or goes. The entities come from `GroupEncoder`, which builds each group,
bucket change and route once and shares it between switches: a ToR-agg cable failure
gives 119 ToRs the same new group, an agg failure the same shrunk one.

The writes equal `diff_entities` of the switch's whole entity lists before and after
(tests/test_ops_failover.py checks every failure kind and its repair on both targets). A
change of anything switch-wide (ports, LB parameters, MAC, gateway addresses: no failure
changes those) falls back to that difference. A switch that went down holds nothing to
write; one that came back up gets its whole list, as a push from scratch would.

Routing interns its groups and routes (equal values are one object), so what changed is
found without hashing or comparing most of them: the lists' shared head and tail are cut
off by comparing slices whole (`differing_middle`), and routes are paired by their prefix
object before their value. Hashing a route hashes its IPv4Network, slow enough to matter
at a hundred switches of 250 routes. The cyclic collector is paused while a switch is
built: nothing built can form a cycle, and a collection would rescan the whole fabric.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import finsy as fy

from hpn.pipeline import Entity, Target, switch_entities
from hpn.pipeline import load_balancing as lb
from hpn.pipeline.group_encoding import MEMO_LIMIT, GroupEncoder, differing_middle
from hpn.routing.state import Group, LbMode, Route, SwitchState

T = TypeVar("T")


@dataclass(frozen=True)
class StateDelta:
    """One switch's change of desired state. `before`/`after` None: down."""

    switch: str
    before: SwitchState | None
    after: SwitchState | None

    @property
    def went_down(self) -> bool:
        return self.after is None

    @property
    def came_up(self) -> bool:
        return self.before is None and self.after is not None

    def groups(self) -> tuple[list[Group], list[Group]]:
        """(groups only before, groups only after), by value."""
        old = () if self.before is None else self.before.groups
        new = () if self.after is None else self.after.groups
        return only_each(old, new)

    def routes(self) -> tuple[list[Route], list[Route]]:
        """(routes only before, routes only after), by value."""
        old = () if self.before is None else self.before.routes
        new = () if self.after is None else self.after.routes
        return only_each(old, new)


def only_each(old: Sequence[T], new: Sequence[T]) -> tuple[list[T], list[T]]:
    """(items only in `old`, items only in `new`), by value, in their order; each side
    holds an item once. An object in both is equal to itself, so only the rest is hashed."""
    old, new = differing_middle(old, new)
    if not old or not new:
        return list(old), list(new)
    old_ids, new_ids = {id(x) for x in old}, {id(x) for x in new}
    old_rest = [x for x in old if id(x) not in new_ids]
    new_rest = [x for x in new if id(x) not in old_ids]
    if not old_rest or not new_rest:
        return old_rest, new_rest
    old_set, new_set = set(old_rest), set(new_rest)
    return [x for x in old_rest if x not in new_set], [x for x in new_rest if x not in old_set]


@dataclass(frozen=True)
class EntityWrites:
    """What one switch must be written: inserts in write order, deletes in delete order."""

    switch: str
    inserts: tuple[Entity, ...]
    modifies: tuple[Entity, ...]
    deletes: tuple[Entity, ...]

    @property
    def updates(self) -> int:
        return len(self.inserts) + len(self.modifies) + len(self.deletes)


def entity_key(entity: Entity) -> Hashable:
    """What a switch identifies an entity by: its table and match, or its profile and id."""
    if isinstance(entity, fy.P4TableEntry):
        match = entity.match
        return ("table", entity.table_id, tuple(sorted(match.items())) if match else (), entity.priority)
    if isinstance(entity, fy.P4ActionProfileGroup):
        return ("group", entity.action_profile_id, entity.group_id)
    return ("member", entity.action_profile_id, entity.member_id)


def diff_entities(old: Sequence[Entity], new: Sequence[Entity], switch: str = "") -> EntityWrites:
    """The writes that turn `old` into `new`."""
    old_by = {entity_key(e): e for e in old}
    new_by = {entity_key(e): e for e in new}
    inserts = tuple(e for k, e in new_by.items() if k not in old_by)
    modifies = tuple(e for k, e in new_by.items() if k in old_by and old_by[k] != e)
    deletes = tuple(e for k, e in reversed(old_by.items()) if k not in new_by)
    return EntityWrites(switch, inserts, modifies, deletes)


_FAILURE_FIELDS = frozenset({"name", "routes", "groups", "live_ports"})
_SWITCH_WIDE = tuple(f.name for f in dataclasses.fields(SwitchState) if f.name not in _FAILURE_FIELDS)
"""The fields of a state that failures do not change (and that its entities read)."""


def _same_switch_wide(before: SwitchState, after: SwitchState) -> bool:
    """Whether every entity outside groups and routes is the same (a port's ECN settings
    are left out of its equality, not out of its entities)."""
    for name in _SWITCH_WIDE:
        old, new = getattr(before, name), getattr(after, name)
        if old is not new and old != new:
            return False
    return before.ports is after.ports or all(
        a.ecn == b.ecn for a, b in zip(before.ports, after.ports, strict=True)
    )


@dataclass(frozen=True)
class _GroupSet:
    """What a switch's whole group list decides beyond its groups: the member ports, whether
    it tracks load, and on Tofino one group of each bucket width (its seed entries)."""

    ports: frozenset[int]
    track_load: bool
    widths: dict[int, Group]


@dataclass
class _Writes:
    """One switch's writes as they are collected, in write order per kind."""

    seeds: list[Entity] = dataclasses.field(default_factory=list)
    members: list[Entity] = dataclasses.field(default_factory=list)
    selectors: list[Entity] = dataclasses.field(default_factory=list)
    entries: list[Entity] = dataclasses.field(default_factory=list)
    routes: list[Entity] = dataclasses.field(default_factory=list)

    def write_order(self) -> tuple[Entity, ...]:
        return (*self.seeds, *self.members, *self.selectors, *self.entries, *self.routes)

    def delete_order(self) -> tuple[Entity, ...]:
        """Routes first, members and seed entries last: each list is already reversed."""
        return (*self.routes, *self.entries, *self.selectors, *self.members, *self.seeds)


class EntityBuilder:
    """Each switch's writes for a state delta, from what changed only (see the module)."""

    def __init__(self, target: Target = Target.BMV2) -> None:
        self.target = target
        self.encoder = GroupEncoder(target)
        self._group_sets: dict[int, tuple[tuple[Group, ...], _GroupSet]] = {}  # by identity

    def writes(self, delta: StateDelta) -> EntityWrites:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._writes(delta)
        finally:
            if collecting:
                gc.enable()

    def stream(self, deltas: Iterable[StateDelta]) -> Iterator[EntityWrites]:
        """The writes of each delta in turn, each switch's as soon as it is built."""
        for delta in deltas:
            yield self.writes(delta)

    def _group_set(self, groups: tuple[Group, ...]) -> _GroupSet:
        found = self._group_sets.get(id(groups))
        if found is None:
            widths: dict[int, Group] = {}
            if self.target is Target.TOFINO:
                for g in groups:
                    widths.setdefault(self.encoder.layout(g).bits, g)
            facts = _GroupSet(
                frozenset(p for g in groups for p in g.ports),
                any(g.mode is LbMode.ADAPTIVE for g in groups),
                widths,
            )
            if len(self._group_sets) >= MEMO_LIMIT:
                self._group_sets.clear()
            found = self._group_sets[id(groups)] = (groups, facts)  # holds `groups`: its id stays
        return found[1]

    def _writes(self, delta: StateDelta) -> EntityWrites:
        before, after, t = delta.before, delta.after, self.target
        if after is None:
            return EntityWrites(delta.switch, (), (), ())  # down: it holds nothing to write
        if before is None:
            return EntityWrites(delta.switch, tuple(switch_entities(after, t)), (), ())
        if not _same_switch_wide(before, after):
            return diff_entities(switch_entities(before, t), switch_entities(after, t), delta.switch)
        old, new = self._group_set(before.groups), self._group_set(after.groups)
        inserts, modifies, deletes = _Writes(), _Writes(), _Writes()
        self._seeds(before, after, old, new, inserts, deletes)
        self._members(old, new, inserts, deletes)
        self._groups(before, after, old.track_load, new.track_load, inserts, modifies, deletes)
        self._routes(before, after, inserts, modifies, deletes)
        return EntityWrites(
            delta.switch, inserts.write_order(), modifies.write_order(), deletes.delete_order()
        )

    def _seeds(
        self,
        before: SwitchState,
        after: SwitchState,
        old: _GroupSet,
        new: _GroupSet,
        inserts: _Writes,
        deletes: _Writes,
    ) -> None:
        """Tofino's seed_sbox entries of the bucket widths that come and go."""
        if old.widths.keys() == new.widths.keys():
            return
        added = [g for bits, g in sorted(new.widths.items()) if bits not in old.widths]
        removed = [g for bits, g in sorted(old.widths.items()) if bits not in new.widths]
        inserts.seeds.extend(lb.sbox_entries(after.lb, added, self.target))
        deletes.seeds.extend(reversed(lb.sbox_entries(before.lb, removed, self.target)))

    def _members(self, old: _GroupSet, new: _GroupSet, inserts: _Writes, deletes: _Writes) -> None:
        """The members of ports some group starts or stops using (the sentinel stays)."""
        if old.ports == new.ports:
            return
        inserts.members.extend(self.encoder.member(p) for p in sorted(new.ports - old.ports))
        deletes.members.extend(self.encoder.member(p) for p in sorted(old.ports - new.ports, reverse=True))

    def _groups(
        self,
        before: SwitchState,
        after: SwitchState,
        old_track: bool,
        track: bool,
        inserts: _Writes,
        modifies: _Writes,
        deletes: _Writes,
    ) -> None:
        """Bucket groups and next_hop entries from the list's change; the lb_group entries,
        which hold this switch's parameters, here."""
        if before.groups is after.groups and old_track == track:
            return
        enc = self.encoder
        change = enc.list_change(before.groups, after.groups)
        inserts.selectors.extend(change.inserts)
        inserts.entries.extend(enc.lb_group(g, after.lb, track_load=track) for g in change.added)
        modifies.selectors.extend(change.modifies)
        if old_track == track:
            relaid: Iterable[Group] = change.relaid
        else:  # every lb_group entry says whether the switch tracks load
            new_ids = {id(g) for g in change.added}
            relaid = [g for g in after.groups if id(g) not in new_ids]
        modifies.entries.extend(enc.lb_group(g, after.lb, track_load=track) for g in relaid)
        deletes.entries.extend(enc.lb_group(g, before.lb, track_load=old_track) for g in change.removed)
        deletes.selectors.extend(change.deletes)

    def _routes(
        self, before: SwitchState, after: SwitchState, inserts: _Writes, modifies: _Writes, deletes: _Writes
    ) -> None:
        """Routes by their match (plane, prefix): one that only moves to another group is
        modified. Routing shares prefix objects, so they are paired by identity first, and
        by value only among those left."""
        gone, came = differing_middle(before.routes, after.routes)
        if not gone and not came:
            return
        enc = self.encoder
        by_prefix = {(r.plane, id(r.prefix)): r for r in gone}
        unpaired: list[Route] = []
        for r in came:
            was = by_prefix.pop((r.plane, id(r.prefix)), None)
            if was is None:
                unpaired.append(r)
            elif was.group_id != r.group_id:
                modifies.routes.append(enc.route(r))
        left: Iterable[Route] = by_prefix.values()
        if unpaired:
            by_value = {(r.plane, r.prefix): r for r in left}
            for r in unpaired:
                was = by_value.pop((r.plane, r.prefix), None)
                if was is None:
                    inserts.routes.append(enc.route(r))
                elif was.group_id != r.group_id:
                    modifies.routes.append(enc.route(r))
            left = by_value.values()
        gone_ids = {id(r) for r in left}
        deletes.routes.extend(enc.route(r) for r in reversed(gone) if id(r) in gone_ids)

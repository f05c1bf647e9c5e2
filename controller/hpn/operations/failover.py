"""A failure view change -> the affected switches' writes, and nothing for the others.

`Failover.apply(view)` moves the incremental routing (hpn.routing.incremental) to the new
view and returns, per switch whose desired state changed, a `StateDelta` (the routes and
groups that come and go): that is the decision, and it is what `recomputed` events time.
`entity_writes(delta)` turns one delta into P4Runtime entities to insert, modify and
delete, built by hpn.pipeline for the changed groups and routes only; it equals the
difference of the switch's whole entity lists before and after (tests/test_ops_failover.py
checks both targets), which is the fallback when anything switch-wide changed. A switch
that went down holds nothing to write; one that came back up gets its whole list, as a
push from scratch would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import finsy as fy

from hpn.pipeline import Entity, Target, switch_entities
from hpn.pipeline import load_balancing as lb
from hpn.pipeline import routing as rt
from hpn.routing.failures import FailureView
from hpn.routing.incremental import IncrementalRouting
from hpn.routing.state import Group, LbMode, Route, SwitchState
from hpn.topology.model import Fabric


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
        if old is new:
            return [], []
        old_set, new_set = set(old), set(new)
        return [g for g in old if g not in new_set], [g for g in new if g not in old_set]

    def routes(self) -> tuple[list[Route], list[Route]]:
        """(routes only before, routes only after), by value."""
        old = () if self.before is None else self.before.routes
        new = () if self.after is None else self.after.routes
        if old is new:
            return [], []
        old_set, new_set = set(old), set(new)
        return [r for r in old if r not in new_set], [r for r in new if r not in old_set]


@dataclass(frozen=True)
class FailoverPlan:
    view: FailureView
    deltas: dict[str, StateDelta]  # the affected switches only, in the fabric's order
    rederived: int  # switches whose specs were re-derived (>= affected)

    @property
    def touched(self) -> list[str]:
        return list(self.deltas)


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


class Failover:
    """Desired state of a fabric that follows failure views one change at a time."""

    def __init__(self, fabric: Fabric, failures: FailureView | None = None) -> None:
        self.fabric = fabric
        self.routing = IncrementalRouting(fabric, failures)

    @property
    def view(self) -> FailureView:
        return self.routing.view

    @property
    def states(self) -> dict[str, SwitchState]:
        return self.routing.states

    def apply(self, view: FailureView) -> FailoverPlan:
        """Move to `view`: the delta of every switch whose desired state changed."""
        update = self.routing.update(view)
        deltas = {
            name: StateDelta(name, update.before[name], after) for name, after in update.changed.items()
        }
        return FailoverPlan(view, deltas, update.rederived)


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


def _switch_wide(state: SwitchState) -> SwitchState:
    """Everything of a state but what failures change (routes, groups, live ports)."""
    return dataclasses.replace(state, routes=(), groups=(), live_ports=None)


class EntityBuilder:
    """Entities of changed groups and routes, with the switch-independent ones shared."""

    def __init__(self, target: Target = Target.BMV2) -> None:
        self.target = target
        self._selectors: dict[Group, list[Entity]] = {}
        self._bits: dict[Group, int] = {}

    def _selector_groups(self, group: Group) -> list[Entity]:
        found = self._selectors.get(group)
        if found is None:
            found = self._selectors[group] = list(lb.selector_groups(group, self.target))
        return found

    def _widths(self, groups: Iterable[Group]) -> set[tuple[LbMode, int]]:
        out = set()
        for g in groups:
            bits = self._bits.get(g)
            if bits is None:
                bits = self._bits[g] = lb.group_layout(g).bits
            out.add((g.mode, bits))
        return out

    def writes(self, delta: StateDelta) -> EntityWrites:
        before, after = delta.before, delta.after
        if after is None:
            return EntityWrites(delta.switch, (), (), ())  # down: it holds nothing to write
        if before is None:
            return EntityWrites(delta.switch, tuple(switch_entities(after, self.target)), (), ())
        if (
            (before.ports is not after.ports and _switch_wide(before) != _switch_wide(after))
            or self._widths(before.groups) != self._widths(after.groups)
            or lb.tracks_load(before.groups) != lb.tracks_load(after.groups)
        ):
            return diff_entities(
                switch_entities(before, self.target), switch_entities(after, self.target), delta.switch
            )
        gone_groups, new_groups = delta.groups()
        gone_routes, new_routes = delta.routes()
        track = lb.tracks_load(after.groups)
        t = self.target

        def group_entities(groups: list[Group], params: SwitchState) -> list[Entity]:
            out: list[Entity] = []
            for g in groups:
                out.extend(self._selector_groups(g))
            for g in groups:
                out.extend(lb.group_entries(g, t, params.lb, track_load=track))
            return out

        old: list[Entity] = []
        new: list[Entity] = []
        old_ports = {p for g in before.groups for p in g.ports}
        new_ports = {p for g in after.groups for p in g.ports}
        if old_ports != new_ports:
            old.extend(lb.member_entries(old_ports, t))
            new.extend(lb.member_entries(new_ports, t))
        old.extend(group_entities(gone_groups, before))
        new.extend(group_entities(new_groups, after))
        old.extend(rt.route_entry(r, t) for r in sorted(gone_routes))
        new.extend(rt.route_entry(r, t) for r in sorted(new_routes))
        return diff_entities(old, new, delta.switch)

"""Next-hop group entities built once per value and shared, and what changes bucket by bucket.

`load_balancing` builds a group's entities whole, laying its buckets out each time (a
tournament over its members: milliseconds for a 60-member group). A failover changes one
or two groups on each of a hundred switches, and those switches mostly hold the same
groups (routing interns them: equal groups are one object), so `GroupEncoder` keeps:

- each member set's bucket layout;
- each group's bucket groups and `next_hop` entries (none of them names the switch);
- the change from one version of a group to another with the same id (`GroupChange`):
  only the buckets whose pair of members moved, and the buckets that come or go;
- the change from one switch's group list to another (`GroupListChange`): routing also
  shares whole lists between switches with the same routes, so a hundred ToRs or sixty
  aggs that lose the same thing share one.

The entities are those `load_balancing` and `routing` build (tests/test_ops_failover.py
checks every group of the mini fabrics on both targets); the `lb_group` entry carries the
switch's own parameters, so it is built per switch. Every memo starts over when it holds
`MEMO_LIMIT` values, so a long run with many failures keeps a bounded amount.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import finsy as fy

from hpn.pipeline import names
from hpn.pipeline import routing as rt
from hpn.pipeline.buckets import BucketLayout, intact_layout, live_layout
from hpn.pipeline.load_balancing import SENTINEL_MEMBER_ID, member_id, selector_group_id
from hpn.pipeline.targets import Target
from hpn.routing.state import Group, LbParams, Route

MEMO_LIMIT = 256
"""Values each memo holds before it starts over: a 256-bucket group's entities are a few
hundred kilobytes, and a pod holds about 130 distinct groups with nothing down."""

_LB_GROUP_ACTION = next(iter(names.LB_GROUP.actions))
K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")
BucketEntity = fy.P4ActionProfileGroup | fy.P4TableEntry


@dataclass(frozen=True)
class GroupChange:
    """The entities that turn one version of a group into another with the same id; the
    `lb_group` entry is the caller's (it holds switch parameters): `layout_changed` says
    whether its mode, mask or bits differ."""

    inserts: tuple[BucketEntity, ...]  # bucket groups, then next_hop
    modifies: tuple[fy.P4ActionProfileGroup, ...]
    deletes: tuple[BucketEntity, ...]  # next_hop, then bucket groups
    layout_changed: bool


@dataclass(frozen=True)
class GroupListChange:
    """The bucket entities that turn one group list into another, and whose `lb_group`
    entry (the caller's) is inserted (`added`), modified (`relaid`: its mode, mask or bits
    moved) or deleted (`removed`, in delete order). Groups are paired by id."""

    inserts: tuple[BucketEntity, ...]  # per group: bucket groups, then next_hop
    modifies: tuple[fy.P4ActionProfileGroup, ...]
    deletes: tuple[BucketEntity, ...]  # per group: next_hop, then bucket groups
    added: tuple[Group, ...]
    relaid: tuple[Group, ...]
    removed: tuple[Group, ...]


class GroupEncoder:
    """Entities of groups, members and routes for one target, memoised by value."""

    def __init__(self, target: Target = Target.BMV2) -> None:
        self.target = target
        self._profile = target.qualify(names.NH_SELECTOR)
        self._sentinel = [fy.P4Member(SENTINEL_MEMBER_ID, weight=1)] if target.has_sentinel else []
        self._intact: dict[frozenset[int], BucketLayout] = {}
        self._layouts: dict[tuple[frozenset[int], frozenset[int] | None], BucketLayout] = {}
        self._selectors: dict[Group, tuple[fy.P4ActionProfileGroup, ...]] = {}
        self._next_hops: dict[tuple[int, int], tuple[fy.P4TableEntry, ...]] = {}
        self._members: dict[int, fy.P4ActionProfileMember] = {}
        self._changes: dict[tuple[Group, Group], GroupChange] = {}
        self._list_changes: dict[tuple[int, int], tuple[object, object, GroupListChange]] = {}
        self._routes: dict[int, tuple[Route, fy.P4TableEntry]] = {}  # by the route's identity

    # -- layouts --------------------------------------------------------------------------
    def layout(self, group: Group) -> BucketLayout:
        """As `load_balancing.group_layout`, with intact layouts shared between groups."""
        key = (group.ports, group.intact)
        found = self._layouts.get(key)
        if found is None:
            live, base = group.ports, group.intact
            if base is None or not live <= base:
                found = self._intact_layout(live)
            else:
                found = live_layout(self._intact_layout(base), live)
            _bounded(self._layouts)[key] = found
        return found

    def _intact_layout(self, ports: frozenset[int]) -> BucketLayout:
        found = self._intact.get(ports)
        if found is None:
            found = _bounded(self._intact)[ports] = intact_layout(ports)
        return found

    # -- whole groups ---------------------------------------------------------------------
    def selector_groups(self, group: Group) -> tuple[fy.P4ActionProfileGroup, ...]:
        """As `load_balancing.selector_groups`."""
        found = self._selectors.get(group)
        if found is None:
            pairs = self.layout(group).pairs
            found = tuple(self.selector_group(group.group_id, b, pair) for b, pair in enumerate(pairs))
            _bounded(self._selectors)[group] = found
        return found

    def selector_group(self, group_id: int, bucket: int, pair: Iterable[int]) -> fy.P4ActionProfileGroup:
        """Bucket `bucket` of group `group_id`, holding `pair`."""
        return fy.P4ActionProfileGroup(
            self._profile,
            group_id=selector_group_id(group_id, bucket),
            max_size=self.target.group_size,
            members=[*self._sentinel, *(fy.P4Member(member_id(p), weight=(1, p)) for p in pair)],
        )

    def next_hops(self, group_id: int, buckets: int) -> tuple[fy.P4TableEntry, ...]:
        """The `next_hop` entries of buckets 0..`buckets`-1 of group `group_id`."""
        key = (group_id, buckets)
        found = self._next_hops.get(key)
        if found is None:
            found = tuple(self._next_hop(group_id, b) for b in range(buckets))
            _bounded(self._next_hops)[key] = found
        return found

    def _next_hop(self, group_id: int, bucket: int) -> fy.P4TableEntry:
        return fy.P4TableEntry(
            self.target.qualify(names.NEXT_HOP.name),
            match=fy.P4TableMatch(group_id=group_id, bucket=bucket),
            action=fy.P4IndirectAction(group_id=selector_group_id(group_id, bucket)),
        )

    def lb_group(self, group: Group, params: LbParams, *, track_load: bool) -> fy.P4TableEntry:
        """As the first entry of `load_balancing.group_entries` (the switch's parameters)."""
        t = self.target
        buckets = self.layout(group)
        return fy.P4TableEntry(
            t.qualify(names.LB_GROUP.name),
            match=fy.P4TableMatch(group_id=group.group_id),
            action=fy.P4TableAction(
                t.qualify(_LB_GROUP_ACTION),
                lb_mode=int(group.mode),
                mask=buckets.mask,
                bits=buckets.bits,
                seed=params.hash_seed & 0xFFFFFFFF,
                flowlet_gap_time=t.time_units(params.flowlet_gap_us),
                load_window_time=t.time_units(params.load_window_us),
                congested=min(params.congested_bytes, 0xFFFFFFFF),
                track=int(track_load),
            ),
        )

    def group_entities(
        self, group: Group, params: LbParams, *, track_load: bool
    ) -> tuple[tuple[fy.P4ActionProfileGroup, ...], list[fy.P4TableEntry]]:
        """(bucket groups, `lb_group` and `next_hop` entries) of a whole group."""
        selectors = self.selector_groups(group)
        entries = [self.lb_group(group, params, track_load=track_load)]
        entries.extend(self.next_hops(group.group_id, len(selectors)))
        return selectors, entries

    # -- one group's change ---------------------------------------------------------------
    def change(self, old: Group, new: Group) -> GroupChange:
        """The bucket entities that differ between two versions of group `new.group_id`."""
        if old.group_id != new.group_id:
            raise ValueError(f"a group change keeps its id: {old.group_id} -> {new.group_id}")
        key = (old, new)
        found = self._changes.get(key)
        if found is None:
            found = _bounded(self._changes)[key] = self._change(old, new)
        return found

    def _change(self, old: Group, new: Group) -> GroupChange:
        gid = new.group_id
        before, after = self.layout(old), self.layout(new)
        common = min(len(before.pairs), len(after.pairs))
        modifies = tuple(
            self.selector_group(gid, b, after.pairs[b])
            for b in range(common)
            if before.pairs[b] != after.pairs[b]
        )
        added = range(common, len(after.pairs))
        removed = range(common, len(before.pairs))
        inserts: list[BucketEntity] = [self.selector_group(gid, b, after.pairs[b]) for b in added]
        inserts.extend(self._next_hop(gid, b) for b in added)
        deletes: list[BucketEntity] = [self._next_hop(gid, b) for b in reversed(removed)]
        deletes.extend(self.selector_group(gid, b, before.pairs[b]) for b in reversed(removed))
        changed = old.mode != new.mode or before.bits != after.bits
        return GroupChange(tuple(inserts), modifies, tuple(deletes), changed)

    # -- one switch's group list's change ---------------------------------------------------
    def list_change(self, old: tuple[Group, ...], new: tuple[Group, ...]) -> GroupListChange:
        """What changes from the groups `old` to `new`, memoised on the two lists' identity
        (the memo holds them, so their ids stay theirs)."""
        key = (id(old), id(new))
        found = self._list_changes.get(key)
        if found is None:
            found = _bounded(self._list_changes)[key] = (old, new, self._list_change(old, new))
        return found[2]

    def _list_change(self, old: Sequence[Group], new: Sequence[Group]) -> GroupListChange:
        old_mid, new_mid = differing_middle(old, new)
        old_by_id = {g.group_id: g for g in old_mid}
        inserts: list[BucketEntity] = []
        modifies: list[fy.P4ActionProfileGroup] = []
        deletes: list[BucketEntity] = []
        added: list[Group] = []
        relaid: list[Group] = []
        for g in new_mid:
            was = old_by_id.pop(g.group_id, None)
            if was is None:
                selectors = self.selector_groups(g)
                inserts.extend(selectors)
                inserts.extend(self.next_hops(g.group_id, len(selectors)))
                added.append(g)
            elif was is not g and was != g:
                change = self.change(was, g)
                inserts.extend(change.inserts)
                modifies.extend(change.modifies)
                deletes.extend(change.deletes)
                if change.layout_changed:
                    relaid.append(g)
        removed = [g for g in reversed(old_mid) if g.group_id in old_by_id]
        for g in removed:
            selectors = self.selector_groups(g)
            deletes.extend(reversed(self.next_hops(g.group_id, len(selectors))))
            deletes.extend(reversed(selectors))
        return GroupListChange(
            tuple(inserts), tuple(modifies), tuple(deletes), tuple(added), tuple(relaid), tuple(removed)
        )

    # -- members and routes ---------------------------------------------------------------
    def member(self, port: int) -> fy.P4ActionProfileMember:
        """The member that sends to `port`, as `load_balancing.member_entries` has it."""
        found = self._members.get(port)
        if found is None:
            found = self._members[port] = fy.P4ActionProfileMember(
                self._profile,
                member_id=member_id(port),
                action=fy.P4TableAction(self.target.qualify(names.SET_EGRESS_PORT), port=port),
            )
        return found

    def route(self, route: Route) -> fy.P4TableEntry:
        """`routing.route_entry`, memoised on the route object (routing interns them, and
        hashing an IPv4Network is slow); the memo holds the route, so its id stays its own."""
        found = self._routes.get(id(route))
        if found is None:
            found = _bounded(self._routes)[id(route)] = (route, rt.route_entry(route, self.target))
        return found[1]


def differing_middle(old: Sequence[T], new: Sequence[T]) -> tuple[Sequence[T], Sequence[T]]:
    """`old` and `new` without the head and tail they share (equal items in the same
    places): what is left holds every difference. Slices are compared whole, which is
    quick for items that are the same objects, as routing's mostly are."""
    head = _common_head(old, new)
    old, new = old[head:], new[head:]
    tail = _common_head(old[::-1], new[::-1])
    return old[: len(old) - tail], new[: len(new) - tail]


def _common_head(old: Sequence[T], new: Sequence[T]) -> int:
    """How many first items `old` and `new` have equal: a bisection over slices."""
    lo, hi = 0, min(len(old), len(new))
    if old[:hi] == new[:hi]:
        return hi
    while hi - lo > 1:  # old[:lo] == new[:lo], old[:hi] != new[:hi]
        mid = (lo + hi) // 2
        if old[lo:mid] == new[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _bounded(memo: dict[K, V]) -> dict[K, V]:
    """`memo`, emptied first when it is full."""
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    return memo

"""Group ids: deduplicated per switch, stable across failure views, shared objects.

Each route is computed twice in one pass: with all ports (intact) and with the
live ones. Ids come from the intact view, so a failure changes the members of
a group, not the ids every route points at; only member sets that the intact
view never had get fresh ids (above every intact id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network

from hpn.routing.state import Group, LbMode, Route

MAX_GROUPS = 4096
"""Group ids are 1..MAX_GROUPS-1 (MAX_GROUPS in p4src/shared/sizes.p4); 0 is never used."""

GroupKey = tuple[LbMode, frozenset[int]]


@dataclass(frozen=True)
class RouteSpec:
    """A route before ids: live members, and the members it has with nothing down.

    `intact` is None for routes that exist only because of a failure.
    """

    plane: int
    prefix: IPv4Network
    mode: LbMode
    live: frozenset[int]
    intact: frozenset[int] | None


class GroupTableFull(RuntimeError):
    pass


class Interner:
    """Shares equal Group and Route objects between switches (big fabrics repeat them).

    Routes are keyed by the prefix object's identity (IPv4Network hashing is
    slow); callers pass the same prefix object for the same prefix. The route
    keeps its prefix alive, so an id is never reused while it is a key.
    """

    def __init__(self) -> None:
        self._groups: dict[tuple[int, LbMode, frozenset[int], frozenset[int] | None], Group] = {}
        self._routes: dict[tuple[int, int, int], Route] = {}

    def group(
        self, group_id: int, mode: LbMode, ports: frozenset[int], intact: frozenset[int] | None = None
    ) -> Group:
        key = (group_id, mode, ports, intact)
        found = self._groups.get(key)
        if found is None:
            found = self._groups[key] = Group(group_id, mode, ports, intact)
        return found

    def route(self, plane: int, prefix: IPv4Network, group_id: int) -> Route:
        key = (plane, id(prefix), group_id)
        found = self._routes.get(key)
        if found is None:
            found = self._routes[key] = Route(plane, prefix, group_id)
        return found

    def routes(self, specs: Sequence[RouteSpec], ids: dict[GroupKey, int]) -> tuple[Route, ...]:
        """The route of each spec, its group id from `ids` by (mode, live members)."""
        table = self._routes
        out = []
        for s in specs:
            group_id = ids[(s.mode, s.live)]
            found = table.get((s.plane, id(s.prefix), group_id))
            out.append(found if found is not None else self.route(s.plane, s.prefix, group_id))
        return tuple(out)


def _shrunk_from(intact: frozenset[int] | None, live: frozenset[int]) -> frozenset[int] | None:
    """The intact members when `live` is a strict subset of them, else None."""
    return intact if intact is not None and live < intact else None


def allocate(
    switch: str, specs: Sequence[RouteSpec], interner: Interner
) -> tuple[tuple[Route, ...], tuple[Group, ...]]:
    """Routes and groups of one switch; `specs` order decides the ids."""
    intact_ids: dict[GroupKey, int] = {}
    for spec in specs:
        if spec.intact is not None:
            intact_ids.setdefault((spec.mode, spec.intact), len(intact_ids) + 1)

    ids: dict[GroupKey, int] = {}
    used: set[int] = set()
    # 1. member sets the intact view also has keep that view's id
    for spec in specs:
        key = (spec.mode, spec.live)
        if key not in ids and key in intact_ids:
            ids[key] = intact_ids[key]
            used.add(ids[key])
    # 2. a shrunk group keeps the id of its intact self, if nobody holds it
    for spec in specs:
        key = (spec.mode, spec.live)
        if key not in ids and spec.intact is not None:
            own = intact_ids[(spec.mode, spec.intact)]
            if own not in used:
                ids[key] = own
                used.add(own)
    # 3. the rest get fresh ids
    fresh = len(intact_ids) + 1
    for spec in specs:
        key = (spec.mode, spec.live)
        if key not in ids:
            ids[key] = fresh
            fresh += 1

    if ids and max(ids.values()) >= MAX_GROUPS:
        raise GroupTableFull(
            f"{switch}: needs group id {max(ids.values())}, the table holds ids < {MAX_GROUPS}"
        )
    # A group that kept an intact group's id is that group shrunk: its buckets are laid out
    # from the intact members (hpn.pipeline.buckets), so healthy members keep their flows.
    intact_of = {gid: ports for (_, ports), gid in intact_ids.items()}
    routes = tuple(interner.route(s.plane, s.prefix, ids[(s.mode, s.live)]) for s in specs)
    groups = tuple(
        sorted(
            interner.group(gid, mode, ports, _shrunk_from(intact_of.get(gid), ports))
            for (mode, ports), gid in ids.items()
        )
    )
    return routes, groups

"""One switch's forwarding decision for one flow, from the state the controller writes.

What the data plane does to a packet that arrives on a port, in the program's order:
the port's plane (ingress_port_plane), the (plane, destination) LPM route to a group
(ipv4_lpm), the group's mode and buckets (lb_group), the target's hash choice of a bucket
and a pick (`hpn.paths.bmv2_model`, `hpn.paths.tofino_model`), the selector's member of
that bucket among those whose port is up (next_hop), and the plane check of the chosen
port (plane_port). The groups' buckets are `hpn.pipeline`'s layout of the same state,
so the prediction reads exactly what the controller wrote.

Ports listed as down are the ones whose members the switch itself has taken out of
selection (their watch port is oper-down), whether or not the controller knows yet.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cache, cached_property
from typing import NamedTuple

from hpn.paths import bmv2_model, tofino_model
from hpn.paths.hashing import FlowHashes
from hpn.pipeline import Target
from hpn.pipeline.drop_reasons import DropReason
from hpn.pipeline.load_balancing import group_layout, member_entries, member_id, sbox_words
from hpn.routing.state import Group, LbMode, SwitchState

_layout = cache(group_layout)
"""Equal groups are laid out alike (large fabrics share group objects between switches)."""

SENTINEL = -1
"""bmv2's sentinel member in a bucket's member list (no port: the packet is dropped)."""


class Decision(NamedTuple):
    """What a switch does with the flow: `out_port`, or why not (`drop` or `unknown`)."""

    out_port: int | None
    group_id: int | None = None
    bucket: int | None = None
    pick: int | None = None
    drop: DropReason | None = None
    unknown: str | None = None


@dataclass(frozen=True)
class GroupTable:
    """A group as next_hop holds it: per bucket, the members in selection order that are
    in selection (up), as ports (SENTINEL for bmv2's sentinel)."""

    group_id: int
    mode: LbMode
    mask: int
    bits: int
    buckets: tuple[tuple[int, ...], ...]


class SwitchModel:
    """The decisions of one switch holding `state`, on `target`, with `down_ports` down."""

    def __init__(
        self, state: SwitchState, target: Target = Target.BMV2, down_ports: Collection[int] = ()
    ) -> None:
        self.state = state
        self.target = target
        self.down = frozenset(down_ports)
        self.seed = state.lb.hash_seed & 0xFFFFFFFF
        self.port_plane = {p.port: p.plane for p in state.ports}
        self.groups: dict[int, Group] = {g.group_id: g for g in state.groups}
        self._tables: dict[int, GroupTable] = {}
        self._routes: dict[tuple[int, int], int | None] = {}

    @property
    def name(self) -> str:
        return self.state.name

    @cached_property
    def plane_ports(self) -> dict[int, frozenset[int]]:
        return self.state.plane_ports()

    @cached_property
    def _lpm(self) -> dict[int, list[tuple[int, dict[int, int]]]]:
        """plane -> [(prefix length, {network: group id})], longest first."""
        tables: dict[int, dict[int, dict[int, int]]] = {}
        for route in self.state.routes:
            net = int(route.prefix.network_address)
            tables.setdefault(route.plane, {}).setdefault(route.prefix.prefixlen, {})[net] = route.group_id
        return {plane: sorted(t.items(), reverse=True) for plane, t in tables.items()}

    def route(self, plane: int, dst: int) -> int | None:
        """The group ipv4_lpm gives (plane, destination address)."""
        key = (plane, dst)
        if key not in self._routes:
            found = None
            for length, table in self._lpm.get(plane, ()):
                found = table.get(dst & (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF)
                if found is not None:
                    break
            self._routes[key] = found
        return self._routes[key]

    @cached_property
    def _creation_rank(self) -> dict[int, int]:
        """Port -> the place its member is created in (bmv2 hands out handles in that
        order, lowest first): the order `hpn.pipeline` writes the members in."""
        ports = {p for g in self.state.groups for p in g.ports}
        order = [m.member_id for m in member_entries(ports, self.target)]
        return {p: order.index(member_id(p)) for p in ports}

    def group_table(self, group_id: int) -> GroupTable | None:
        table = self._tables.get(group_id)
        if table is None:
            group = self.groups.get(group_id)
            if group is None:
                return None
            layout = _layout(group)
            buckets = []
            for pair in layout.pairs:
                live = [p for p in pair if p not in self.down]
                if self.target.has_sentinel:
                    # handle order: the sentinel was created first of all members
                    live = [SENTINEL, *sorted(live, key=self._creation_rank.__getitem__)]
                buckets.append(tuple(live))
            table = self._tables[group_id] = GroupTable(
                group_id, group.mode, layout.mask, layout.bits, tuple(buckets)
            )
        return table

    @cached_property
    def sbox(self) -> list[int]:
        return sbox_words(self.seed)

    def decide(self, in_port: int, dst: int, hashes: FlowHashes, flowlet_id: int | None = None) -> Decision:
        """The switch's decision for a packet of the flow arriving on `in_port`.

        `flowlet_id` is the id in the flow's flowlet slot, for FLOWLET and ADAPTIVE groups:
        on bmv2 1 (a slot's first flowlet) when None; on Tofino the time the flowlet
        started, unknown when None. ADAPTIVE is taken as not moving the flowlet (its port
        was not congested)."""
        plane = self.port_plane.get(in_port)
        if plane is None:
            return Decision(None, drop=DropReason.NO_PLANE)
        group_id = self.route(plane, dst)
        table = None if group_id is None else self.group_table(group_id)
        if group_id is None or table is None:
            return Decision(None, group_id, drop=DropReason.NO_ROUTE)
        if table.mode is LbMode.SPRAY:
            return Decision(None, group_id, unknown="SPRAY: the member changes with every packet")
        if self.target is Target.BMV2:
            bucket, pick = self._bmv2_choice(table, hashes, flowlet_id)
            members = table.buckets[bucket]
            member = members[bmv2_model.selector_place(pick, len(members))]
        else:
            if table.mode is not LbMode.ECMP and flowlet_id is None:
                return Decision(
                    None, group_id, unknown=f"{table.mode.name} on Tofino: the flowlet id is its start time"
                )
            fid = 0 if table.mode is LbMode.ECMP else flowlet_id or 0
            bucket_hash, pick_hash = hashes.tofino(fid, self.seed)
            bucket, pick = tofino_model.bucket_and_pick(
                bucket_hash, pick_hash, self.sbox[bucket_hash], table.bits, fid & 1
            )
            members = table.buckets[bucket]
            member = members[tofino_model.selector_place(pick, len(members))] if members else SENTINEL
        if member == SENTINEL:
            return Decision(None, group_id, bucket, pick, drop=DropReason.NO_LIVE_MEMBER)
        if member not in self.plane_ports.get(plane, ()):
            return Decision(None, group_id, bucket, pick, drop=DropReason.PLANE_VIOLATION)
        return Decision(member, group_id, bucket, pick)

    def _bmv2_choice(self, table: GroupTable, hashes: FlowHashes, flowlet_id: int | None) -> tuple[int, int]:
        flow_hash = hashes.flow_hash()
        if table.mode is LbMode.ECMP:
            return bmv2_model.choose(flow_hash, self.seed, table.mask)
        salt, alternate = bmv2_model.flowlet_salt(
            bmv2_model.FIRST_FLOWLET_ID if flowlet_id is None else flowlet_id
        )
        return bmv2_model.choose(flow_hash, self.seed, table.mask, salt, alternate)

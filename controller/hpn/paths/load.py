"""Bytes per fabric link from a set of predicted paths, and each link's fair share.

The links that balancing decides are the ToR uplinks (ToR -> agg) and the agg downlinks
(agg -> ToR); a NIC's own link carries what its host sends whatever the fabric does. A
link's share is what it would carry if the traffic that could take it were split
evenly: for an uplink, the bytes its ToR sends up over the ToR's live uplinks; for a
downlink into a ToR, the bytes that ToR receives from aggs over the live links into it
from every agg. A plan is balanced when no link carries more than its share.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import Enum

from hpn.topology.model import Fabric, Role, SwitchPort


class Direction(str, Enum):
    UP = "up"  # ToR -> agg
    DOWN = "down"  # agg -> ToR


@dataclass(frozen=True)
class LinkLoad:
    """One directed fabric link: the port it leaves by, where it goes, bytes and share."""

    link: SwitchPort
    peer: str
    direction: Direction
    gbps: int
    bytes: int
    share: float

    @property
    def over_share(self) -> float:
        """bytes / share (1.0: exactly its share; 0 when nothing could take it)."""
        return self.bytes / self.share if self.share else 0.0


@dataclass(frozen=True)
class LinkGroups:
    """The live directed fabric links, grouped by the traffic that may take them."""

    direction: dict[SwitchPort, Direction]
    peer: dict[SwitchPort, str]
    gbps: dict[SwitchPort, int]
    group: dict[SwitchPort, str]  # uplink: its ToR; downlink: the ToR it goes to
    size: dict[str, int]  # live links per group key (direction, ToR)

    @classmethod
    def of(
        cls, fabric: Fabric, down_ports: Collection[SwitchPort], down_switches: Collection[str]
    ) -> LinkGroups:
        direction: dict[SwitchPort, Direction] = {}
        peer: dict[SwitchPort, str] = {}
        gbps: dict[SwitchPort, int] = {}
        group: dict[SwitchPort, str] = {}
        size: dict[str, int] = {}
        off = frozenset(down_switches)
        dead = frozenset(down_ports)
        role = {s.name: s.role for s in fabric.switches}
        for link in fabric.links:
            a, b = link.a, link.b
            if not (isinstance(a, SwitchPort) and isinstance(b, SwitchPort)):
                continue
            if a.switch in off or b.switch in off or a in dead or b in dead:
                continue
            for here, there in ((a, b), (b, a)):
                if role[here.switch] is role[there.switch]:
                    continue
                d = Direction.UP if role[here.switch] is Role.TOR else Direction.DOWN
                key = f"{d.value} {here.switch if d is Direction.UP else there.switch}"
                direction[here], peer[here], gbps[here], group[here] = d, there.switch, link.gbps, key
                size[key] = size.get(key, 0) + 1
        return cls(direction, peer, gbps, group, size)

    def loads(self, carried: Iterable[tuple[SwitchPort, int]]) -> list[LinkLoad]:
        """Per link of the groups that carry traffic: bytes and share, in link order."""
        on: dict[SwitchPort, int] = {}
        for link, nbytes in carried:
            if link in self.direction:
                on[link] = on.get(link, 0) + nbytes
        total: dict[str, int] = {}
        for link, nbytes in on.items():
            total[self.group[link]] = total.get(self.group[link], 0) + nbytes
        return [
            LinkLoad(
                link,
                self.peer[link],
                self.direction[link],
                self.gbps[link],
                on.get(link, 0),
                total[self.group[link]] / self.size[self.group[link]],
            )
            for link in sorted(self.direction, key=_port_key)
            if self.group[link] in total
        ]


def _port_key(link: SwitchPort) -> tuple[str, int]:
    return (link.switch, link.port)


@dataclass(frozen=True)
class Balance:
    """max/mean link load over the links of the groups that carry traffic (1.0: even)."""

    links: int
    max_bytes: int
    mean_bytes: float
    max_over_share: float

    @property
    def max_over_mean(self) -> float:
        return self.max_bytes / self.mean_bytes if self.mean_bytes else 0.0

    @classmethod
    def of(cls, loads: Iterable[LinkLoad]) -> Balance:
        rows = list(loads)
        if not rows:
            return cls(0, 0, 0.0, 0.0)
        return cls(
            len(rows),
            max(r.bytes for r in rows),
            sum(r.bytes for r in rows) / len(rows),
            max(r.over_share for r in rows),
        )

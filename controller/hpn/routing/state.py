"""Desired per-switch state: what routing computes and pipeline/ turns into entities.

This is the contract between routing/ (which knows the fabric) and pipeline/
(which knows P4 names). Everything is immutable and hashable so states can be
compared, deduplicated and diffed. LbMode, LinkRate and EcnConfig live in
hpn.params (the topology names them too) and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network

# Re-exported: LbMode, LinkRate and EcnConfig are part of this contract too.
from hpn.params import EcnConfig as EcnConfig
from hpn.params import LbMode as LbMode
from hpn.params import LinkRate as LinkRate

PORT_LIMIT = 512
"""Switch ports are numbered below this (9-bit ports, MAX_PORTS in p4src/shared/sizes.p4)."""


@dataclass(frozen=True, order=True)
class Route:
    """IPv4 route of one plane: prefix -> next-hop group."""

    plane: int
    prefix: IPv4Network
    group_id: int


@dataclass(frozen=True, order=True)
class Group:
    """Next-hop group: member ports (each port has one neighbour) and LB mode.

    `intact` are the members the group has with nothing down, when it is a shrunk view of
    that group: its buckets are laid out from them, so a failure only moves the flows of
    the dead members (hpn.pipeline.buckets).
    """

    group_id: int
    mode: LbMode
    ports: frozenset[int]
    intact: frozenset[int] | None = None


@dataclass(frozen=True, order=True)
class PortConfig:
    """One switch port: its plane, neighbour MAC, speed, ECN and INT settings."""

    port: int
    plane: int
    peer: str  # name of the neighbour (switch or "host/nic/port"), for messages
    neighbor_mac: str
    speed_gbps: int = 400
    ecn: EcnConfig | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LbParams:
    """Switch-wide load-balancing parameters."""

    hash_seed: int = 0
    flowlet_gap_us: int = 10_000
    load_window_us: int = 1_000
    congested_bytes: int = 65_536  # ADAPTIVE: a port that sent more in one load window is congested


@dataclass(frozen=True)
class SwitchState:
    """Everything one switch should hold. Port sets are port numbers."""

    name: str
    switch_mac: str
    routes: tuple[Route, ...]
    groups: tuple[Group, ...]
    ports: tuple[PortConfig, ...]
    lb: LbParams = LbParams()
    live_ports: frozenset[int] | None = None  # None: all ports up
    gateway_ips: tuple[str, ...] = ()  # addresses this switch answers ARP for (ToRs)

    def plane_ports(self) -> dict[int, frozenset[int]]:
        """Ports of each plane, from the port configs."""
        planes: dict[int, set[int]] = {}
        for p in self.ports:
            planes.setdefault(p.plane, set()).add(p.port)
        return {plane: frozenset(ports) for plane, ports in planes.items()}

"""The fabric model: switches, hosts, links and the lookups routing needs.

Everything is a frozen dataclass. A `Fabric` may hold dangling references
until `validate.check_fabric` has passed; the loader only hands out fabrics
that passed it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network

from hpn.params import EcnConfig, LbMode

NIC_PORTS = 2
"""Ports per NIC; both carry the NIC's one IP and MAC (non-stacked dual-ToR)."""

HOST_PORT_BASE = 1
"""ToR port of host index h is HOST_PORT_BASE + h (generated fabrics)."""

UPLINK_PORT_BASE = 129
"""ToR port of its k-th uplink is UPLINK_PORT_BASE + k (generated fabrics)."""

MAX_FABRIC_PORT = 254
"""Highest port a link may use: 255 is left for a CPU port (the data plane takes 9-bit ports)."""

MAX_PLANES = 4
"""Planes are a 2-bit field in the data plane."""

GRPC_PORT_BASE = 50000
"""Generated switches listen for P4Runtime on GRPC_PORT_BASE + device_id."""


class Role(str, enum.Enum):
    TOR = "tor"
    AGG = "agg"


@dataclass(frozen=True)
class Switch:
    """A ToR (tier 1, one per segment, rail and plane) or an aggregation switch (tier 2).

    `plane` is the routing plane: every port of the switch belongs to it. In a
    planes-merged fabric all switches are in plane 0.
    """

    name: str
    role: Role
    plane: int
    segment: int | None  # ToRs only
    rail: int | None  # ToRs only
    device_id: int
    grpc_port: int
    mac: str


@dataclass(frozen=True)
class Nic:
    """One backend NIC (one rail): one IP and one MAC on both of its ports."""

    rail: int
    ip: IPv4Address
    mac: str


@dataclass(frozen=True)
class Host:
    """A GPU server: one NIC per rail, `index` is its position in the segment."""

    name: str
    segment: int
    index: int
    nics: tuple[Nic, ...]

    def nic(self, rail: int) -> Nic | None:
        for nic in self.nics:
            if nic.rail == rail:
                return nic
        return None


@dataclass(frozen=True, order=True)
class SwitchPort:
    switch: str
    port: int

    def __str__(self) -> str:
        return f"{self.switch}:{self.port}"


@dataclass(frozen=True, order=True)
class NicPort:
    """Port `port` (0 or 1) of the NIC of rail `rail` of `host`."""

    host: str
    rail: int
    port: int

    def __str__(self) -> str:
        return f"{self.host}/nic{self.rail}/p{self.port}"


Endpoint = SwitchPort | NicPort

NicId = tuple[str, int]
"""One NIC as (host name, rail): how routing and the emulation key NICs."""


@dataclass(frozen=True)
class Link:
    """A cable. At least one end is a switch port; the order is the file's order."""

    a: Endpoint
    b: Endpoint
    gbps: int

    def ends(self) -> tuple[Endpoint, Endpoint]:
        return (self.a, self.b)

    def other(self, end: Endpoint) -> Endpoint:
        return self.b if end == self.a else self.a

    def __str__(self) -> str:
        return f"{self.a}--{self.b}"


@dataclass(frozen=True)
class Addressing:
    """One /24 per (segment, rail): the (segment * 256 + rail)-th /24 of `base`.

    With base 10.0.0.0/8 that is 10.<segment>.<rail>.0/24 and host index h is
    10.<segment>.<rail>.<h + 1>.
    """

    base: IPv4Network

    def subnet_count(self) -> int:
        return 1 << max(0, 24 - self.base.prefixlen)

    def fits(self, segments: int, rails: int) -> bool:
        return (
            self.base.prefixlen <= 24 and rails <= 256 and (segments - 1) * 256 + rails <= self.subnet_count()
        )

    def subnet(self, segment: int, rail: int) -> IPv4Network:
        offset = (segment * 256 + rail) * 256
        return IPv4Network((int(self.base.network_address) + offset, 24))

    def host_ip(self, segment: int, rail: int, index: int) -> IPv4Address:
        return self.subnet(segment, rail).network_address + index + 1


@dataclass(frozen=True)
class FabricSettings:
    """Fabric-wide switch settings: default LB mode, flowlet gap and ECN."""

    lb_mode: LbMode = LbMode.ECMP
    flowlet_gap_us: int = 10_000
    load_window_us: int = 1_000
    ecn: EcnConfig | None = None


@dataclass(frozen=True)
class Fabric:
    """A whole fabric plus indexes built on first use."""

    name: str
    switches: tuple[Switch, ...]
    hosts: tuple[Host, ...]
    links: tuple[Link, ...]
    addressing: Addressing
    settings: FabricSettings = field(default_factory=FabricSettings)
    planes_merged: bool = False

    # -- lookups ---------------------------------------------------------
    @cached_property
    def _switch_by_name(self) -> dict[str, Switch]:
        return {s.name: s for s in self.switches}

    @cached_property
    def _host_by_name(self) -> dict[str, Host]:
        return {h.name: h for h in self.hosts}

    @cached_property
    def _ports(self) -> dict[str, dict[int, Link]]:
        ports: dict[str, dict[int, Link]] = {s.name: {} for s in self.switches}
        for link in self.links:
            for end in link.ends():
                if isinstance(end, SwitchPort):
                    ports.setdefault(end.switch, {})[end.port] = link
        return ports

    @cached_property
    def _peers(self) -> dict[str, dict[int, Endpoint]]:
        return {
            name: {port: link.other(SwitchPort(name, port)) for port, link in sorted(ports.items())}
            for name, ports in self._ports.items()
        }

    @cached_property
    def _nic_by_id(self) -> dict[tuple[str, int], Nic]:
        return {(h.name, n.rail): n for h in self.hosts for n in h.nics}

    @cached_property
    def _nic_links(self) -> dict[NicPort, Link]:
        return {end: link for link in self.links for end in link.ends() if isinstance(end, NicPort)}

    def switch(self, name: str) -> Switch:
        return self._switch_by_name[name]

    def has_switch(self, name: str) -> bool:
        return name in self._switch_by_name

    def host(self, name: str) -> Host:
        return self._host_by_name[name]

    def has_host(self, name: str) -> bool:
        return name in self._host_by_name

    def switch_ports(self, name: str) -> dict[int, Link]:
        """Port number -> link, for one switch."""
        return self._ports.get(name, {})

    def link_at(self, switch: str, port: int) -> Link | None:
        return self._ports.get(switch, {}).get(port)

    def peer(self, switch: str, port: int) -> Endpoint | None:
        """What the cable on `switch:port` plugs into."""
        link = self.link_at(switch, port)
        return None if link is None else link.other(SwitchPort(switch, port))

    def peers(self, switch: str) -> dict[int, Endpoint]:
        """Port number -> far end, in port order, for one switch."""
        return self._peers.get(switch, {})

    def nic(self, host: str, rail: int) -> Nic | None:
        return self._nic_by_id.get((host, rail))

    def nic_link(self, nic_port: NicPort) -> Link | None:
        return self._nic_links.get(nic_port)

    def nic_switch_port(self, nic_port: NicPort) -> SwitchPort | None:
        """The ToR port a NIC port is cabled to, if any."""
        link = self._nic_links.get(nic_port)
        if link is None:
            return None
        other = link.other(nic_port)
        return other if isinstance(other, SwitchPort) else None

    def tors(self, plane: int | None = None) -> tuple[Switch, ...]:
        return tuple(s for s in self.switches if s.role is Role.TOR and plane in (None, s.plane))

    def aggs(self, plane: int | None = None) -> tuple[Switch, ...]:
        return tuple(s for s in self.switches if s.role is Role.AGG and plane in (None, s.plane))

    @cached_property
    def planes(self) -> tuple[int, ...]:
        """Routing planes in use, ascending."""
        return tuple(sorted({s.plane for s in self.switches}))

    def nics(self) -> Iterator[tuple[Host, Nic]]:
        for host in self.hosts:
            for nic in host.nics:
                yield host, nic

    @property
    def gpu_count(self) -> int:
        """One GPU per backend NIC (HPN: 8 GPUs, 8 rails per host)."""
        return sum(len(h.nics) for h in self.hosts)

    def subnet_of(self, segment: int, rail: int) -> IPv4Network:
        return self.addressing.subnet(segment, rail)

"""Failure views: which links and switches are down, and which switch ports that kills."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from hpn.topology.model import Fabric, Link, NicPort, SwitchPort


@dataclass(frozen=True)
class FailureView:
    """Links and switches that are down. Hosts never fail as a whole here."""

    links: frozenset[Link] = field(default_factory=frozenset)
    switches: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, fabric: Fabric, links: Iterable[str] = (), switches: Iterable[str] = ()) -> FailureView:
        """From names: links as `switch:port` or `host/nic<rail>/p<port>`, switches by name."""
        down_links = set()
        for spec in links:
            link = find_link(fabric, spec)
            if link is None:
                raise ValueError(f"no link at {spec!r}")
            down_links.add(link)
        down = frozenset(switches)
        unknown = sorted(name for name in down if not fabric.has_switch(name))
        if unknown:
            raise ValueError(f"unknown switch(es): {', '.join(unknown)}")
        return cls(frozenset(down_links), down)

    def __bool__(self) -> bool:
        return bool(self.links or self.switches)

    def describe(self) -> str:
        parts = [f"link {link} down" for link in sorted(self.links, key=str)]
        parts += [f"switch {name} down" for name in sorted(self.switches)]
        return ", ".join(parts) or "no failures"

    @cached_property
    def _dead_switch_ports(self) -> frozenset[SwitchPort]:
        return frozenset(end for link in self.links for end in link.ends() if isinstance(end, SwitchPort))

    def dead_ports(self, fabric: Fabric) -> frozenset[SwitchPort]:
        """Switch ports that cannot carry traffic: on a failed link or facing a failed switch."""
        dead = set(self._dead_switch_ports)
        for name in self.switches:
            for port, link in fabric.switch_ports(name).items():
                dead.add(SwitchPort(name, port))
                other = link.other(SwitchPort(name, port))
                if isinstance(other, SwitchPort):
                    dead.add(other)
        return frozenset(dead)

    def nic_port_up(self, fabric: Fabric, nic_port: NicPort) -> bool:
        """Whether a host can send on this NIC port (cabled, link up, ToR up)."""
        link = fabric.nic_link(nic_port)
        if link is None or link in self.links:
            return False
        tor = link.other(nic_port)
        return isinstance(tor, SwitchPort) and tor.switch not in self.switches


def find_link(fabric: Fabric, spec: str) -> Link | None:
    """The link at `switch:port` or at NIC port `host/nic<rail>/p<port>`."""
    if "/" in spec:
        try:
            host, nic, port = spec.split("/")
            return fabric.nic_link(NicPort(host, int(nic.removeprefix("nic")), int(port.removeprefix("p"))))
        except ValueError:
            return None
    switch, _, port = spec.rpartition(":")
    if not switch or not port.isdigit():
        return None
    return fabric.link_at(switch, int(port))

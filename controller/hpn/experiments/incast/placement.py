"""Who sends to whom in the incast, and the port everything crosses last."""

from __future__ import annotations

from dataclasses import dataclass

from hpn.emulation.emulation import Emulation
from hpn.emulation.traffic import EmulatedNic, fabric_nics
from hpn.topology.model import NicPort


@dataclass(frozen=True)
class IncastSetup:
    """Who sends to whom, and the port everything crosses last."""

    receiver: EmulatedNic
    senders: tuple[EmulatedNic, ...]
    """In start order; the last one joins later."""
    bottleneck_switch: str
    bottleneck_port: int
    nic_gbps: int
    """The receiver's host link speed: the nominal rate every agent's NIC stands for."""

    @property
    def bottleneck(self) -> str:
        return f"{self.bottleneck_switch}:{self.bottleneck_port}"

    @property
    def joiner(self) -> EmulatedNic:
        """The sender that joins later."""
        return self.senders[-1]


def incast_setup(emulation: Emulation, senders: int) -> IncastSetup:
    """The receiver (first host of the last segment, rail 0) and ``senders`` NICs on its rail in
    other segments. Raises ValueError when the fabric cannot give that (the message says why)."""
    fabric = emulation.fabric
    nics = sorted(fabric_nics(emulation.layout).values(), key=lambda n: (n.segment, n.host, n.rail))
    rail0 = [n for n in nics if n.rail == 0]
    if not rail0:
        raise ValueError(f"{fabric.name} has no NIC on rail 0")
    last_segment = max(n.segment for n in rail0)
    receiver = next(n for n in rail0 if n.segment == last_segment)
    others = [n for n in rail0 if n.segment != receiver.segment]
    if len(others) < senders:
        raise ValueError(
            f"{fabric.name} has {len(others)} NIC(s) on rail 0 outside segment {receiver.segment}; "
            f"{senders} senders need as many (topologies/hpcc-incast.yaml has 4)"
        )
    if len(receiver.ports) != 1:
        raise ValueError(
            f"{receiver} has {len(receiver.ports)} cabled ports: the incast needs single-homed NICs "
            "(planes: 1, as topologies/hpcc-incast.yaml), so that one port is the bottleneck"
        )
    port = NicPort(receiver.host, receiver.rail, 0)
    tor = fabric.nic_switch_port(port)
    link = fabric.nic_link(port)
    if tor is None or link is None:
        raise ValueError(f"{receiver} port 0 is not cabled")
    return IncastSetup(receiver, tuple(others[:senders]), tor.switch, tor.port, link.gbps)

"""The failures of each kind the campaign cuts: a different one each time where it can."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from hpn.emulation.cut_run import Cut, cable_cut, host_cable_cut, switch_kill
from hpn.emulation.emulation import Emulation
from hpn.emulation.traffic import EmulatedNic
from hpn.topology.model import Fabric, Link, NicPort, SwitchPort

T = TypeVar("T")
CABLE, HOST, AGG = "ToR-agg cable", "host cable (receiver)", "agg bmv2 killed"
KINDS = (CABLE, HOST, AGG)


def pick(items: Sequence[T], i: int) -> T:
    """The i-th choice: steps of 3 through the list, so consecutive cuts hit different
    switches, segments and planes (distinct for len(items) cuts when 3 does not divide it)."""
    return items[(3 * i) % len(items)]


def tor_uplinks(fabric: Fabric, rail: int) -> list[Link]:
    """The switch-to-switch cables of the rail's ToRs, in the topology's order."""
    return [
        link
        for link in fabric.links
        if isinstance(link.a, SwitchPort)
        and isinstance(link.b, SwitchPort)
        and any(fabric.switch(e.switch).rail == rail for e in (link.a, link.b) if isinstance(e, SwitchPort))
    ]


def nic_ports(fabric: Fabric, rail: int) -> list[NicPort]:
    """Every cabled NIC port of the rail."""
    ports = [NicPort(h.name, rail, p) for h in fabric.hosts for p in (0, 1)]
    return [p for p in ports if fabric.nic_link(p) is not None]


def cuts_per_kind(emu: Emulation, nics: Sequence[EmulatedNic], repeat: int) -> dict[str, list[Cut]]:
    """`repeat` cuts of each kind, on the lowest rail's traffic."""
    fabric = emu.fabric
    rail = min(n.rail for n in nics)
    uplinks = tor_uplinks(fabric, rail)
    ports = nic_ports(fabric, rail)
    aggs = [s.name for s in fabric.aggs()]
    return {
        CABLE: [cable_cut(emu, nics, pick(uplinks, i)) for i in range(repeat)],
        HOST: [host_cable_cut(emu, nics, pick(ports, i)) for i in range(repeat)],
        AGG: [switch_kill(emu, nics, pick(aggs, i)) for i in range(repeat)],
    }

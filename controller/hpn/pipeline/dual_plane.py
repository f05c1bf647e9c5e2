"""Entities of the dual-plane control: ingress port -> plane, plane -> ports."""

from __future__ import annotations

import finsy as fy

from hpn.pipeline import names
from hpn.pipeline.values import port_mask
from hpn.routing.state import PortConfig

_SET_PLANE = next(iter(names.INGRESS_PORT_PLANE.actions))
_SET_PLANE_PORTS = next(iter(names.PLANE_PORTS.actions))


def port_plane_entry(port: PortConfig) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        names.INGRESS_PORT_PLANE.name,
        match=fy.P4TableMatch(ingress_port=port.port),
        action=fy.P4TableAction(_SET_PLANE, plane=port.plane),
    )


def plane_ports_entry(plane: int, ports: frozenset[int]) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        names.PLANE_PORTS.name,
        match=fy.P4TableMatch(plane=plane),
        action=fy.P4TableAction(_SET_PLANE_PORTS, ports=port_mask(ports)),
    )

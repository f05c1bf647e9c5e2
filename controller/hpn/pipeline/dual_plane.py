"""Entities of the dual-plane control: ingress port -> plane (ports without one drop)."""

from __future__ import annotations

import finsy as fy

from hpn.pipeline import names
from hpn.pipeline.targets import Target
from hpn.routing.state import PortConfig


def port_plane_entry(port: PortConfig, target: Target) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        target.qualify(names.INGRESS_PORT_PLANE.name),
        match=fy.P4TableMatch(ingress_port=port.port),
        action=fy.P4TableAction(
            target.qualify(next(iter(names.INGRESS_PORT_PLANE.actions))), plane=port.plane
        ),
    )

"""Entities of the routing control: IPv4 LPM routes and the (plane, port) MAC rewrite."""

from __future__ import annotations

import finsy as fy

from hpn.pipeline import names
from hpn.pipeline.targets import Target
from hpn.pipeline.values import mac_to_int
from hpn.routing.state import PortConfig, Route

_SET_GROUP = next(iter(names.IPV4_LPM.actions))
_REWRITE = next(iter(names.PLANE_PORT.actions))


def route_entry(route: Route, target: Target) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        target.qualify(names.IPV4_LPM.name),
        # (address, prefix length) rather than "a.b.c.d/n": the runtime encodes it without parsing.
        match=fy.P4TableMatch(
            plane=route.plane, dst_addr=(int(route.prefix.network_address), route.prefix.prefixlen)
        ),
        action=fy.P4TableAction(target.qualify(_SET_GROUP), group_id=route.group_id),
    )


def plane_port_entry(switch_mac: str, port: PortConfig, target: Target) -> fy.P4TableEntry:
    """The port's MAC rewrite, in its plane only: the plane's port set."""
    return fy.P4TableEntry(
        target.qualify(names.PLANE_PORT.name),
        match=fy.P4TableMatch(plane=port.plane, port=port.port),
        action=fy.P4TableAction(
            target.qualify(_REWRITE), src_mac=mac_to_int(switch_mac), dst_mac=mac_to_int(port.neighbor_mac)
        ),
    )

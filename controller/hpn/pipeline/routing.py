"""Entities of the routing control: IPv4 LPM routes and per-port MAC rewrite."""

from __future__ import annotations

import finsy as fy

from hpn.pipeline import names
from hpn.pipeline.values import mac_to_int
from hpn.routing.state import PortConfig, Route

_SET_GROUP, _ = names.IPV4_LPM.actions
_REWRITE = next(iter(names.PORT_MAC.actions))


def route_entry(route: Route) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        names.IPV4_LPM.name,
        # (address, prefix length) rather than "a.b.c.d/n": the runtime encodes it without parsing.
        match=fy.P4TableMatch(
            plane=route.plane, dst_addr=(int(route.prefix.network_address), route.prefix.prefixlen)
        ),
        action=fy.P4TableAction(_SET_GROUP, group_id=route.group_id),
    )


def port_mac_entry(switch_mac: str, port: PortConfig) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        names.PORT_MAC.name,
        match=fy.P4TableMatch(port=port.port),
        action=fy.P4TableAction(
            _REWRITE, src_mac=mac_to_int(switch_mac), dst_mac=mac_to_int(port.neighbor_mac)
        ),
    )

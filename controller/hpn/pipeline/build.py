"""SwitchState -> the full list of P4Runtime entities one switch should hold."""

from __future__ import annotations

import finsy as fy

from hpn.pipeline import dual_plane, ecn, int_telemetry, load_balancing, routing
from hpn.routing.state import SwitchState


def switch_entities(state: SwitchState) -> list[fy.P4TableEntry]:
    """Desired entities in a stable order (defaults first, then tables)."""
    entities: list[fy.P4TableEntry] = [
        load_balancing.lb_params_entry(state.lb),
        load_balancing.liveness_entry(state.live_ports),
    ]
    for plane, ports in sorted(state.plane_ports().items()):
        entities.append(dual_plane.plane_ports_entry(plane, ports))
    for port in sorted(state.ports):
        entities.append(dual_plane.port_plane_entry(port))
        entities.append(routing.port_mac_entry(state.switch_mac, port))
        entities.append(int_telemetry.int_port_entry(port.port, port.speed_gbps))
        if port.ecn is not None:
            entities.append(ecn.ecn_entry(port.port, port.ecn))
    entities.extend(load_balancing.group_entry(g) for g in sorted(state.groups))
    entities.extend(routing.route_entry(r) for r in sorted(state.routes))
    return entities

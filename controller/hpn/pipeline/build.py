"""SwitchState -> the full list of P4Runtime entities one switch should hold."""

from __future__ import annotations

from typing import TypeAlias

import finsy as fy

from hpn.pipeline import cpu_path, dual_plane, ecn, int_telemetry, load_balancing, routing
from hpn.pipeline.targets import Target
from hpn.routing.state import SwitchState

Entity: TypeAlias = fy.P4TableEntry | fy.P4ActionProfileMember | fy.P4ActionProfileGroup


def switch_entities(state: SwitchState, target: Target = Target.BMV2) -> list[Entity]:
    """Desired entities in a stable order that can be written as it is: members before the
    groups that hold them, groups before the entries that point at them."""
    groups = sorted(state.groups)
    track_load = load_balancing.tracks_load(groups)
    entities: list[Entity] = list(load_balancing.seed_entries(state.lb, groups, target))
    for port in sorted(state.ports):
        entities.append(dual_plane.port_plane_entry(port, target))
        entities.append(routing.plane_port_entry(state.switch_mac, port, target))
        entities.append(int_telemetry.int_port_entry(port.port, port.speed_gbps, target))
        if port.ecn is not None:
            entities.extend(ecn.ecn_entries(port.port, port.ecn, target))
    entities.extend(load_balancing.member_entries((p for g in groups for p in g.ports), target))
    for group in groups:
        entities.extend(load_balancing.selector_groups(group, target))
    for group in groups:
        entities.extend(load_balancing.group_entries(group, target, state.lb, track_load=track_load))
    entities.extend(routing.route_entry(r, target) for r in sorted(state.routes))
    entities.extend(cpu_path.punt_entries(target, has_hosts=bool(state.gateway_ips)))
    entities.extend(cpu_path.gateway_arp_entries(state.switch_mac, state.gateway_ips, target))
    return entities

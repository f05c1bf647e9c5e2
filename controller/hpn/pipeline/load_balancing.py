"""Entities of the load-balancing control: groups, switch LB params, liveness."""

from __future__ import annotations

from collections.abc import Iterable

import finsy as fy

from hpn.pipeline import names
from hpn.pipeline.values import port_mask
from hpn.routing.state import Group, LbParams

_SET_GROUP = next(iter(names.GROUP_TABLE.actions))
_SET_LB_PARAMS = next(iter(names.LB_PARAMS.actions))
_SET_LIVE = next(iter(names.PORT_LIVENESS.actions))


def group_entry(group: Group) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        names.GROUP_TABLE.name,
        match=fy.P4TableMatch(group_id=group.group_id),
        action=fy.P4TableAction(_SET_GROUP, lb_mode=int(group.mode), member_ports=port_mask(group.ports)),
    )


def lb_params_entry(params: LbParams) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        names.LB_PARAMS.name,
        is_default_action=True,
        action=fy.P4TableAction(
            _SET_LB_PARAMS,
            seed=params.hash_seed & 0xFFFFFFFF,
            flowlet_gap_us=params.flowlet_gap_us,
            load_window_us=params.load_window_us,
        ),
    )


def liveness_entry(live_ports: Iterable[int] | None) -> fy.P4TableEntry:
    """Default entry of port_liveness; None means every port is up."""
    mask = (1 << names.PORT_MASK_BITS) - 1 if live_ports is None else port_mask(live_ports)
    return fy.P4TableEntry(
        names.PORT_LIVENESS.name,
        is_default_action=True,
        action=fy.P4TableAction(_SET_LIVE, ports=mask),
    )

"""Entities of the INT control: per-port HPCC link-rate index."""

from __future__ import annotations

import finsy as fy

from hpn.pipeline import names
from hpn.pipeline.targets import Target
from hpn.routing.state import LinkRate

_SET_RATE = next(iter(names.INT_PORT.actions))


def int_port_entry(port: int, speed_gbps: int, target: Target) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        target.qualify(names.INT_PORT.name),
        match=fy.P4TableMatch(port=port),
        action=fy.P4TableAction(target.qualify(_SET_RATE), rate=int(LinkRate.from_gbps(speed_gbps))),
    )

"""The switches' counters over P4Runtime: port rx/tx, member_tx and drops by reason.

`hpnctl status` reads the drops (`read_drops`); `hpnctl run` reads every counter of each
switch that answers, every `--counters-interval-ms`, into the metrics
(`read_switch_counters`, then `OperationsLoop.counters_read`). Both go through
`FabricSession.read_counters`, which leaves out (and logs) a switch it could not read.
The port counters are read at the switch's ports only, not all 512 cells: one cell per
cabled port is what the metrics show.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hpn.pipeline import Target, names
from hpn.pipeline.drop_reasons import DropReason, drops_by_reason
from hpn.runtime import CounterValue, FabricSession


@dataclass(frozen=True)
class SwitchCounters:
    """One switch's counter cells: port -> (packets, bytes), and drops by reason."""

    rx: Mapping[int, CounterValue]
    tx: Mapping[int, CounterValue]
    member_tx: Mapping[int, CounterValue]
    drops: Mapping[DropReason, int]


class CountersUnread(RuntimeError):
    """Some counter of a switch could not be read (the session logged why)."""


async def read_drops(
    session: FabricSession, target: Target, switches: Iterable[str] | None = None
) -> dict[str, dict[DropReason, int]]:
    """Packets dropped by reason, per switch, summed over every drop counter of the target
    (Tofino counts its egress drops apart). A switch one of them could not be read from is
    left out."""
    wanted = list(switches) if switches is not None else session.names
    cells = [await session.read_counters(c, switches=wanted) for c in target.drop_counters]
    return {
        name: drops_by_reason({i: v.packets for i, v in per[name].items()} for per in cells)
        for name in wanted
        if all(name in per for per in cells)
    }


async def read_switch_counters(
    session: FabricSession, target: Target, switch: str, ports: Iterable[int]
) -> SwitchCounters:
    """Every counter of `switch` at `ports`, the counters read at once; `CountersUnread`
    when one of them could not be read."""
    at = sorted(ports)
    rx, tx, member_tx, drops = await asyncio.gather(
        session.read_counters(target.qualify(names.PORT_RX_COUNTER), at, switches=[switch]),
        session.read_counters(target.qualify(names.PORT_TX_COUNTER), at, switches=[switch]),
        session.read_counters(target.qualify(names.MEMBER_COUNTER), at, switches=[switch]),
        read_drops(session, target, [switch]),
    )
    unread = [
        name
        for name, cells in (
            (names.PORT_RX_COUNTER, rx),
            (names.PORT_TX_COUNTER, tx),
            (names.MEMBER_COUNTER, member_tx),
            ("drops", drops),
        )
        if switch not in cells
    ]
    if unread:
        raise CountersUnread(f"{switch}: could not read {', '.join(unread)}")
    return SwitchCounters(rx[switch], tx[switch], member_tx[switch], drops[switch])

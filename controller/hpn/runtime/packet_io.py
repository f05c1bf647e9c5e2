"""Frames to and from a switch's CPU path, over its session's StreamChannel.

Both programs declare the same controller headers (p4src/shared/headers.p4): a packet-out
names the port to send the frame out of (`egress_port`, and a `pad` field P4Runtime needs
too), a packet-in the port the frame came in by (`ingress_port`). Only the primary client
gets packet-ins. finsy's public API carries both ways (`P4PacketOut`, `read_packets`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

import finsy as fy

from hpn.runtime.session import SwitchSession

LOG = logging.getLogger(__name__)

PACKET_IN_QUEUE = 1024
"""Packet-ins waiting for the caller at most (about 1 s of one port's punt bound x 64)."""

PACKET_IN_QUEUE = 1024
"""Packet-ins waiting for the caller at most (about 1 s of one port's punt bound x 64)."""


@dataclass(frozen=True)
class PacketIn:
    """A frame a switch punted: which switch, the port it came in by, the frame."""

    switch: str
    port: int
    frame: bytes


async def send_frame(session: SwitchSession, frame: bytes, port: int) -> None:
    """Send `frame` out of `port` of the session's switch, as it is (no table sees it)."""
    await send_frames(session, [(frame, port)])


async def send_frames(session: SwitchSession, frames: Sequence[tuple[bytes, int]]) -> None:
    """Send each (frame, port), in order, in one call: a StreamChannel takes one message
    at a time, and two concurrent writes on it fail in gRPC ('Internal error from Core')."""
    session.require_primary()
    await session.switch.write([fy.P4PacketOut(frame, egress_port=port, pad=0) for frame, port in frames])


async def packet_ins(
    session: SwitchSession, eth_types: Iterable[int] | None = None, *, queue_size: int = PACKET_IN_QUEUE
) -> AsyncIterator[PacketIn]:
    """Every packet-in of the session's switch (of `eth_types` only, when given), in order,
    for as long as the caller iterates. While `queue_size` of them wait for the caller,
    finsy drops (and logs) the next ones: the controller's own bound, after the switch's
    per-port one (PUNT_PER_WINDOW). A packet-in without an ingress port (a program
    without the controller header) is logged with its switch and skipped."""
    async for packet in session.switch.read_packets(eth_types=eth_types, queue_size=queue_size):
        port = packet.metadata.get("ingress_port")
        if not isinstance(port, int):
            LOG.warning(
                "%s: a packet-in without an ingress port (%d bytes): skipped",
                session.name,
                len(packet.payload),
            )
            continue
        yield PacketIn(session.name, port, packet.payload)

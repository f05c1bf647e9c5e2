"""The agent's packets: RoCEv2 data packets asking for INT, and ACKs echoing it.

Data: BTH (SEND_ONLY, ``int_fill``) | empty INT stack | seq, sent_ns | padding.
ACK:  BTH (ACKNOWLEDGE, ``int_echo``) | the data packet's stack | kind, ack_seq, echo_ns.

Sequence numbers count payload bytes, as the reference's ``snd_nxt`` and ACK ``seq`` do;
the BTH's 24-bit PSN counts packets. ``sent_ns`` is the sender's clock, echoed so the
sender can measure RTTs. The INT bytes themselves are hpn.telemetry.codec's.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from hpn.telemetry.codec import (
    BTH_BYTES,
    STACK_BYTES,
    Bth,
    IntDecodeError,
    IntStack,
    decode_roce_payload,
    echo_payload,
    fill_payload,
)

OPCODE_SEND_ONLY = 0x04
OPCODE_ACKNOWLEDGE = 0x11
PSN_MASK = 0xFFFFFF

_DATA = struct.Struct("!QQ")
_ACK = struct.Struct("!BQQ")
DATA_HEADER_BYTES = _DATA.size

FRAME_OVERHEAD_BYTES = 14 + 20 + 8 + BTH_BYTES + STACK_BYTES
"""Ethernet, IPv4 (no options), UDP, BTH and the stack in front of a data payload: 96 bytes."""


def frame_bytes(payload_bytes: int) -> int:
    """The Ethernet frame (without FCS) of a data packet with ``payload_bytes`` after the stack."""
    return FRAME_OVERHEAD_BYTES + payload_bytes


class AckKind(enum.IntEnum):
    ACK = 0
    NACK = 1
    """Out of order: resend from ``ack_seq`` (the reference's go-back-N NACK)."""


@dataclass(frozen=True)
class DataPacket:
    qpn: int
    psn: int
    seq: int
    sent_ns: int
    payload_bytes: int
    stack: IntStack
    """Empty when sent; as the switches filled it when received."""

    def encode(self) -> bytes:
        if self.payload_bytes < DATA_HEADER_BYTES:
            raise ValueError(f"a data payload holds the {DATA_HEADER_BYTES}-byte header")
        rest = _DATA.pack(self.seq, self.sent_ns) + bytes(self.payload_bytes - DATA_HEADER_BYTES)
        bth = Bth(opcode=OPCODE_SEND_ONLY, dest_qp=self.qpn, psn=self.psn & PSN_MASK, ack_req=True)
        return fill_payload(bth, rest, stack=self.stack)


@dataclass(frozen=True)
class Ack:
    qpn: int
    psn: int
    kind: AckKind
    ack_seq: int
    """The next byte the receiver expects (cumulative)."""
    echo_ns: int
    """``sent_ns`` of the data packet this ACK answers."""
    stack: IntStack

    def encode(self) -> bytes:
        bth = Bth(opcode=OPCODE_ACKNOWLEDGE, dest_qp=self.qpn, psn=self.psn & PSN_MASK)
        return echo_payload(bth, self.stack, _ACK.pack(self.kind, self.ack_seq, self.echo_ns))


def decode_message(payload: bytes) -> DataPacket | Ack | None:
    """The agent packet in a UDP payload; None for anything else (not RoCEv2, no stack, short)."""
    try:
        roce = decode_roce_payload(payload)
    except IntDecodeError:
        return None
    if roce.stack is None:
        return None
    bth = roce.bth
    if bth.int_fill and bth.opcode == OPCODE_SEND_ONLY and len(roce.rest) >= _DATA.size:
        seq, sent_ns = _DATA.unpack_from(roce.rest)
        return DataPacket(bth.dest_qp, bth.psn, seq, sent_ns, len(roce.rest), roce.stack)
    if bth.int_echo and bth.opcode == OPCODE_ACKNOWLEDGE and len(roce.rest) >= _ACK.size:
        kind, ack_seq, echo_ns = _ACK.unpack_from(roce.rest)
        if kind in (AckKind.ACK, AckKind.NACK):
            return Ack(bth.dest_qp, bth.psn, AckKind(kind), ack_seq, echo_ns, roce.stack)
    return None

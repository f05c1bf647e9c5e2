"""The one INT codec: the HPCC reference's IntHeader behind a RoCEv2 BTH.

No other module knows this wire format (docs/int.md describes it byte by byte). INT rides
only on RoCEv2 (IPv4 / UDP destination port 4791); the UDP payload is::

    BTH (12 bytes)    byte 4 = FECN:1 BECN:1 Resv6:6; two reserved bits say what follows:
                        0x20 BTH_INT_FILL: an INT stack follows, switches fill it
                        0x10 BTH_INT_ECHO: an echoed stack follows (an ACK), switches leave it
    stack (42 bytes)  only with one of the two bits: 5 hop slots of 8 bytes, then nhop (2 bytes)
    rest              further IB headers and payload

The stack is byte-identical to the reference's ``IntHeader`` in NORMAL mode
(alibaba-edu/High-Precision-Congestion-Control, simulation/src/network/utils/int-header.h):
each slot is the ``IntHop`` uint64 word of C bit-fields as an x86-64 host holds it, that is
little-endian with ``lineRate`` in bits 0-2, ``time`` in 3-26, ``bytes`` in 27-46 and ``qlen``
in 47-63; ``nhop`` is a little-endian uint16. A switch writes slot ``nhop % 5`` and
increments ``nhop`` (``IntHeader::PushHop``), so beyond five hops the oldest slots are
overwritten and ``nhop`` keeps counting.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, replace

ROCEV2_UDP_PORT = 4791
"""UDP destination port of RoCEv2; only these packets carry INT."""

BTH_BYTES = 12
BTH_FLAGS_OFFSET = 4
"""BTH byte holding FECN (0x80), BECN (0x40) and six reserved bits (0x3F)."""
BTH_INT_FILL = 0x20
"""Byte-4 bit (the top reserved bit): an INT stack follows the BTH and switches fill it."""
BTH_INT_ECHO = 0x10
"""Byte-4 bit: an echoed INT stack follows the BTH (an ACK); switches never touch it."""

MAX_HOPS = 5
"""Hop slots in a stack (the reference's ``IntHeader::maxHop``)."""
HOP_BYTES = 8
NHOP_BYTES = 2
STACK_BYTES = MAX_HOPS * HOP_BYTES + NHOP_BYTES
"""42: the fixed size of a stack, filled in place."""

LINK_RATE_BITS = 3
TIMESTAMP_BITS = 24
TX_BYTES_BITS = 20
QLEN_BITS = 17
TIMESTAMP_SHIFT = LINK_RATE_BITS
TX_BYTES_SHIFT = TIMESTAMP_SHIFT + TIMESTAMP_BITS
QLEN_SHIFT = TX_BYTES_SHIFT + TX_BYTES_BITS

TX_BYTES_UNIT = 128
"""Bytes per ``tx_bytes`` unit (the reference's ``byteUnit``, with ``multi`` = 1)."""
QLEN_UNIT = 80
"""Bytes per ``qlen`` unit (the reference's ``qlenUnit``, with ``multi`` = 1)."""
QLEN_MAX = (1 << QLEN_BITS) - 1
"""Switches saturate the queue length here (the reference truncates instead; docs/int.md)."""

LINK_RATE_GBPS: tuple[int, ...] = (25, 50, 100, 200, 400, 0, 0, 0)
"""Link rate by 3-bit index: the reference's ``lineRateValues``; 5-7 mean 0 (unassigned)."""

_WORD = struct.Struct("<Q")
_NHOP = struct.Struct("<H")
_BTH = struct.Struct("!BBHBBHBBH")


class IntDecodeError(ValueError):
    """Bytes that are not a well-formed INT packet; the message says what is wrong."""


def _check_width(name: str, value: int, bits: int) -> None:
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{name}={value} does not fit in {bits} bits (0..{(1 << bits) - 1})")


def link_rate_index(gbps: int) -> int:
    """The 3-bit index of a link speed (the reference's ``IntHop::Set``); ValueError if none."""
    if gbps > 0 and gbps in LINK_RATE_GBPS:
        return LINK_RATE_GBPS.index(gbps)
    known = sorted(g for g in LINK_RATE_GBPS if g)
    raise ValueError(f"link speed {gbps} Gb/s has no INT rate index (one of {known})")


def wrap_delta(prev: int, cur: int, bits: int) -> int:
    """``cur - prev`` for a counter that wraps at ``2**bits`` (``GetTimeDelta``/``GetBytesDelta``).

    Assumes at most one wrap between the samples: a longer gap cannot be seen in the bits.
    """
    return (cur - prev) % (1 << bits)


@dataclass(frozen=True)
class IntHop:
    """One hop slot, values exactly as on the wire.

    ``link_rate_index`` is the reference's ``lineRate``, ``timestamp`` its ``time`` (ns, low
    24 bits), ``tx_bytes`` its ``bytes`` (128-byte units, low 20 bits) and ``qlen`` its
    ``qlen`` (80-byte units).
    """

    link_rate_index: int = 0
    timestamp: int = 0
    tx_bytes: int = 0
    qlen: int = 0

    def __post_init__(self) -> None:
        _check_width("link_rate_index", self.link_rate_index, LINK_RATE_BITS)
        _check_width("timestamp", self.timestamp, TIMESTAMP_BITS)
        _check_width("tx_bytes", self.tx_bytes, TX_BYTES_BITS)
        _check_width("qlen", self.qlen, QLEN_BITS)

    @classmethod
    def from_port_state(cls, *, gbps: int, time_ns: int, tx_bytes: int, queued_bytes: int) -> IntHop:
        """The slot a switch writes from its egress port's state, as docs/int.md specifies.

        ``tx_bytes`` is what the port sent before this packet, ``queued_bytes`` what is queued
        at the port as this packet leaves.
        """
        return cls(
            link_rate_index=link_rate_index(gbps),
            timestamp=time_ns % (1 << TIMESTAMP_BITS),
            tx_bytes=(tx_bytes // TX_BYTES_UNIT) % (1 << TX_BYTES_BITS),
            qlen=min(queued_bytes // QLEN_UNIT, QLEN_MAX),
        )

    @property
    def link_rate_gbps(self) -> int:
        """Link rate in Gb/s; 0 for the unassigned indices 5-7, as in the reference."""
        return LINK_RATE_GBPS[self.link_rate_index]

    @property
    def link_rate_bps(self) -> int:
        """``GetLineRate()``: bit/s, 0 for the unassigned indices."""
        return self.link_rate_gbps * 1_000_000_000

    @property
    def tx_bytes_in_bytes(self) -> int:
        """``GetBytes()``: the (wrapped) byte counter in bytes."""
        return self.tx_bytes * TX_BYTES_UNIT

    @property
    def qlen_bytes(self) -> int:
        """``GetQlen()``: the queue in bytes."""
        return self.qlen * QLEN_UNIT

    @property
    def word(self) -> int:
        """The 64-bit ``IntHop`` word (lineRate in the least significant bits)."""
        return (
            self.link_rate_index
            | (self.timestamp << TIMESTAMP_SHIFT)
            | (self.tx_bytes << TX_BYTES_SHIFT)
            | (self.qlen << QLEN_SHIFT)
        )

    @classmethod
    def from_word(cls, word: int) -> IntHop:
        return cls(
            link_rate_index=word & ((1 << LINK_RATE_BITS) - 1),
            timestamp=(word >> TIMESTAMP_SHIFT) & ((1 << TIMESTAMP_BITS) - 1),
            tx_bytes=(word >> TX_BYTES_SHIFT) & ((1 << TX_BYTES_BITS) - 1),
            qlen=word >> QLEN_SHIFT,
        )

    def encode(self) -> bytes:
        return _WORD.pack(self.word)

    @classmethod
    def decode(cls, data: bytes) -> IntHop:
        if len(data) != HOP_BYTES:
            raise IntDecodeError(f"an INT hop slot is {HOP_BYTES} bytes, got {len(data)}")
        return cls.from_word(_WORD.unpack(data)[0])


def timestamp_delta(prev: IntHop, cur: IntHop) -> int:
    """Nanoseconds from ``prev`` to ``cur`` at one hop (wraps at 2^24 ns, about 16.8 ms)."""
    return wrap_delta(prev.timestamp, cur.timestamp, TIMESTAMP_BITS)


def unwrap_step_ns(wrapped_ns: int, sender_step_ns: int) -> int:
    """A switch's step between two probes, from its stamps' difference modulo the 2^24 ns wrap.

    The step is ``wrapped_ns`` plus the whole wraps that bring it closest to the sender's own
    step between the same probes: what moves it off the sender's step is how much later (or
    sooner) the second probe reached the switch than the first, and that stays within half a
    wrap (8.4 ms) either way. Stamps that stood still, or went back by less than half a wrap
    less the sender's step, give a step of 0 or less.
    """
    wrap = 1 << TIMESTAMP_BITS
    half = wrap // 2
    return sender_step_ns + (wrapped_ns - sender_step_ns + half) % wrap - half


def tx_units_delta(prev: IntHop, cur: IntHop) -> int:
    """``tx_bytes`` units (128 bytes each) sent between ``prev`` and ``cur`` (wraps at 2^20)."""
    return wrap_delta(prev.tx_bytes, cur.tx_bytes, TX_BYTES_BITS)


def tx_bytes_delta(prev: IntHop, cur: IntHop) -> int:
    """Bytes sent on the hop's egress port between ``prev`` and ``cur`` (``GetBytesDelta``)."""
    return tx_units_delta(prev, cur) * TX_BYTES_UNIT


EMPTY_HOP = IntHop()


@dataclass(frozen=True)
class IntStack:
    """The 42-byte stack: five slots and ``nhop``, the number of hops that pushed a slot.

    Slot ``k % 5`` holds hop ``k``; with ``nhop > 5`` the slots hold the last five hops.
    """

    slots: tuple[IntHop, ...] = (EMPTY_HOP,) * MAX_HOPS
    nhop: int = 0

    def __post_init__(self) -> None:
        if len(self.slots) != MAX_HOPS:
            raise ValueError(f"an INT stack has exactly {MAX_HOPS} slots, got {len(self.slots)}")
        _check_width("nhop", self.nhop, 8 * NHOP_BYTES)

    @classmethod
    def from_hops(cls, hops: Iterable[IntHop]) -> IntStack:
        """The stack after the given hops pushed in path order (as switches would fill it)."""
        stack = cls()
        for hop in hops:
            stack = stack.push(hop)
        return stack

    def push(self, hop: IntHop) -> IntStack:
        """What a switch does (``IntHeader::PushHop``): write slot ``nhop % 5``, count the hop."""
        slots = list(self.slots)
        slots[self.nhop % MAX_HOPS] = hop
        return IntStack(tuple(slots), self.nhop + 1)

    @property
    def overflowed(self) -> bool:
        """More hops than slots: the first hops were overwritten (HPCC skips such a stack)."""
        return self.nhop > MAX_HOPS

    @property
    def hops(self) -> tuple[IntHop, ...]:
        """The slots that hold hops, oldest first: hop ``nhop - len(hops)`` .. hop ``nhop - 1``."""
        if self.nhop <= MAX_HOPS:
            return self.slots[: self.nhop]
        first = self.nhop % MAX_HOPS
        return self.slots[first:] + self.slots[:first]

    def encode(self) -> bytes:
        return b"".join(hop.encode() for hop in self.slots) + _NHOP.pack(self.nhop)


def decode_stack(data: bytes) -> IntStack:
    """The stack in the first 42 bytes of ``data``. Every 42 bytes are a valid stack."""
    if len(data) < STACK_BYTES:
        raise IntDecodeError(f"truncated INT stack: need {STACK_BYTES} bytes, got {len(data)}")
    slots = tuple(IntHop.decode(bytes(data[i * HOP_BYTES : (i + 1) * HOP_BYTES])) for i in range(MAX_HOPS))
    (nhop,) = _NHOP.unpack_from(data, MAX_HOPS * HOP_BYTES)
    return IntStack(slots, nhop)


@dataclass(frozen=True)
class Bth:
    """RoCEv2 Base Transport Header (12 bytes), with the two INT bits of byte 4 by name.

    ``reserved`` holds the other four reserved bits of byte 4 (0x0F), ``reserved_a`` the seven
    below the AckReq bit of byte 8, so a decoded header encodes to the same bytes. The ICRC is
    not modelled: bmv2 never checks it.
    """

    opcode: int = 0x04  # RC SEND_ONLY
    dest_qp: int = 0
    psn: int = 0
    partition_key: int = 0xFFFF
    ack_req: bool = False
    solicited: bool = False
    mig_req: bool = False
    pad_count: int = 0
    transport_version: int = 0
    fecn: bool = False
    becn: bool = False
    int_fill: bool = False
    int_echo: bool = False
    reserved: int = 0
    reserved_a: int = 0

    def __post_init__(self) -> None:
        _check_width("opcode", self.opcode, 8)
        _check_width("dest_qp", self.dest_qp, 24)
        _check_width("psn", self.psn, 24)
        _check_width("partition_key", self.partition_key, 16)
        _check_width("pad_count", self.pad_count, 2)
        _check_width("transport_version", self.transport_version, 4)
        _check_width("reserved", self.reserved, 4)
        _check_width("reserved_a", self.reserved_a, 7)

    @property
    def carries_stack(self) -> bool:
        return self.int_fill or self.int_echo

    def encode(self) -> bytes:
        flags = (int(self.solicited) << 7) | (int(self.mig_req) << 6) | (self.pad_count << 4)
        byte4 = (
            (int(self.fecn) << 7)
            | (int(self.becn) << 6)
            | (BTH_INT_FILL if self.int_fill else 0)
            | (BTH_INT_ECHO if self.int_echo else 0)
            | self.reserved
        )
        return _BTH.pack(
            self.opcode,
            flags | self.transport_version,
            self.partition_key,
            byte4,
            self.dest_qp >> 16,
            self.dest_qp & 0xFFFF,
            (int(self.ack_req) << 7) | self.reserved_a,
            self.psn >> 16,
            self.psn & 0xFFFF,
        )

    @classmethod
    def decode(cls, data: bytes) -> Bth:
        if len(data) < BTH_BYTES:
            raise IntDecodeError(f"truncated BTH: need {BTH_BYTES} bytes, got {len(data)}")
        opcode, flags, pkey, byte4, qp_hi, qp_lo, byte8, psn_hi, psn_lo = _BTH.unpack_from(data)
        return cls(
            opcode=opcode,
            dest_qp=(qp_hi << 16) | qp_lo,
            psn=(psn_hi << 16) | psn_lo,
            partition_key=pkey,
            ack_req=bool(byte8 >> 7),
            solicited=bool(flags >> 7),
            mig_req=bool((flags >> 6) & 1),
            pad_count=(flags >> 4) & 0x3,
            transport_version=flags & 0xF,
            fecn=bool(byte4 >> 7),
            becn=bool((byte4 >> 6) & 1),
            int_fill=bool(byte4 & BTH_INT_FILL),
            int_echo=bool(byte4 & BTH_INT_ECHO),
            reserved=byte4 & 0x0F,
            reserved_a=byte8 & 0x7F,
        )


@dataclass(frozen=True)
class RocePayload:
    """A RoCEv2 UDP payload split at the INT stack; ``stack`` is None when the BTH says none."""

    bth: Bth
    stack: IntStack | None
    rest: bytes

    @property
    def echoed(self) -> bool:
        """The stack is an echo (an ACK's) rather than one for switches to fill."""
        return self.bth.int_echo


@dataclass(frozen=True)
class IntPayload:
    """A RoCEv2 UDP payload that carries a stack (to fill, or echoed)."""

    bth: Bth
    stack: IntStack
    rest: bytes

    @property
    def echoed(self) -> bool:
        return self.bth.int_echo


def encode_roce_payload(bth: Bth, stack: IntStack | None = None, rest: bytes = b"") -> bytes:
    """BTH, the stack when the BTH's INT bits ask for one, then ``rest``.

    A stack must come with exactly one of ``int_fill``/``int_echo`` set, and none without.
    """
    if bth.int_fill and bth.int_echo:
        raise ValueError("a BTH sets either int_fill or int_echo, not both")
    if bth.carries_stack != (stack is not None):
        raise ValueError(
            "a stack goes with a BTH that sets int_fill or int_echo"
            if stack is None
            else "a BTH without int_fill/int_echo carries no stack"
        )
    return bth.encode() + (b"" if stack is None else stack.encode()) + rest


def fill_payload(bth: Bth, rest: bytes = b"", *, stack: IntStack | None = None) -> bytes:
    """A data packet's UDP payload asking switches to fill a stack (empty unless given)."""
    return encode_roce_payload(_with_int(bth, fill=True), IntStack() if stack is None else stack, rest)


def echo_payload(bth: Bth, stack: IntStack, rest: bytes = b"") -> bytes:
    """An ACK's UDP payload echoing ``stack`` back to the sender; switches leave it alone."""
    return encode_roce_payload(_with_int(bth, fill=False), stack, rest)


def _with_int(bth: Bth, *, fill: bool) -> Bth:
    return replace(bth, int_fill=fill, int_echo=not fill)


def decode_roce_payload(payload: bytes) -> RocePayload:
    """Split a RoCEv2 UDP payload (ending where the UDP length says) into BTH, stack, rest."""
    bth = Bth.decode(payload)
    if bth.int_fill and bth.int_echo:
        raise IntDecodeError("BTH sets both INT bits (0x20 fill and 0x10 echo)")
    if not bth.carries_stack:
        return RocePayload(bth, None, bytes(payload[BTH_BYTES:]))
    stack = decode_stack(bytes(payload[BTH_BYTES:]))
    return RocePayload(bth, stack, bytes(payload[BTH_BYTES + STACK_BYTES :]))


def decode_int_payload(payload: bytes) -> IntPayload:
    """Like decode_roce_payload, for a payload that must carry a stack (IntDecodeError if not)."""
    roce = decode_roce_payload(payload)
    if roce.stack is None:
        raise IntDecodeError(
            f"no INT stack: BTH byte 4 is 0x{roce.bth.encode()[BTH_FLAGS_OFFSET]:02x}, "
            f"neither 0x{BTH_INT_FILL:02x} (fill) nor 0x{BTH_INT_ECHO:02x} (echo) is set"
        )
    return IntPayload(roce.bth, roce.stack, roce.rest)

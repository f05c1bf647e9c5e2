"""The one INT codec: shim + HPCC hop records, as p4src/v1model/control/int.p4 writes them.

No other module knows this wire format. A packet carries INT when it is IPv4/UDP with
DSCP == DSCP_INT; the UDP payload then starts with::

    shim (4 bytes)    version:4  reserved:3  overflow:1 | max_hops:8 | nhop:16
    nhop records      link_rate:3  timestamp:24  tx_bytes:20  qlen:17   (8 bytes each)
    original payload  (for RoCEv2: the BTH, then the RDMA payload)

All fields are big-endian, most significant bit first. The record field order is that of
the HPCC reference ``IntHop`` (alibaba-edu High-Precision-Congestion-Control, int-header.h:
lineRate, time, bytes, qlen). Record ``i`` was written by the ``i``-th switch on the path.
See docs/int.md for how each field is derived on bmv2 and what its unit is.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

DSCP_INT = 0x17
"""IPv4 DSCP that marks a UDP packet as carrying the INT shim."""
INT_VERSION = 1
MAX_HOPS = 5
"""Records a stack holds (HPCC reference maxHop); a further hop only sets ``overflow``."""

SHIM_BYTES = 4
HOP_BYTES = 8

LINK_RATE_BITS = 3
TIMESTAMP_BITS = 24
TX_BYTES_BITS = 20
QLEN_BITS = 17

TX_BYTES_UNIT = 128
"""Bytes per ``tx_bytes`` unit (HPCC byteUnit; the switch writes its byte counter >> 7)."""
HPCC_QLEN_UNIT = 80
"""Bytes per ``qlen`` unit in the HPCC reference. bmv2 writes packets instead (docs/int.md)."""
QLEN_MAX = (1 << QLEN_BITS) - 1
"""The switch saturates the queue length here."""

LINK_RATE_GBPS: tuple[int | None, ...] = (25, 50, 100, 200, 400, 10, None, None)
"""Link rate by 3-bit index (HPCC lineRateValues; 6 and 7 are unassigned)."""

_SHIM = struct.Struct("!BBH")
_HOP = struct.Struct("!Q")


class IntDecodeError(ValueError):
    """Bytes that are not a well-formed INT stack; the message says what is wrong."""


def _check_width(name: str, value: int, bits: int) -> None:
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{name}={value} does not fit in {bits} bits (0..{(1 << bits) - 1})")


def wrap_delta(prev: int, cur: int, bits: int) -> int:
    """``cur - prev`` for a counter that wraps at ``2**bits``.

    Assumes at most one wrap between the samples: a gap longer than the counter's period
    cannot be seen in the bits a record carries.
    """
    return (cur - prev) % (1 << bits)


@dataclass(frozen=True)
class IntHop:
    """One hop record, values exactly as on the wire (see the unit constants)."""

    link_rate_index: int
    timestamp: int
    tx_bytes: int
    qlen: int

    def __post_init__(self) -> None:
        _check_width("link_rate_index", self.link_rate_index, LINK_RATE_BITS)
        _check_width("timestamp", self.timestamp, TIMESTAMP_BITS)
        _check_width("tx_bytes", self.tx_bytes, TX_BYTES_BITS)
        _check_width("qlen", self.qlen, QLEN_BITS)

    @property
    def link_rate_gbps(self) -> int | None:
        """Link rate in Gb/s, ``None`` for the unassigned indices 6 and 7."""
        return LINK_RATE_GBPS[self.link_rate_index]

    @property
    def link_rate_bps(self) -> float | None:
        gbps = self.link_rate_gbps
        return None if gbps is None else gbps * 1e9

    @property
    def tx_bytes_in_bytes(self) -> int:
        """The (wrapped) byte counter in bytes: ``tx_bytes * 128``."""
        return self.tx_bytes * TX_BYTES_UNIT

    def encode(self) -> bytes:
        word = (
            (self.link_rate_index << (TIMESTAMP_BITS + TX_BYTES_BITS + QLEN_BITS))
            | (self.timestamp << (TX_BYTES_BITS + QLEN_BITS))
            | (self.tx_bytes << QLEN_BITS)
            | self.qlen
        )
        return _HOP.pack(word)

    @classmethod
    def decode(cls, data: bytes) -> IntHop:
        if len(data) != HOP_BYTES:
            raise IntDecodeError(f"an INT hop record is {HOP_BYTES} bytes, got {len(data)}")
        (word,) = _HOP.unpack(data)
        return cls(
            link_rate_index=word >> (TIMESTAMP_BITS + TX_BYTES_BITS + QLEN_BITS),
            timestamp=(word >> (TX_BYTES_BITS + QLEN_BITS)) & ((1 << TIMESTAMP_BITS) - 1),
            tx_bytes=(word >> QLEN_BITS) & ((1 << TX_BYTES_BITS) - 1),
            qlen=word & QLEN_MAX,
        )


def timestamp_delta(prev: IntHop, cur: IntHop) -> int:
    """Timestamp ticks from ``prev`` to ``cur`` (wraps at 2^24; bmv2 ticks are microseconds)."""
    return wrap_delta(prev.timestamp, cur.timestamp, TIMESTAMP_BITS)


def tx_units_delta(prev: IntHop, cur: IntHop) -> int:
    """``tx_bytes`` units (128 bytes each) sent between ``prev`` and ``cur`` (wraps at 2^20)."""
    return wrap_delta(prev.tx_bytes, cur.tx_bytes, TX_BYTES_BITS)


def tx_bytes_delta(prev: IntHop, cur: IntHop) -> int:
    """Bytes sent on the egress port between ``prev`` and ``cur`` (HPCC GetBytesDelta)."""
    return tx_units_delta(prev, cur) * TX_BYTES_UNIT


@dataclass(frozen=True)
class IntShim:
    """The 4-byte shim as raw fields. Any in-range value encodes, so tests can build malformed shims."""

    version: int = INT_VERSION
    overflow: bool = False
    max_hops: int = MAX_HOPS
    nhop: int = 0
    reserved: int = 0

    def __post_init__(self) -> None:
        _check_width("version", self.version, 4)
        _check_width("reserved", self.reserved, 3)
        _check_width("max_hops", self.max_hops, 8)
        _check_width("nhop", self.nhop, 16)

    @property
    def malformed(self) -> bool:
        """What the switch treats as malformed (forwarded untouched, counted COUNT_INT_MALFORMED)."""
        return self.version != INT_VERSION or self.nhop > MAX_HOPS

    def encode(self) -> bytes:
        first = (self.version << 4) | (self.reserved << 1) | int(self.overflow)
        return _SHIM.pack(first, self.max_hops, self.nhop)

    @classmethod
    def decode(cls, data: bytes) -> IntShim:
        """Decode the first 4 bytes of ``data`` without judging the values."""
        if len(data) < SHIM_BYTES:
            raise IntDecodeError(f"truncated INT shim: need {SHIM_BYTES} bytes, got {len(data)}")
        first, max_hops, nhop = _SHIM.unpack_from(data)
        return cls(
            version=first >> 4,
            overflow=bool(first & 1),
            max_hops=max_hops,
            nhop=nhop,
            reserved=(first >> 1) & 0x7,
        )


@dataclass(frozen=True)
class IntStack:
    """A well-formed shim with its records; ``hops[i]`` is the ``i``-th switch on the path."""

    version: int = INT_VERSION
    overflow: bool = False
    max_hops: int = MAX_HOPS
    hops: tuple[IntHop, ...] = ()
    reserved: int = 0

    def __post_init__(self) -> None:
        if len(self.hops) > MAX_HOPS:
            raise ValueError(f"an INT stack holds at most {MAX_HOPS} records, got {len(self.hops)}")
        IntShim(self.version, self.overflow, self.max_hops, len(self.hops), self.reserved)

    @property
    def nhop(self) -> int:
        return len(self.hops)

    @property
    def shim(self) -> IntShim:
        return IntShim(self.version, self.overflow, self.max_hops, self.nhop, self.reserved)

    @property
    def size(self) -> int:
        """Bytes of shim plus records."""
        return stack_size(self.nhop)

    def encode(self) -> bytes:
        return self.shim.encode() + b"".join(hop.encode() for hop in self.hops)


def stack_size(nhop: int) -> int:
    """Bytes of a shim followed by ``nhop`` records."""
    return SHIM_BYTES + HOP_BYTES * nhop


def decode_stack(data: bytes) -> tuple[IntStack, int]:
    """Decode the shim and records at the start of ``data``; also return the bytes consumed.

    Raises IntDecodeError for a truncated shim, a version other than INT_VERSION, a hop
    count above MAX_HOPS (both of which the switch forwards untouched as malformed), or
    fewer record bytes than the hop count promises.
    """
    shim = IntShim.decode(data)
    if shim.version != INT_VERSION:
        raise IntDecodeError(f"INT shim version {shim.version} is not supported (expected {INT_VERSION})")
    if shim.nhop > MAX_HOPS:
        raise IntDecodeError(
            f"INT shim says nhop={shim.nhop}, more than the {MAX_HOPS} records a stack holds"
        )
    size = stack_size(shim.nhop)
    if len(data) < size:
        raise IntDecodeError(
            f"INT shim says nhop={shim.nhop} ({shim.nhop * HOP_BYTES} bytes of records) "
            f"but only {len(data) - SHIM_BYTES} bytes follow the shim"
        )
    hops = tuple(
        IntHop.decode(data[SHIM_BYTES + i * HOP_BYTES : SHIM_BYTES + (i + 1) * HOP_BYTES])
        for i in range(shim.nhop)
    )
    stack = IntStack(shim.version, shim.overflow, shim.max_hops, hops, shim.reserved)
    return stack, size


def decode_udp_payload(payload: bytes) -> tuple[IntStack, bytes]:
    """Split the UDP payload of an INT packet into the stack and the original payload.

    ``payload`` must end where the UDP length says (no Ethernet padding).
    """
    stack, size = decode_stack(payload)
    return stack, bytes(payload[size:])


def make_int_probe(
    hops: Iterable[IntHop] = (), *, overflow: bool = False, max_hops: int = MAX_HOPS
) -> IntStack:
    """The stack a sender starts with: no records (or pre-filled ones, to test later hops)."""
    return IntStack(overflow=overflow, max_hops=max_hops, hops=tuple(hops))


def encode_probe_payload(
    app_payload: bytes = b"",
    hops: Iterable[IntHop] = (),
    *,
    overflow: bool = False,
    max_hops: int = MAX_HOPS,
) -> bytes:
    """The UDP payload a sender puts on the wire: shim (+ records) then ``app_payload``."""
    return make_int_probe(hops, overflow=overflow, max_hops=max_hops).encode() + app_payload

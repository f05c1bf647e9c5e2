"""INT codec: the stack's bytes against hand-computed words and the reference's C layout."""

from __future__ import annotations

import ctypes
import struct
from pathlib import Path

import pytest

from hpn.telemetry.codec import (
    BTH_BYTES,
    LINK_RATE_GBPS,
    MAX_HOPS,
    QLEN_MAX,
    STACK_BYTES,
    Bth,
    IntDecodeError,
    IntHop,
    IntStack,
    decode_int_payload,
    decode_roce_payload,
    decode_stack,
    echo_payload,
    encode_roce_payload,
    fill_payload,
    link_rate_index,
    timestamp_delta,
    tx_bytes_delta,
    tx_units_delta,
)

DOCS_INT = Path(__file__).resolve().parents[1] / "docs" / "int.md"

CHECK_HOP = IntHop(link_rate_index=2, timestamp=0x123456, tx_bytes=0xABCDE, qlen=0x1FFFF)
CHECK_BYTES = bytes.fromhex("b2 a2 91 f0 e6 d5 ff ff")
"""word = 2 | 0x123456 << 3 | 0xABCDE << 27 | 0x1FFFF << 47 = 0xFFFFD5E6F091A2B2, little-endian."""


def hop(i: int) -> IntHop:
    return IntHop(link_rate_index=i % 5, timestamp=0x10000 * i + 1, tx_bytes=0x1000 * i + 2, qlen=i * 3)


# --- the hop word ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "wire"),
    [
        (CHECK_HOP, "b2a291f0e6d5ffff"),
        (IntHop(7, 0, 0, 0), "0700000000000000"),  # lineRate: bits 0-2
        (IntHop(0, 1, 0, 0), "0800000000000000"),  # time LSB: bit 3
        (IntHop(0, 0xFFFFFF, 0, 0), "f8ffff0700000000"),  # time: bits 3-26 = 0x07FFFFF8
        (IntHop(0, 0, 1, 0), "0000000800000000"),  # bytes LSB: bit 27 = 0x08000000
        (IntHop(0, 0, 0xFFFFF, 0), "000000f8ff7f0000"),  # bytes: bits 27-46 = 0x00007FFFF8000000
        (IntHop(0, 0, 0, 1), "0000000000800000"),  # qlen LSB: bit 47 = 0x0000800000000000
        (IntHop(0, 0, 0, 0x1FFFF), "000000000080ffff"),  # qlen: bits 47-63
    ],
)
def test_hop_word_bit_layout(record: IntHop, wire: str) -> None:
    assert record.encode() == bytes.fromhex(wire)
    assert IntHop.decode(bytes.fromhex(wire)) == record


def test_check_value_word() -> None:
    assert CHECK_HOP.word == 0xFFFFD5E6F091A2B2
    assert CHECK_HOP.encode() == CHECK_BYTES
    assert IntHop.from_word(0xFFFFD5E6F091A2B2) == CHECK_HOP


@pytest.mark.parametrize(
    "kwargs",
    [
        {"link_rate_index": 8},
        {"timestamp": 1 << 24},
        {"tx_bytes": 1 << 20},
        {"qlen": QLEN_MAX + 1},
        {"link_rate_index": -1},
    ],
)
def test_hop_fields_out_of_range_rejected(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        IntHop(**kwargs)


def test_hop_slot_of_wrong_size() -> None:
    with pytest.raises(IntDecodeError, match="8 bytes, got 7"):
        IntHop.decode(bytes(7))


def test_link_rate_table_is_the_references() -> None:
    # lineRateValues = {25G, 50G, 100G, 200G, 400G, 0, 0, 0}
    assert [IntHop(i).link_rate_gbps for i in range(8)] == [25, 50, 100, 200, 400, 0, 0, 0]
    assert IntHop(2).link_rate_bps == 100_000_000_000
    assert IntHop(5).link_rate_bps == 0
    assert [link_rate_index(g) for g in (25, 50, 100, 200, 400)] == [0, 1, 2, 3, 4]
    assert LINK_RATE_GBPS.index(400) == 4
    for unknown in (0, 10, 40):
        with pytest.raises(ValueError, match=f"{unknown} Gb/s has no INT rate index"):
            link_rate_index(unknown)


def test_units_in_bytes() -> None:
    assert IntHop(tx_bytes=3).tx_bytes_in_bytes == 3 * 128
    assert IntHop(qlen=3).qlen_bytes == 3 * 80


def test_from_port_state_truncates_wraps_and_saturates() -> None:
    made = IntHop.from_port_state(
        gbps=100,
        time_ns=(5 << 24) + 0x123456,  # low 24 bits
        tx_bytes=(3 << 20) * 128 + 0xABCDE * 128 + 127,  # 128-byte units, low 20 bits
        queued_bytes=80 * 7 + 79,  # 80-byte units, rounded down
    )
    assert made == IntHop(2, 0x123456, 0xABCDE, 7)
    full = IntHop.from_port_state(gbps=400, time_ns=0, tx_bytes=0, queued_bytes=80 * (QLEN_MAX + 10))
    assert full.qlen == QLEN_MAX
    with pytest.raises(ValueError, match="10 Gb/s"):
        IntHop.from_port_state(gbps=10, time_ns=0, tx_bytes=0, queued_bytes=0)


# --- the reference's C layout ------------------------------------------------------------------


class _RefIntHopBits(ctypes.Structure):
    """``IntHop``'s anonymous struct: uint64_t lineRate:3, time:24, bytes:20, qlen:17."""

    _fields_ = [
        ("lineRate", ctypes.c_uint64, 3),
        ("time", ctypes.c_uint64, 24),
        ("bytes", ctypes.c_uint64, 20),
        ("qlen", ctypes.c_uint64, 17),
    ]


class _RefIntHop(ctypes.Union):
    """``IntHop``: the bit-fields over ``uint32_t buf[2]`` (what Serialize writes)."""

    _anonymous_ = ("f",)
    _fields_ = [("f", _RefIntHopBits), ("buf", ctypes.c_uint32 * 2)]


class _RefIntHeader(ctypes.Structure):
    """``IntHeader`` in NORMAL mode: IntHop hop[5]; uint16_t nhop; 42 bytes, no padding."""

    _pack_ = 1
    _fields_ = [("hop", _RefIntHop * MAX_HOPS), ("nhop", ctypes.c_uint16)]


def _ref_hop(h: IntHop) -> _RefIntHop:
    ref = _RefIntHop()
    ref.lineRate, ref.time, ref.bytes, ref.qlen = h.link_rate_index, h.timestamp, h.tx_bytes, h.qlen
    return ref


def test_reference_struct_layout_sizes() -> None:
    assert ctypes.sizeof(_RefIntHop) == 8
    assert ctypes.sizeof(_RefIntHeader) == STACK_BYTES == 42


def test_check_value_matches_reference_struct() -> None:
    assert bytes(_ref_hop(CHECK_HOP)) == CHECK_BYTES == CHECK_HOP.encode()


def test_reference_serialize_writes_the_same_bytes() -> None:
    # IntHeader::Serialize writes buf[0], buf[1] with ns-3's WriteU32, least significant byte first.
    ref = _ref_hop(CHECK_HOP)
    assert struct.pack("<II", ref.buf[0], ref.buf[1]) == CHECK_HOP.encode()


def test_stack_matches_reference_header() -> None:
    hops = [CHECK_HOP, *(hop(i) for i in range(1, MAX_HOPS))]
    ref = _RefIntHeader()
    for i, h in enumerate(hops):
        ref.hop[i] = _ref_hop(h)
    ref.nhop = 0x0105
    stack = IntStack(tuple(hops), 0x0105)
    assert bytes(ref) == stack.encode()
    back = _RefIntHeader.from_buffer_copy(stack.encode())
    assert back.nhop == 0x0105
    fields = [(r.lineRate, r.time, r.bytes, r.qlen) for r in back.hop]
    assert fields == [(h.link_rate_index, h.timestamp, h.tx_bytes, h.qlen) for h in hops]


def test_docs_example_is_the_reference_layout() -> None:
    hops = [CHECK_HOP, IntHop(link_rate_index=4, timestamp=0x12A0F8, tx_bytes=0x123, qlen=25)]
    ref = _RefIntHeader()
    ref.hop[0], ref.hop[1] = _ref_hop(hops[0]), _ref_hop(hops[1])
    ref.nhop = 2
    assert bytes(ref) == IntStack.from_hops(hops).encode()
    payload = Bth(dest_qp=0x12, psn=7, ack_req=True, int_fill=True).encode() + bytes(ref)
    text = DOCS_INT.read_text()
    assert f"= 0x{hops[0].word:016X}" in text and f"= 0x{hops[1].word:016X}" in text
    for off, size in [(0, 12), (12, 8), (20, 8), (28, 8), (36, 8), (44, 8), (52, 2)]:
        line = f"{off:02x}  {payload[off : off + size].hex(' ')}"
        assert line in text, f"docs/int.md lacks the dump line {line!r}"


# --- the stack ---------------------------------------------------------------------------------


def test_empty_stack_is_42_zero_bytes() -> None:
    assert IntStack().encode() == bytes(42)
    assert decode_stack(bytes(42)) == IntStack()


def test_nhop_is_little_endian_after_the_slots() -> None:
    wire = IntStack(nhop=0x0102).encode()
    assert wire[40:] == b"\x02\x01"


def test_push_writes_slot_nhop_mod_5() -> None:
    stack = IntStack.from_hops(hop(i) for i in range(3))
    assert stack.nhop == 3
    assert stack.slots == (hop(0), hop(1), hop(2), IntHop(), IntHop())
    assert stack.hops == (hop(0), hop(1), hop(2))
    assert not stack.overflowed
    assert stack.encode()[16:24] == hop(2).encode()


def test_beyond_five_hops_the_oldest_slots_are_overwritten() -> None:
    stack = IntStack.from_hops(hop(i) for i in range(7))  # hops 5 and 6 land in slots 0 and 1
    assert stack.nhop == 7
    assert stack.overflowed
    assert stack.slots == (hop(5), hop(6), hop(2), hop(3), hop(4))
    assert stack.hops == (hop(2), hop(3), hop(4), hop(5), hop(6))


@pytest.mark.parametrize("nhop", [0, 1, 5, 6, 11, 0xFFFF])
def test_stack_round_trip(nhop: int) -> None:
    stack = IntStack(tuple(hop(i) for i in range(MAX_HOPS)), nhop)
    wire = stack.encode()
    assert len(wire) == STACK_BYTES
    assert decode_stack(wire + b"rest") == stack


def test_any_42_bytes_are_a_stack() -> None:
    stack = decode_stack(b"\xff" * 42)
    assert stack.nhop == 0xFFFF
    assert stack.slots == (IntHop(7, 0xFFFFFF, 0xFFFFF, QLEN_MAX),) * 5


@pytest.mark.parametrize("length", [0, 8, 41])
def test_truncated_stack(length: int) -> None:
    with pytest.raises(IntDecodeError, match=f"need 42 bytes, got {length}"):
        decode_stack(bytes(length))


def test_stack_needs_five_slots_and_16_bit_nhop() -> None:
    with pytest.raises(ValueError, match="exactly 5 slots"):
        IntStack((IntHop(),) * 4)
    with pytest.raises(ValueError, match="nhop=65536"):
        IntStack(nhop=1 << 16)


# --- wraparound deltas -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prev_ts", "cur_ts", "delta"),
    [(100, 250, 150), (0xFFFFF0, 0x10, 0x20), (0xFFFFFF, 0, 1), (7, 7, 0)],
)
def test_timestamp_delta_wraps_at_2_pow_24(prev_ts: int, cur_ts: int, delta: int) -> None:
    assert timestamp_delta(IntHop(timestamp=prev_ts), IntHop(timestamp=cur_ts)) == delta


@pytest.mark.parametrize(
    ("prev_tx", "cur_tx", "units"),
    [(10, 15, 5), (0xFFFFF, 1, 2), (0xFFFFE, 0xFFFFF, 1), (9, 9, 0)],
)
def test_tx_bytes_delta_wraps_at_2_pow_20(prev_tx: int, cur_tx: int, units: int) -> None:
    prev, cur = IntHop(tx_bytes=prev_tx), IntHop(tx_bytes=cur_tx)
    assert tx_units_delta(prev, cur) == units
    assert tx_bytes_delta(prev, cur) == units * 128


# --- BTH and the RoCEv2 payload ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("bth", "wire"),
    [
        (Bth(opcode=0x0A, dest_qp=0xABCDEF, psn=0x123456, ack_req=True), "0a00ffff00abcdef80123456"),
        (Bth(int_fill=True), "0400ffff2000000000000000"),
        (Bth(int_echo=True), "0400ffff1000000000000000"),
        (Bth(fecn=True, becn=True, int_fill=True, reserved=0xF), "0400ffffef00000000000000"),
        (Bth(solicited=True, pad_count=3, transport_version=1, reserved_a=0x7F), "04b1ffff000000007f000000"),
    ],
)
def test_bth_layout(bth: Bth, wire: str) -> None:
    assert bth.encode() == bytes.fromhex(wire)
    assert Bth.decode(bytes.fromhex(wire)) == bth


def test_fill_payload_is_bth_empty_stack_rest() -> None:
    wire = fill_payload(Bth(dest_qp=7), b"rest")
    assert wire == Bth(dest_qp=7, int_fill=True).encode() + bytes(42) + b"rest"
    assert wire[4] == 0x20
    roce = decode_roce_payload(wire)
    assert roce.stack == IntStack()
    assert not roce.echoed
    assert roce.rest == b"rest"


def test_echo_payload_carries_the_stack_back() -> None:
    stack = IntStack.from_hops([hop(1), hop(2)])
    wire = echo_payload(Bth(opcode=0x11), stack, b"ack")
    assert wire[4] == 0x10
    assert wire[BTH_BYTES : BTH_BYTES + 42] == stack.encode()
    got = decode_int_payload(wire)
    assert got.echoed and got.stack == stack and got.rest == b"ack"


def test_payload_without_int_bits_has_no_stack() -> None:
    wire = encode_roce_payload(Bth(), None, b"data")
    roce = decode_roce_payload(wire)
    assert roce.stack is None
    assert roce.rest == b"data"
    with pytest.raises(IntDecodeError, match="no INT stack: BTH byte 4 is 0x00"):
        decode_int_payload(wire)


def test_both_int_bits_are_rejected() -> None:
    wire = bytearray(fill_payload(Bth()))
    wire[4] |= 0x10
    with pytest.raises(IntDecodeError, match="both INT bits"):
        decode_roce_payload(bytes(wire))
    with pytest.raises(ValueError, match="not both"):
        encode_roce_payload(Bth(int_fill=True, int_echo=True), IntStack())


def test_stack_and_bth_bits_must_agree() -> None:
    with pytest.raises(ValueError, match="goes with a BTH"):
        encode_roce_payload(Bth(int_fill=True), None)
    with pytest.raises(ValueError, match="carries no stack"):
        encode_roce_payload(Bth(), IntStack())


@pytest.mark.parametrize("length", [0, 11])
def test_truncated_bth(length: int) -> None:
    with pytest.raises(IntDecodeError, match="truncated BTH"):
        decode_roce_payload(bytes(length))


def test_truncated_stack_after_bth() -> None:
    with pytest.raises(IntDecodeError, match="truncated INT stack"):
        decode_roce_payload(fill_payload(Bth())[:-1])

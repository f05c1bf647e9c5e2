"""INT codec, packet helpers and collector: bit layout against hand-computed bytes."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from hpn.telemetry.codec import (
    DSCP_INT,
    HOP_BYTES,
    INT_VERSION,
    LINK_RATE_GBPS,
    MAX_HOPS,
    QLEN_MAX,
    SHIM_BYTES,
    IntDecodeError,
    IntHop,
    IntShim,
    IntStack,
    decode_stack,
    decode_udp_payload,
    encode_probe_payload,
    make_int_probe,
    stack_size,
    timestamp_delta,
    tx_bytes_delta,
    tx_units_delta,
)
from hpn.telemetry.collector import HPCC_UNITS, IntCollector, bmv2_units, hop_utilisation, tx_rate_bps
from hpn.telemetry.packets import (
    ETH_BYTES,
    ROCEV2_UDP_PORT,
    Bth,
    decode_int_packet,
    int_udp_packet,
    internet_checksum,
    validate_lengths_and_checksums,
)

P4SRC = Path(__file__).resolve().parents[1] / "p4src"


def hop(i: int) -> IntHop:
    return IntHop(link_rate_index=i % 6, timestamp=0x10000 * i + 1, tx_bytes=0x1000 * i + 2, qlen=i * 3)


# --- bit layout -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "wire"),
    [
        (IntHop(2, 0x123456, 0xABCDE, 0x1FFFF), "42468ad579bdffff"),
        (IntHop(7, 0, 0, 0), "e000000000000000"),
        (IntHop(0, 1, 0, 0), "0000002000000000"),  # timestamp LSB is bit 37
        (IntHop(0, 0xFFFFFF, 0, 0), "1fffffe000000000"),
        (IntHop(0, 0, 1, 0), "0000000000020000"),  # tx_bytes LSB is bit 17
        (IntHop(0, 0, 0xFFFFF, 0), "0000001ffffe0000"),
        (IntHop(0, 0, 0, 1), "0000000000000001"),
        (IntHop(0, 0, 0, 0x1FFFF), "000000000001ffff"),
    ],
)
def test_hop_record_bit_layout(record: IntHop, wire: str) -> None:
    assert record.encode() == bytes.fromhex(wire)
    assert IntHop.decode(bytes.fromhex(wire)) == record


@pytest.mark.parametrize(
    ("shim", "wire"),
    [
        (IntShim(), "10050000"),
        (IntShim(overflow=True, nhop=5), "11050005"),
        (IntShim(version=1, reserved=7, max_hops=0xAB, nhop=0x0102), "1eab0102"),
        (IntShim(version=0xF, nhop=0xFFFF), "f005ffff"),
    ],
)
def test_shim_bit_layout(shim: IntShim, wire: str) -> None:
    assert shim.encode() == bytes.fromhex(wire)
    assert IntShim.decode(bytes.fromhex(wire)) == shim


def test_probe_payload_is_empty_shim_then_app_bytes() -> None:
    assert encode_probe_payload(b"hello") == bytes.fromhex("10050000") + b"hello"
    assert make_int_probe() == IntStack()
    assert make_int_probe().encode() == bytes.fromhex("10050000")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"link_rate_index": 8, "timestamp": 0, "tx_bytes": 0, "qlen": 0},
        {"link_rate_index": 0, "timestamp": 1 << 24, "tx_bytes": 0, "qlen": 0},
        {"link_rate_index": 0, "timestamp": 0, "tx_bytes": 1 << 20, "qlen": 0},
        {"link_rate_index": 0, "timestamp": 0, "tx_bytes": 0, "qlen": QLEN_MAX + 1},
        {"link_rate_index": -1, "timestamp": 0, "tx_bytes": 0, "qlen": 0},
    ],
)
def test_hop_fields_out_of_range_rejected(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        IntHop(**kwargs)


def test_stack_holds_at_most_max_hops() -> None:
    with pytest.raises(ValueError, match="at most 5"):
        IntStack(hops=tuple(hop(i) for i in range(MAX_HOPS + 1)))


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("nhop", range(MAX_HOPS + 1))
@pytest.mark.parametrize("overflow", [False, True])
def test_stack_round_trip(nhop: int, overflow: bool) -> None:
    stack = IntStack(overflow=overflow, hops=tuple(hop(i) for i in range(nhop)))
    wire = stack.encode()
    assert len(wire) == stack.size == stack_size(nhop) == SHIM_BYTES + HOP_BYTES * nhop
    assert wire[3] == nhop
    assert wire[0] & 1 == int(overflow)
    rest = b"\x0a\x0b payload"
    decoded, remaining = decode_udp_payload(wire + rest)
    assert decoded == stack
    assert remaining == rest
    assert decode_stack(wire) == (stack, len(wire))


def test_records_keep_path_order() -> None:
    stack = IntStack(hops=(hop(1), hop(2), hop(3)))
    decoded, _ = decode_udp_payload(stack.encode())
    assert [h.timestamp for h in decoded.hops] == [0x10001, 0x20001, 0x30001]


def test_reserved_bits_survive_round_trip() -> None:
    stack = IntStack(reserved=5, hops=(hop(1),))
    assert decode_udp_payload(stack.encode())[0].reserved == 5


def test_link_rate_and_byte_helpers() -> None:
    assert [IntHop(i, 0, 0, 0).link_rate_gbps for i in range(8)] == [25, 50, 100, 200, 400, 10, None, None]
    assert IntHop(2, 0, 0, 0).link_rate_bps == 100e9
    assert IntHop(6, 0, 0, 0).link_rate_bps is None
    assert IntHop(0, 0, 3, 0).tx_bytes_in_bytes == 384


# --- wraparound deltas ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prev_ts", "cur_ts", "delta"),
    [(100, 250, 150), (0xFFFFF0, 0x10, 0x20), (0xFFFFFF, 0, 1), (7, 7, 0)],
)
def test_timestamp_delta_wraps_at_2_pow_24(prev_ts: int, cur_ts: int, delta: int) -> None:
    assert timestamp_delta(IntHop(0, prev_ts, 0, 0), IntHop(0, cur_ts, 0, 0)) == delta


@pytest.mark.parametrize(
    ("prev_tx", "cur_tx", "units"),
    [(10, 15, 5), (0xFFFFF, 1, 2), (0xFFFFE, 0xFFFFF, 1), (9, 9, 0)],
)
def test_tx_bytes_delta_wraps_at_2_pow_20(prev_tx: int, cur_tx: int, units: int) -> None:
    prev, cur = IntHop(0, 0, prev_tx, 0), IntHop(0, 0, cur_tx, 0)
    assert tx_units_delta(prev, cur) == units
    assert tx_bytes_delta(prev, cur) == units * 128


# --- decode errors and malformed shims --------------------------------------------------------


@pytest.mark.parametrize("length", range(SHIM_BYTES))
def test_truncated_shim(length: int) -> None:
    with pytest.raises(IntDecodeError, match="truncated INT shim"):
        decode_udp_payload(bytes.fromhex("10050000")[:length])


@pytest.mark.parametrize("version", [0, 2, 15])
def test_bad_version(version: int) -> None:
    wire = IntShim(version=version).encode()
    assert IntShim.decode(wire).malformed
    with pytest.raises(IntDecodeError, match=f"version {version} is not supported"):
        decode_udp_payload(wire)


@pytest.mark.parametrize("nhop", [6, 0xFFFF])
def test_nhop_above_max_hops(nhop: int) -> None:
    wire = IntShim(nhop=nhop).encode() + bytes(HOP_BYTES * 6)
    assert IntShim.decode(wire).malformed
    with pytest.raises(IntDecodeError, match=f"nhop={nhop}, more than the 5"):
        decode_udp_payload(wire)


@pytest.mark.parametrize(("nhop", "present"), [(1, 0), (1, 7), (3, 16), (5, 39)])
def test_nhop_bigger_than_bytes_present(nhop: int, present: int) -> None:
    wire = IntShim(nhop=nhop).encode() + bytes(present)
    with pytest.raises(IntDecodeError, match=f"nhop={nhop} .* only {present} bytes follow"):
        decode_udp_payload(wire)


def test_well_formed_shims_are_not_malformed() -> None:
    assert not any(IntShim(nhop=n).malformed for n in range(MAX_HOPS + 1))
    assert not IntShim(overflow=True, nhop=5, max_hops=0).malformed


def test_record_of_wrong_size() -> None:
    with pytest.raises(IntDecodeError, match="8 bytes, got 7"):
        IntHop.decode(bytes(7))


# --- agreement with the P4 source -------------------------------------------------------------


def _p4_consts(*files: str) -> dict[str, int]:
    text = "\n".join((P4SRC / "shared" / f).read_text() for f in files)
    consts = {m[1]: int(m[2], 0) for m in re.finditer(r"const\s+bit<\d+>\s+(\w+)\s*=\s*(\w+);", text)}
    consts |= {m[1]: int(m[2], 0) for m in re.finditer(r"#define\s+(\w+)\s+(\w+)", text) if m[2][0].isdigit()}
    return consts


def test_constants_match_p4_source() -> None:
    c = _p4_consts("defines.p4", "sizes.p4")
    assert c["DSCP_INT"] == DSCP_INT
    assert c["INT_VERSION"] == INT_VERSION
    assert c["INT_MAX_HOPS"] == MAX_HOPS
    assert c["INT_SHIM_BYTES"] == SHIM_BYTES
    assert c["INT_HOP_BYTES"] == HOP_BYTES
    gbps = {name: int(name.split("_")[-1].rstrip("G")) for name in c if name.startswith("LINK_RATE_")}
    assert {c[name]: rate for name, rate in gbps.items()} == {
        i: g for i, g in enumerate(LINK_RATE_GBPS) if g is not None
    }


def test_header_field_widths_match_p4_source() -> None:
    text = (P4SRC / "shared" / "headers.p4").read_text()

    def fields(header: str) -> list[tuple[str, int]]:
        body = re.search(rf"header {header} \{{(.*?)\}}", text, re.S)
        assert body is not None
        return [(m[2], int(m[1])) for m in re.finditer(r"bit<(\d+)>\s+(\w+);", body[1])]

    assert fields("int_shim_t") == [
        ("version", 4),
        ("reserved", 3),
        ("overflow", 1),
        ("max_hops", 8),
        ("nhop", 16),
    ]
    assert fields("int_hop_t") == [("link_rate", 3), ("timestamp", 24), ("tx_bytes", 20), ("qlen", 17)]


# --- scapy packets ----------------------------------------------------------------------------


def test_int_udp_packet_decodes() -> None:
    hops = (hop(1), hop(2))
    pkt = int_udp_packet("10.0.0.1", "10.0.1.1", 1234, 5678, b"app data", hops=hops, ecn=2)
    raw = bytes(pkt)
    assert raw[ETH_BYTES + 1] == (DSCP_INT << 2) | 2
    stack, payload = decode_int_packet(raw)
    assert stack == IntStack(hops=hops)
    assert payload == b"app data"
    assert decode_int_packet(pkt) == (stack, payload)  # a scapy packet works too
    assert decode_int_packet(raw[ETH_BYTES:], ethernet=False) == (stack, payload)
    assert validate_lengths_and_checksums(raw) == []


def test_rocev2_packet_has_bth_after_records() -> None:
    bth = Bth(opcode=0x0A, dest_qp=0xABCDEF, psn=0x123456, ack_req=True)
    pkt = int_udp_packet(
        "10.0.0.1", "10.0.1.1", 49152, ROCEV2_UDP_PORT, b"rdma", hops=(hop(3),), bth=bth, udp_checksum=False
    )
    raw = bytes(pkt)
    assert struct.unpack_from("!H", raw, ETH_BYTES + 20 + 6)[0] == 0
    stack, payload = decode_int_packet(raw)
    assert stack.hops == (hop(3),)
    assert payload[:12] == bytes.fromhex("0a00ffff00abcdef80123456")
    assert Bth.decode(payload) == bth
    assert payload[12:] == b"rdma"
    assert validate_lengths_and_checksums(raw) == []


def test_ethernet_padding_is_not_payload() -> None:
    raw = bytes(int_udp_packet("10.0.0.1", "10.0.1.1", 1, 2, b"x"))
    assert len(raw) < 60
    padded = raw + bytes(60 - len(raw))
    assert decode_int_packet(padded) == (IntStack(), b"x")
    assert validate_lengths_and_checksums(padded) == []


def test_malformed_shim_packet() -> None:
    pkt = int_udp_packet("10.0.0.1", "10.0.1.1", 1, 2, b"x", int_bytes=IntShim(nhop=9).encode())
    with pytest.raises(IntDecodeError, match="nhop=9"):
        decode_int_packet(bytes(pkt))
    assert validate_lengths_and_checksums(bytes(pkt)) == []


def test_non_int_packets_rejected() -> None:
    plain = int_udp_packet("10.0.0.1", "10.0.1.1", 1, 2, b"x", dscp=0)
    with pytest.raises(IntDecodeError, match="not an INT packet: DSCP 0x00"):
        decode_int_packet(bytes(plain))
    raw = bytearray(bytes(int_udp_packet("10.0.0.1", "10.0.1.1", 1, 2)))
    raw[ETH_BYTES + 9] = 6
    with pytest.raises(IntDecodeError, match="not UDP"):
        decode_int_packet(bytes(raw))
    raw = bytearray(bytes(int_udp_packet("10.0.0.1", "10.0.1.1", 1, 2)))
    raw[12:14] = b"\x86\xdd"
    with pytest.raises(IntDecodeError, match="not IPv4"):
        decode_int_packet(bytes(raw))


def test_udp_length_beyond_frame_is_an_error() -> None:
    raw = bytes(int_udp_packet("10.0.0.1", "10.0.1.1", 1, 2, b"abcdefgh", hops=(hop(1),)))
    with pytest.raises(IntDecodeError, match="UDP length says"):
        decode_int_packet(raw[:-4])


# --- length and checksum validation -----------------------------------------------------------

IP_OFF = ETH_BYTES
UDP_OFF = ETH_BYTES + 20


def _good() -> bytearray:
    return bytearray(bytes(int_udp_packet("10.0.0.1", "10.0.1.1", 1000, 2000, b"payload!", hops=(hop(1),))))


def test_corrupted_ipv4_checksum_detected() -> None:
    raw = _good()
    raw[IP_OFF + 10] ^= 0xFF
    problems = validate_lengths_and_checksums(bytes(raw))
    assert len(problems) == 1
    assert problems[0].startswith("IPv4 checksum")


def test_corrupted_udp_checksum_detected() -> None:
    raw = _good()
    raw[UDP_OFF + 7] ^= 0x01
    problems = validate_lengths_and_checksums(bytes(raw))
    assert len(problems) == 1
    assert problems[0].startswith("UDP checksum")


def test_corrupted_int_record_breaks_udp_checksum() -> None:
    raw = _good()
    raw[UDP_OFF + 8 + SHIM_BYTES] ^= 0x80
    assert any(p.startswith("UDP checksum") for p in validate_lengths_and_checksums(bytes(raw)))


def test_zero_udp_checksum_means_none() -> None:
    raw = _good()
    raw[UDP_OFF + 6 : UDP_OFF + 8] = b"\x00\x00"
    assert validate_lengths_and_checksums(bytes(raw)) == []


def _set_u16(raw: bytearray, off: int, value: int) -> None:
    raw[off : off + 2] = struct.pack("!H", value)


def _fix_ipv4_checksum(raw: bytearray) -> None:
    _set_u16(raw, IP_OFF + 10, 0)
    _set_u16(raw, IP_OFF + 10, internet_checksum(bytes(raw[IP_OFF:UDP_OFF])))


def test_wrong_ipv4_total_length_detected() -> None:
    for delta in (+8, -8):
        raw = _good()
        total = struct.unpack_from("!H", raw, IP_OFF + 2)[0]
        _set_u16(raw, IP_OFF + 2, total + delta)
        _fix_ipv4_checksum(raw)
        problems = validate_lengths_and_checksums(bytes(raw))
        assert any(p.startswith(f"IPv4 total length {total + delta}") for p in problems), problems


def test_wrong_udp_length_detected() -> None:
    raw = _good()
    udp_len = struct.unpack_from("!H", raw, UDP_OFF + 4)[0]
    _set_u16(raw, UDP_OFF + 4, udp_len + 8)
    problems = validate_lengths_and_checksums(bytes(raw))
    assert any(p.startswith(f"UDP length {udp_len + 8}") for p in problems), problems


def _append_hop_like_the_switch(raw: bytearray, record: IntHop, *, update_udp_length: bool = True) -> bytes:
    """An independent model of int.p4's append: records, shim, both lengths, both checksums."""
    shim_off = UDP_OFF + 8
    nhop = struct.unpack_from("!H", raw, shim_off + 2)[0]
    insert_at = shim_off + SHIM_BYTES + HOP_BYTES * nhop
    raw[insert_at:insert_at] = record.encode()
    _set_u16(raw, shim_off + 2, nhop + 1)
    _set_u16(raw, IP_OFF + 2, struct.unpack_from("!H", raw, IP_OFF + 2)[0] + HOP_BYTES)
    if update_udp_length:
        _set_u16(raw, UDP_OFF + 4, struct.unpack_from("!H", raw, UDP_OFF + 4)[0] + HOP_BYTES)
    _fix_ipv4_checksum(raw)
    udp_len = struct.unpack_from("!H", raw, UDP_OFF + 4)[0]
    _set_u16(raw, UDP_OFF + 6, 0)
    pseudo = bytes(raw[IP_OFF + 12 : IP_OFF + 20]) + struct.pack("!BBH", 0, 17, udp_len)
    _set_u16(raw, UDP_OFF + 6, internet_checksum(pseudo + bytes(raw[UDP_OFF : UDP_OFF + udp_len])) or 0xFFFF)
    return bytes(raw)


def test_switch_style_appends_decode_in_path_order() -> None:
    raw = bytearray(bytes(int_udp_packet("10.0.0.1", "10.0.1.1", 1, 2, b"app")))
    for i in range(1, 4):
        raw = bytearray(_append_hop_like_the_switch(raw, hop(i)))
        assert validate_lengths_and_checksums(bytes(raw)) == []
    stack, payload = decode_int_packet(bytes(raw))
    assert stack.hops == (hop(1), hop(2), hop(3))
    assert payload == b"app"


def test_append_without_udp_length_update_is_caught() -> None:
    raw = bytearray(bytes(int_udp_packet("10.0.0.1", "10.0.1.1", 1, 2, b"app")))
    bad = _append_hop_like_the_switch(raw, hop(1), update_udp_length=False)
    assert any(p.startswith("UDP length") for p in validate_lengths_and_checksums(bad))


# --- collector --------------------------------------------------------------------------------


def test_hpcc_utilisation_hand_computed() -> None:
    prev = IntHop(2, 1_000, 5_000, 20)
    cur = IntHop(2, 1_100, 6_000, 10)  # 100 us later, 1000 * 128 bytes sent, 10 packets queued
    units = bmv2_units(1500)
    # txRate = 128000 B * 8 / 100e-6 s = 10.24 Gb/s -> 0.1024 of 100 Gb/s
    assert tx_rate_bps(prev, cur, units) == pytest.approx(10.24e9)
    # qlen term: min(20, 10) * 1500 B * 8 / (100e9 b/s * 10e-6 s) = 120000 / 1e6 = 0.12
    assert hop_utilisation(prev, cur, units=units, base_rtt_s=10e-6) == pytest.approx(0.2224)
    # the same numbers in HPCC units: ticks are ns, qlen 80-byte units
    u = hop_utilisation(prev, cur, units=HPCC_UNITS, base_rtt_s=10e-6)
    assert u == pytest.approx(128000 * 8 / 100e-9 / 100e9 + 10 * 80 * 8 / 1e6)


def test_utilisation_undefined_cases() -> None:
    units = bmv2_units()
    same_time = IntHop(2, 5, 1, 0), IntHop(2, 5, 2, 0)
    assert hop_utilisation(*same_time, units=units, base_rtt_s=1e-5) is None
    unknown_rate = IntHop(6, 0, 0, 0), IntHop(6, 10, 1, 0)
    assert hop_utilisation(*unknown_rate, units=units, base_rtt_s=1e-5) is None
    assert hop_utilisation(*unknown_rate, units=units, base_rtt_s=1e-5, link_rate_bps=1e6) == pytest.approx(
        128 * 8 / 10e-6 / 1e6
    )


def test_collector_reports_per_hop_after_second_probe() -> None:
    collector = IntCollector(base_rtt_s=10e-6)
    first = IntStack(hops=(IntHop(2, 0xFFFFF0, 0xFFFFF, 4), IntHop(4, 100, 0, 0)))
    report = collector.observe("flow-a", first, switches=["tor0", "agg0"])
    assert not report.compared
    assert [(h.hop, h.switch) for h in report.hops] == [(0, "tor0"), (1, "agg0")]
    assert report.max_utilisation is None

    # hop 0 wraps both counters: 0x20 us and 1 unit (128 B) later
    second = IntStack(overflow=True, hops=(IntHop(2, 0x10, 0, 4), IntHop(4, 132, 250, 1)))
    report = collector.observe("flow-a", second, switches=["tor0", "agg0"])
    assert report.compared and report.overflow
    h0, h1 = report.hops
    assert h0.tx_rate_bps == pytest.approx(128 * 8 / 32e-6)
    assert h0.utilisation == pytest.approx(128 * 8 / 32e-6 / 100e9 + 4 * 1500 * 8 / (100e9 * 10e-6))
    assert h1.utilisation == pytest.approx(250 * 128 * 8 / 32e-6 / 400e9)
    assert report.max_utilisation == h0.utilisation
    assert (h1.link_rate_gbps, h1.timestamp, h1.qlen, h1.tx_bytes) == (400, 132, 1, 250)


def test_collector_does_not_compare_different_paths() -> None:
    collector = IntCollector(base_rtt_s=10e-6)
    collector.observe("a", IntStack(hops=(hop(1),)))
    assert not collector.observe("b", IntStack(hops=(hop(2),))).compared
    assert not collector.observe("a", IntStack(hops=(hop(1), hop(2)))).compared  # path length changed
    assert collector.observe("a", IntStack(hops=(hop(1), hop(2)))).compared
    collector.forget("a")
    assert not collector.observe("a", IntStack(hops=(hop(1), hop(2)))).compared

"""RoCEv2 frames carrying INT: building, decoding, lengths and checksums, in-place fills."""

from __future__ import annotations

import struct

import pytest

from hpn.telemetry.codec import STACK_BYTES, Bth, IntDecodeError, IntHop, IntStack
from hpn.telemetry.packets import (
    BTH_BYTES,
    ETH_BYTES,
    ROCEV2_UDP_PORT,
    UDP_BYTES,
    decode_int_packet,
    decode_rocev2_packet,
    internet_checksum,
    rocev2_packet,
    validate_lengths_and_checksums,
)

IP_OFF = ETH_BYTES
UDP_OFF = ETH_BYTES + 20
BTH_OFF = UDP_OFF + UDP_BYTES
STACK_OFF = BTH_OFF + BTH_BYTES


def hop(i: int) -> IntHop:
    return IntHop(link_rate_index=i % 5, timestamp=0x10000 * i + 1, tx_bytes=0x1000 * i + 2, qlen=i * 3)


def frame(payload: bytes = b"payload!", *, udp_checksum: bool = True, stack: IntStack | None = None) -> bytes:
    return bytes(
        rocev2_packet(
            "10.0.0.1",
            "10.0.1.1",
            49152,
            payload,
            bth=Bth(dest_qp=0xABCDE, psn=7),
            stack=IntStack() if stack is None else stack,
            udp_checksum=udp_checksum,
        )
    )


def test_int_packet_layout() -> None:
    raw = frame(b"app", stack=IntStack.from_hops([hop(1)]))
    assert struct.unpack_from("!HH", raw, UDP_OFF) == (49152, ROCEV2_UDP_PORT)
    assert raw[BTH_OFF + 4] == 0x20
    assert raw[STACK_OFF : STACK_OFF + 8] == hop(1).encode()
    assert raw[STACK_OFF + 40 : STACK_OFF + 42] == b"\x01\x00"
    assert raw[STACK_OFF + STACK_BYTES :] == b"app"
    got = decode_int_packet(raw)
    assert got.stack == IntStack.from_hops([hop(1)])
    assert got.bth == Bth(dest_qp=0xABCDE, psn=7, int_fill=True)
    assert got.rest == b"app"
    assert decode_int_packet(raw[ETH_BYTES:], ethernet=False) == got
    assert validate_lengths_and_checksums(raw) == []


def test_dscp_and_ecn_are_the_senders() -> None:
    pkt = rocev2_packet("10.0.0.1", "10.0.1.1", 1, stack=IntStack(), dscp=26, ecn=2)
    assert bytes(pkt)[IP_OFF + 1] == (26 << 2) | 2
    assert decode_int_packet(pkt).stack == IntStack()  # a scapy packet decodes too


def test_echo_packet() -> None:
    stack = IntStack.from_hops([hop(1), hop(2), hop(3)])
    raw = bytes(rocev2_packet("10.0.1.1", "10.0.0.1", 49152, b"ack", stack=stack, echo=True))
    assert raw[BTH_OFF + 4] == 0x10
    got = decode_int_packet(raw)
    assert got.echoed and got.stack == stack and got.rest == b"ack"


def test_plain_rocev2_has_no_stack() -> None:
    raw = bytes(rocev2_packet("10.0.0.1", "10.0.1.1", 1, b"data", bth=Bth(dest_qp=3)))
    roce = decode_rocev2_packet(raw)
    assert roce.stack is None and roce.bth == Bth(dest_qp=3) and roce.rest == b"data"
    with pytest.raises(IntDecodeError, match="no INT stack"):
        decode_int_packet(raw)


def test_raw_udp_payload_replaces_bth_and_stack() -> None:
    short = Bth(int_fill=True).encode() + bytes(20)
    raw = bytes(rocev2_packet("10.0.0.1", "10.0.1.1", 1, udp_payload=short))
    assert raw[BTH_OFF:] == short
    with pytest.raises(IntDecodeError, match="truncated INT stack"):
        decode_int_packet(raw)


def test_other_udp_ports_are_not_rocev2() -> None:
    raw = bytes(rocev2_packet("10.0.0.1", "10.0.1.1", 1, stack=IntStack(), dport=4790))
    with pytest.raises(IntDecodeError, match="not RoCEv2: UDP destination port 4790"):
        decode_rocev2_packet(raw)


def test_non_udp_and_non_ipv4_rejected() -> None:
    raw = bytearray(frame())
    raw[IP_OFF + 9] = 6
    with pytest.raises(IntDecodeError, match="not UDP"):
        decode_int_packet(bytes(raw))
    raw = bytearray(frame())
    raw[12:14] = b"\x86\xdd"
    with pytest.raises(IntDecodeError, match="not IPv4"):
        decode_int_packet(bytes(raw))


def test_ethernet_padding_is_not_payload() -> None:
    raw = bytes(rocev2_packet("10.0.0.1", "10.0.1.1", 1, b"x"))
    assert len(raw) < 60
    padded = raw + bytes(60 - len(raw))
    assert decode_rocev2_packet(padded).rest == b"x"
    assert validate_lengths_and_checksums(padded) == []


def test_udp_length_beyond_frame_is_an_error() -> None:
    with pytest.raises(IntDecodeError, match="UDP length says"):
        decode_int_packet(frame()[:-4])


# --- length and checksum validation ------------------------------------------------------------


def _set_u16(raw: bytearray, off: int, value: int) -> None:
    raw[off : off + 2] = struct.pack("!H", value)


def _fix_ipv4_checksum(raw: bytearray) -> None:
    _set_u16(raw, IP_OFF + 10, 0)
    _set_u16(raw, IP_OFF + 10, internet_checksum(bytes(raw[IP_OFF:UDP_OFF])))


def test_corrupted_ipv4_checksum_detected() -> None:
    raw = bytearray(frame())
    raw[IP_OFF + 10] ^= 0xFF
    problems = validate_lengths_and_checksums(bytes(raw))
    assert len(problems) == 1 and problems[0].startswith("IPv4 checksum")


def test_corrupted_stack_breaks_udp_checksum() -> None:
    raw = bytearray(frame())
    raw[STACK_OFF + 3] ^= 0x80
    problems = validate_lengths_and_checksums(bytes(raw))
    assert len(problems) == 1 and problems[0].startswith("UDP checksum")


def test_zero_udp_checksum_means_none() -> None:
    raw = bytearray(frame(udp_checksum=False))
    assert raw[UDP_OFF + 6 : UDP_OFF + 8] == b"\x00\x00"
    raw[STACK_OFF] ^= 0xFF
    assert validate_lengths_and_checksums(bytes(raw)) == []


def test_wrong_lengths_detected() -> None:
    raw = bytearray(frame())
    total = struct.unpack_from("!H", raw, IP_OFF + 2)[0]
    _set_u16(raw, IP_OFF + 2, total + 8)
    _fix_ipv4_checksum(raw)
    assert any(p.startswith(f"IPv4 total length {total + 8}") for p in validate_lengths_and_checksums(raw))
    raw = bytearray(frame())
    udp_len = struct.unpack_from("!H", raw, UDP_OFF + 4)[0]
    _set_u16(raw, UDP_OFF + 4, udp_len + 8)
    assert any(p.startswith(f"UDP length {udp_len + 8}") for p in validate_lengths_and_checksums(raw))


# --- a switch's in-place fill, modelled independently of the codec ----------------------------


def _fill_like_a_switch(raw: bytearray, word: int) -> None:
    """Write slot nhop % 5 and nhop + 1 in place; fix a nonzero UDP checksum, keep a zero one."""
    (nhop,) = struct.unpack_from("<H", raw, STACK_OFF + 40)
    struct.pack_into("<Q", raw, STACK_OFF + 8 * (nhop % 5), word)
    struct.pack_into("<H", raw, STACK_OFF + 40, nhop + 1)
    if raw[UDP_OFF + 6 : UDP_OFF + 8] != b"\x00\x00":
        udp_len = struct.unpack_from("!H", raw, UDP_OFF + 4)[0]
        _set_u16(raw, UDP_OFF + 6, 0)
        pseudo = bytes(raw[IP_OFF + 12 : IP_OFF + 20]) + struct.pack("!BBH", 0, 17, udp_len)
        segment = bytes(raw[UDP_OFF : UDP_OFF + udp_len])
        _set_u16(raw, UDP_OFF + 6, internet_checksum(pseudo + segment) or 0xFFFF)


@pytest.mark.parametrize("udp_checksum", [True, False])
def test_in_place_fills_keep_length_and_decode_in_path_order(udp_checksum: bool) -> None:
    raw = bytearray(frame(b"app", udp_checksum=udp_checksum))
    size = len(raw)
    for i in range(1, 4):
        _fill_like_a_switch(raw, hop(i).word)
        assert len(raw) == size
        assert validate_lengths_and_checksums(bytes(raw)) == []
    got = decode_int_packet(bytes(raw))
    assert got.stack.hops == (hop(1), hop(2), hop(3))
    assert got.rest == b"app"
    assert (raw[UDP_OFF + 6 : UDP_OFF + 8] == b"\x00\x00") is not udp_checksum


def test_sixth_hop_overwrites_the_first_slot() -> None:
    raw = bytearray(frame())
    for i in range(1, 7):
        _fill_like_a_switch(raw, hop(i).word)
    stack = decode_int_packet(bytes(raw)).stack
    assert stack.nhop == 6
    assert stack.slots == (hop(6), hop(2), hop(3), hop(4), hop(5))
    assert stack == IntStack.from_hops(hop(i) for i in range(1, 7))

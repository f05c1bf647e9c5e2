"""RoCEv2 packets that carry INT: build them with scapy, decode and check received frames.

The BTH and INT bytes come from hpn.telemetry.codec; this module only wraps them in
Ethernet/IPv4/UDP and reads Ethernet/IPv4/UDP around them. Decoding and validation work on
raw bytes, so a frame from PTF, a raw socket or a pcap all decode the same way; a scapy
packet is accepted too and turned into bytes first.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from hpn.telemetry.codec import (
    BTH_BYTES,
    ROCEV2_UDP_PORT,
    Bth,
    IntDecodeError,
    IntPayload,
    IntStack,
    RocePayload,
    decode_int_payload,
    decode_roce_payload,
    echo_payload,
    encode_roce_payload,
    fill_payload,
)

__all__ = [
    "BTH_BYTES",
    "ETH_BYTES",
    "ROCEV2_UDP_PORT",
    "UDP_BYTES",
    "Bth",
    "decode_int_packet",
    "decode_rocev2_packet",
    "internet_checksum",
    "rocev2_packet",
    "validate_lengths_and_checksums",
]

ETHERTYPE_IPV4 = 0x0800
ETH_BYTES = 14
IPV4_BYTES = 20
UDP_BYTES = 8
MIN_FRAME_BYTES = 60
"""Shortest Ethernet frame without FCS: shorter frames are padded, so trailing bytes are fine."""


def rocev2_packet(
    src: str,
    dst: str,
    sport: int,
    payload: bytes = b"",
    *,
    bth: Bth | None = None,
    stack: IntStack | None = None,
    echo: bool = False,
    udp_payload: bytes | None = None,
    dport: int = ROCEV2_UDP_PORT,
    eth_src: str = "00:00:00:00:00:01",
    eth_dst: str = "00:00:00:00:00:02",
    ttl: int = 64,
    dscp: int = 0,
    ecn: int = 0,
    ip_id: int = 1,
    udp_checksum: bool = True,
) -> Any:
    """An Ethernet/IPv4/UDP/BTH scapy packet, with an INT stack when ``stack`` is given.

    With ``stack`` the BTH gets ``int_fill`` (switches fill the stack) or, with ``echo``,
    ``int_echo`` (an ACK echoing it); without, the BTH is sent as given and ``payload``
    follows it directly. ``udp_payload`` replaces BTH, stack and payload with raw bytes (e.g.
    a truncated stack). ``udp_checksum=False`` sends 0 ("no checksum", as RoCEv2 senders
    do). Lengths and checksums are filled in by scapy.
    """
    if udp_payload is None:
        base = Bth() if bth is None else bth
        if stack is None:
            udp_payload = encode_roce_payload(base, None, payload)
        elif echo:
            udp_payload = echo_payload(base, stack, payload)
        else:
            udp_payload = fill_payload(base, payload, stack=stack)
    udp = UDP(sport=sport, dport=dport) if udp_checksum else UDP(sport=sport, dport=dport, chksum=0)
    ip = IP(src=src, dst=dst, ttl=ttl, tos=(dscp << 2) | ecn, id=ip_id, proto=17)
    return Ether(src=eth_src, dst=eth_dst, type=ETHERTYPE_IPV4) / ip / udp / Raw(udp_payload)


@dataclass(frozen=True)
class _Frame:
    """Offsets of one Ethernet/IPv4/UDP frame."""

    data: bytes
    ip_off: int
    ihl_bytes: int
    ip_total_len: int
    protocol: int
    frag_offset: int

    @property
    def udp_off(self) -> int:
        return self.ip_off + self.ihl_bytes


def _raw(pkt: bytes | bytearray | Any) -> bytes:
    return bytes(pkt)


def _parse_ipv4(data: bytes, ethernet: bool) -> _Frame:
    ip_off = ETH_BYTES if ethernet else 0
    if ethernet:
        if len(data) < ETH_BYTES:
            raise IntDecodeError(f"truncated Ethernet header: {len(data)} bytes")
        (ethertype,) = struct.unpack_from("!H", data, 12)
        if ethertype != ETHERTYPE_IPV4:
            raise IntDecodeError(f"not IPv4: ethertype 0x{ethertype:04x}")
    if len(data) < ip_off + IPV4_BYTES:
        raise IntDecodeError(f"truncated IPv4 header: {len(data) - ip_off} bytes")
    ver_ihl, _, total_len, _, flags_frag, _, proto = struct.unpack_from("!BBHHHBB", data, ip_off)
    if ver_ihl >> 4 != 4:
        raise IntDecodeError(f"IP version {ver_ihl >> 4} is not 4")
    ihl_bytes = (ver_ihl & 0xF) * 4
    if ihl_bytes < 20 or len(data) < ip_off + ihl_bytes:
        raise IntDecodeError(f"bad or truncated IPv4 header: ihl={ver_ihl & 0xF}")
    return _Frame(data, ip_off, ihl_bytes, total_len, proto, flags_frag & 0x1FFF)


def _udp_payload(frame: _Frame) -> bytes:
    data, udp_off = frame.data, frame.udp_off
    if frame.protocol != 17:
        raise IntDecodeError(f"not UDP: IPv4 protocol {frame.protocol}")
    if frame.frag_offset != 0:
        raise IntDecodeError("a non-first IPv4 fragment has no UDP header")
    if len(data) < udp_off + UDP_BYTES:
        raise IntDecodeError(f"truncated UDP header: {len(data) - udp_off} bytes")
    (udp_len,) = struct.unpack_from("!H", data, udp_off + 4)
    if udp_len < UDP_BYTES:
        raise IntDecodeError(f"UDP length {udp_len} is shorter than the UDP header")
    if len(data) < udp_off + udp_len:
        raise IntDecodeError(f"UDP length says {udp_len} bytes but only {len(data) - udp_off} are present")
    return data[udp_off + UDP_BYTES : udp_off + udp_len]


def _rocev2_udp_payload(pkt: bytes | bytearray | Any, ethernet: bool) -> bytes:
    frame = _parse_ipv4(_raw(pkt), ethernet)
    payload = _udp_payload(frame)
    (dport,) = struct.unpack_from("!H", frame.data, frame.udp_off + 2)
    if dport != ROCEV2_UDP_PORT:
        raise IntDecodeError(f"not RoCEv2: UDP destination port {dport}, RoCEv2 uses {ROCEV2_UDP_PORT}")
    return payload


def decode_rocev2_packet(pkt: bytes | bytearray | Any, *, ethernet: bool = True) -> RocePayload:
    """Decode a received RoCEv2 frame (or IPv4 packet, ``ethernet=False``) into BTH, stack, rest.

    ``stack`` is None when the BTH sets neither INT bit. ``rest`` is bounded by the UDP length
    (Ethernet padding is dropped). Raises IntDecodeError when the packet is not IPv4/UDP to
    port 4791, or its BTH or stack is truncated.
    """
    return decode_roce_payload(_rocev2_udp_payload(pkt, ethernet))


def decode_int_packet(pkt: bytes | bytearray | Any, *, ethernet: bool = True) -> IntPayload:
    """Like decode_rocev2_packet, for a frame that must carry a stack (to fill, or echoed)."""
    return decode_int_payload(_rocev2_udp_payload(pkt, ethernet))


def internet_checksum(data: bytes) -> int:
    """RFC 1071 ones'-complement sum of 16-bit words, complemented."""
    if len(data) % 2:
        data += b"\x00"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def validate_lengths_and_checksums(pkt: bytes | bytearray | Any, *, ethernet: bool = True) -> list[str]:
    """Problems with an IPv4/UDP frame's lengths and checksums; empty when all is consistent.

    Checks the IPv4 total length against the bytes present (trailing bytes are allowed only
    as padding of a minimum-size Ethernet frame), the UDP length against the IPv4 payload,
    the IPv4 header checksum, and the UDP checksum unless it is 0 (RFC 768: none).
    """
    data = _raw(pkt)
    try:
        frame = _parse_ipv4(data, ethernet)
    except IntDecodeError as exc:
        return [str(exc)]
    problems: list[str] = []
    present = len(data) - frame.ip_off
    if frame.ip_total_len > present:
        problems.append(f"IPv4 total length {frame.ip_total_len} exceeds the {present} bytes present")
    elif frame.ip_total_len < present and not (ethernet and len(data) <= MIN_FRAME_BYTES):
        problems.append(f"IPv4 total length {frame.ip_total_len} but {present} bytes present")
    header = data[frame.ip_off : frame.udp_off]
    if internet_checksum(header) != 0:
        (stored,) = struct.unpack_from("!H", header, 10)
        zeroed = header[:10] + b"\x00\x00" + header[12:]
        problems.append(f"IPv4 checksum 0x{stored:04x}, expected 0x{internet_checksum(zeroed):04x}")
    if frame.protocol != 17 or frame.frag_offset != 0:
        return problems
    udp_off = frame.udp_off
    ip_payload_len = min(frame.ip_total_len, present) - frame.ihl_bytes
    if ip_payload_len < UDP_BYTES:
        problems.append(f"IPv4 payload of {ip_payload_len} bytes cannot hold a UDP header")
        return problems
    _, _, udp_len, udp_sum = struct.unpack_from("!HHHH", data, udp_off)
    if udp_len != ip_payload_len:
        problems.append(f"UDP length {udp_len} but the IPv4 payload is {ip_payload_len} bytes")
    if udp_sum != 0 and UDP_BYTES <= udp_len <= ip_payload_len:
        segment = data[udp_off : udp_off + udp_len]
        pseudo = data[frame.ip_off + 12 : frame.ip_off + 20] + struct.pack("!BBH", 0, 17, udp_len)
        if internet_checksum(pseudo + segment) != 0:
            zeroed = segment[:6] + b"\x00\x00" + segment[8:]
            expected = internet_checksum(pseudo + zeroed) or 0xFFFF
            problems.append(f"UDP checksum 0x{udp_sum:04x}, expected 0x{expected:04x}")
    return problems

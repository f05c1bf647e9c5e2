"""Packets that carry INT: build them with scapy, decode and check received frames.

The INT bytes themselves come from hpn.telemetry.codec; this module only places them after
the UDP header (and before a RoCEv2 BTH) and reads Ethernet/IPv4/UDP around them. Decoding
and validation work on raw bytes, so a frame from PTF, a raw socket or a pcap all decode the
same way; a scapy packet is accepted too and turned into bytes first.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from hpn.telemetry.codec import DSCP_INT, MAX_HOPS, IntDecodeError, IntHop, IntStack, decode_udp_payload

ROCEV2_UDP_PORT = 4791
ETHERTYPE_IPV4 = 0x0800
ETH_BYTES = 14
UDP_BYTES = 8
MIN_FRAME_BYTES = 60
"""Shortest Ethernet frame without FCS: shorter frames are padded, so trailing bytes are fine."""

_BTH = struct.Struct("!BBHBBHBBH")
BTH_BYTES = _BTH.size


@dataclass(frozen=True)
class Bth:
    """RoCEv2 Base Transport Header (12 bytes). The ICRC is not modelled: bmv2 never checks it."""

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

    def encode(self) -> bytes:
        flags = (
            (int(self.solicited) << 7) | (int(self.mig_req) << 6) | (self.pad_count << 4)
        ) | self.transport_version
        return _BTH.pack(
            self.opcode,
            flags,
            self.partition_key,
            (int(self.fecn) << 7) | (int(self.becn) << 6),
            self.dest_qp >> 16,
            self.dest_qp & 0xFFFF,
            int(self.ack_req) << 7,
            self.psn >> 16,
            self.psn & 0xFFFF,
        )

    @classmethod
    def decode(cls, data: bytes) -> Bth:
        if len(data) < BTH_BYTES:
            raise ValueError(f"truncated BTH: need {BTH_BYTES} bytes, got {len(data)}")
        opcode, flags, pkey, fb, qp_hi, qp_lo, ack, psn_hi, psn_lo = _BTH.unpack_from(data)
        return cls(
            opcode=opcode,
            dest_qp=(qp_hi << 16) | qp_lo,
            psn=(psn_hi << 16) | psn_lo,
            partition_key=pkey,
            ack_req=bool(ack >> 7),
            solicited=bool(flags >> 7),
            mig_req=bool((flags >> 6) & 1),
            pad_count=(flags >> 4) & 0x3,
            transport_version=flags & 0xF,
            fecn=bool(fb >> 7),
            becn=bool((fb >> 6) & 1),
        )


def int_udp_packet(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    payload: bytes = b"",
    *,
    hops: Iterable[IntHop] = (),
    overflow: bool = False,
    max_hops: int = MAX_HOPS,
    bth: Bth | None = None,
    int_bytes: bytes | None = None,
    eth_src: str = "00:00:00:00:00:01",
    eth_dst: str = "00:00:00:00:00:02",
    ttl: int = 64,
    ecn: int = 0,
    dscp: int = DSCP_INT,
    ip_id: int = 1,
    udp_checksum: bool = True,
) -> Any:
    """An Ethernet/IPv4/UDP scapy packet whose UDP payload is INT shim, records, [BTH], payload.

    ``int_bytes`` replaces the encoded stack with raw bytes (e.g. a malformed shim built with
    ``IntShim(...).encode()``). ``bth`` adds a RoCEv2 BTH before ``payload``; pass
    ``dport=ROCEV2_UDP_PORT`` for the switch to parse it. ``udp_checksum=False`` sends 0
    ("no checksum", as RoCEv2 senders do). Lengths and checksums are filled in by scapy.
    """
    if int_bytes is None:
        int_bytes = IntStack(overflow=overflow, max_hops=max_hops, hops=tuple(hops)).encode()
    udp_payload = int_bytes + (b"" if bth is None else bth.encode()) + payload
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
    dscp: int
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
    if len(data) < ip_off + 20:
        raise IntDecodeError(f"truncated IPv4 header: {len(data) - ip_off} bytes")
    ver_ihl, tos, total_len, _, flags_frag, _, proto = struct.unpack_from("!BBHHHBB", data, ip_off)
    if ver_ihl >> 4 != 4:
        raise IntDecodeError(f"IP version {ver_ihl >> 4} is not 4")
    ihl_bytes = (ver_ihl & 0xF) * 4
    if ihl_bytes < 20 or len(data) < ip_off + ihl_bytes:
        raise IntDecodeError(f"bad or truncated IPv4 header: ihl={ver_ihl & 0xF}")
    return _Frame(data, ip_off, ihl_bytes, total_len, tos >> 2, proto, flags_frag & 0x1FFF)


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


def decode_int_packet(pkt: bytes | bytearray | Any, *, ethernet: bool = True) -> tuple[IntStack, bytes]:
    """Decode a received frame (or IPv4 packet, ``ethernet=False``) into (stack, app payload).

    The app payload is what follows the records, bounded by the UDP length (so Ethernet
    padding is dropped); for RoCEv2 it starts with the BTH. Raises IntDecodeError when the
    packet is not IPv4/UDP with DSCP_INT, or its INT stack is malformed or truncated.
    """
    frame = _parse_ipv4(_raw(pkt), ethernet)
    if frame.dscp != DSCP_INT:
        raise IntDecodeError(f"not an INT packet: DSCP 0x{frame.dscp:02x}, INT uses 0x{DSCP_INT:02x}")
    return decode_udp_payload(_udp_payload(frame))


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

"""Switch states and packets shared by the PTF suites (no PTF imports here)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address, IPv4Network

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from hpn.routing.state import EcnConfig, Group, LbMode, LbParams, PortConfig, Route, SwitchState

SWITCH_MAC = "02:00:00:00:00:fe"
SENDER_MAC = "02:00:00:00:aa:01"
SRC_IP = "10.0.0.1"
DST_NET = "10.1.0.0/24"
DST_IP = "10.1.0.9"


def neighbor_mac(port: int) -> str:
    return f"02:00:00:00:01:{port:02x}"


def switch_state(
    *,
    nports: int,
    routes: Iterable[tuple[int, str, int]],
    groups: Iterable[tuple[int, LbMode, Iterable[int]] | Group],
    planes: Mapping[int, int] | None = None,
    lb: LbParams | None = None,
    ecn: Mapping[int, EcnConfig] | None = None,
    speed_gbps: int = 400,
    without_ports: Iterable[int] = (),
) -> SwitchState:
    """A one-switch state: routes (plane, prefix, group), groups (id, mode, ports) or Group
    objects; every port but `without_ports` is configured (plane, MACs, INT rate)."""
    planes = planes or {}
    ecn = ecn or {}
    skip = set(without_ports)
    ports = tuple(
        PortConfig(
            port=p,
            plane=planes.get(p, 0),
            peer=f"ptf-port-{p}",
            neighbor_mac=neighbor_mac(p),
            speed_gbps=speed_gbps,
            ecn=ecn.get(p),
        )
        for p in range(nports)
        if p not in skip
    )
    return SwitchState(
        name="ptf-switch",
        switch_mac=SWITCH_MAC,
        routes=tuple(Route(plane, IPv4Network(prefix), gid) for plane, prefix, gid in routes),
        groups=tuple(g if isinstance(g, Group) else Group(g[0], g[1], frozenset(g[2])) for g in groups),
        ports=ports,
        lb=lb or LbParams(hash_seed=0x5EED),
    )


def one_group_state(nports: int, mode: LbMode, members: Iterable[int], **kwargs: object) -> SwitchState:
    """DST_NET in plane 0 -> group 1 over `members` with `mode`."""
    return switch_state(nports=nports, routes=[(0, DST_NET, 1)], groups=[(1, mode, members)], **kwargs)  # type: ignore[arg-type]


def udp_packet(
    sport: int = 1234,
    dport: int = 5678,
    *,
    src: str = SRC_IP,
    dst: str = DST_IP,
    ttl: int = 64,
    ecn: int = 0,
    size: int = 100,
) -> Packet:
    pkt = (
        Ether(src=SENDER_MAC, dst=SWITCH_MAC)
        / IP(src=src, dst=dst, ttl=ttl, tos=ecn)
        / UDP(sport=sport, dport=dport)
    )
    return pkt / Raw(b"\x00" * max(0, size - len(pkt)))


def roce_packet(
    qp: int, *, sport: int = 49152, dst: str = DST_IP, payload: bytes = b"rdma", size: int = 0
) -> Packet:
    """RoCEv2: UDP 4791, a BTH (RDMA WRITE first, QP `qp`), then `payload`, zero UDP checksum."""
    bth = bytes([0x06, 0x40, 0xFF, 0xFF, 0x00]) + qp.to_bytes(3, "big") + bytes([0x80, 0, 0, 1])
    pkt = (
        Ether(src=SENDER_MAC, dst=SWITCH_MAC)
        / IP(src=SRC_IP, dst=dst)
        / UDP(sport=sport, dport=4791, chksum=0)
        / Raw(bth + payload)
    )
    return pkt / Raw(b"\x00" * max(0, size - len(pkt)))


def tcp_packet(sport: int = 1234, dport: int = 80, *, dst: str = DST_IP, ttl: int = 64) -> Packet:
    return (
        Ether(src=SENDER_MAC, dst=SWITCH_MAC)
        / IP(src=SRC_IP, dst=dst, ttl=ttl)
        / TCP(sport=sport, dport=dport)
        / Raw(b"tcp payload")
    )


def routed(pkt: Packet, out_port: int) -> Packet:
    """What the switch should emit for `pkt` on `out_port`: MACs rewritten, TTL - 1."""
    out = pkt.copy()
    out[Ether].src = SWITCH_MAC
    out[Ether].dst = neighbor_mac(out_port)
    out[IP].ttl = pkt[IP].ttl - 1
    del out[IP].chksum
    return Ether(bytes(out))


def flow_crc32(src: str, dst: str, proto: int, sport: int, dport: int, qp: int = 0) -> int:
    """The CRC32 of a flow's key (FLOW_KEY_FIELDS) as bmv2 computes it in set_group
    (bmv2's crc32 is zlib's)."""
    data = (
        IPv4Address(src).packed
        + IPv4Address(dst).packed
        + bytes([proto])
        + sport.to_bytes(2, "big")
        + dport.to_bytes(2, "big")
        + qp.to_bytes(3, "big")
    )
    return zlib.crc32(data)


def flowlet_slot(
    src: str, dst: str, proto: int, sport: int, dport: int, qp: int = 0, slots: int = 4096
) -> int:
    """The flowlet slot of a flow on bmv2: the low bits of its flow key's CRC32."""
    return flow_crc32(src, dst, proto, sport, dport, qp) % slots


def udp_pairs_sharing_hash_bits(mask: int, count: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """`count` pairs of UDP flows (sport, dport) from SRC_IP to DST_IP whose key CRC32s
    agree in the bits of `mask` and differ elsewhere: flows a seed that only XORs into
    the hash (a CRC is linear) would keep together, or apart, on every switch."""
    seen: dict[int, tuple[int, int]] = {}
    pairs: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for dport in range(5678, 5678 + 64):
        for sport in range(10000, 10000 + 4096):
            crc = flow_crc32(SRC_IP, DST_IP, 17, sport, dport)
            other = seen.pop(crc & mask, None)
            if other is None:
                seen[crc & mask] = (sport, dport)
                continue
            if flow_crc32(SRC_IP, DST_IP, 17, *other) != crc:
                pairs.append((other, (sport, dport)))
                if len(pairs) == count:
                    return pairs
    raise ValueError(f"fewer than {count} flow pairs share the CRC32 bits {mask:#010x}")

"""A flow as the switches hash it: the fields of FLOW_KEY_FIELDS (p4src/shared/defines.p4).

Both programs hash the IPv4 source and destination, the protocol, the L4 ports and the
RoCEv2 destination QP. The parsers leave the ports 0 for a protocol other than TCP and
UDP, and the QP 0 unless the packet is UDP to port 4791 (only then is there a BTH), so
`key_fields` does the same: two flows the switch cannot tell apart hash alike here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

PROTO_TCP = 6
PROTO_UDP = 17
ROCEV2_PORT = 4791

KEY_BYTES = 16
"""src (4), dst (4), protocol (1), source port (2), destination port (2), QP (3)."""
SPORT_OFFSET = 9
"""Byte offset of the source port in the key."""


@dataclass(frozen=True)
class Flow:
    """One flow: addresses, protocol, ports and, for RoCEv2, the destination QP."""

    src: IPv4Address
    dst: IPv4Address
    sport: int
    dport: int = ROCEV2_PORT
    protocol: int = PROTO_UDP
    qp: int = 0

    def __post_init__(self) -> None:
        for name, value, top in (
            ("sport", self.sport, 0xFFFF),
            ("dport", self.dport, 0xFFFF),
            ("protocol", self.protocol, 0xFF),
            ("qp", self.qp, 0xFFFFFF),
        ):
            if not 0 <= value <= top:
                raise ValueError(f"{name} {value} is out of range 0..{top}")

    @property
    def has_ports(self) -> bool:
        return self.protocol in (PROTO_TCP, PROTO_UDP)

    @property
    def has_qp(self) -> bool:
        return self.protocol == PROTO_UDP and self.dport == ROCEV2_PORT

    def key_fields(self) -> tuple[int, int, int, int, int, int]:
        """(src, dst, protocol, sport, dport, qp) as the parser leaves them."""
        sport, dport = (self.sport, self.dport) if self.has_ports else (0, 0)
        return (int(self.src), int(self.dst), self.protocol, sport, dport, self.qp if self.has_qp else 0)

    def key_bytes(self) -> bytes:
        """The hash input: the fields big-endian, one after the other (128 bits)."""
        src, dst, proto, sport, dport, qp = self.key_fields()
        return (
            src.to_bytes(4, "big")
            + dst.to_bytes(4, "big")
            + bytes([proto])
            + sport.to_bytes(2, "big")
            + dport.to_bytes(2, "big")
            + qp.to_bytes(3, "big")
        )

    def with_sport(self, sport: int) -> Flow:
        return Flow(self.src, self.dst, sport, self.dport, self.protocol, self.qp)

    def __str__(self) -> str:
        qp = f" qp {self.qp}" if self.has_qp else ""
        return f"{self.src}:{self.sport} -> {self.dst}:{self.dport} proto {self.protocol}{qp}"

"""The host probe: an ARP request a ToR sends out of a host port, and the host's reply.

Which NIC is on which ToR port is asked the way a host's gateway would ask: the
controller sends, as a packet-out of the ToR port, a broadcast ARP request "who has <the
NIC's IP> tell <the gateway IP>" from the ToR's MAC (the MAC its gateway_arp entries
answer with). A stock Linux host answers for any address it holds, with a reply to that
MAC from its port's MAC (the NIC's); the ToR punts ARP it does not answer itself (its
cpu_punt entry for hpn.params.ARP_ETHERTYPE) with the ingress port. Requests for the gateway are
still answered by the ToR in P4 and never reach the controller.

`decode_arp_reply` takes only such a reply: Ethernet and ARP for IPv4 over Ethernet,
operation 2, to the ToR's MAC and the gateway address, from a unicast MAC that is also
the frame's source, and no longer than Ethernet's 60-byte minimum (the padding after the
28 ARP bytes is not read: real NICs pad with whatever they have). Anything else raises
`ArpError` naming the field, like the link probe's `ProbeError`.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from hpn.params import ARP_ETHERTYPE

BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
HTYPE_ETHERNET = 1
PTYPE_IPV4 = 0x0800
OPER_REQUEST = 1
OPER_REPLY = 2
ETH_HEADER = 14
ETH_MIN_FRAME = 60

_ARP = struct.Struct("!HHBBH6s4s6s4s")  # htype ptype hlen plen oper sha spa tha tpa: 28 bytes
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_FIELD_ENDS = (
    ("htype", 2),
    ("ptype", 4),
    ("hlen", 5),
    ("plen", 6),
    ("oper", 8),
    ("sender_mac", 14),
    ("sender_ip", 18),
    ("target_mac", 24),
    ("target_ip", 28),
)


class ArpError(ValueError):
    """A frame that is not a reply to the controller's host probe; `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"ARP {field}: {message}")
        self.field = field


@dataclass(frozen=True)
class ArpReply:
    """What a host's reply says: the MAC of the port it came from, and the address it holds."""

    sender_mac: str
    sender_ip: IPv4Address


def mac_bytes(mac: str) -> bytes:
    if not _MAC.match(mac.lower()):
        raise ValueError(f"{mac!r} is not a MAC address aa:bb:cc:dd:ee:ff")
    return bytes.fromhex(mac.replace(":", ""))


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def encode_arp_request(switch_mac: str, gateway_ip: IPv4Address, target_ip: IPv4Address) -> bytes:
    """The broadcast Ethernet frame "who has `target_ip` tell `gateway_ip`" from
    `switch_mac`, padded to 60 bytes."""
    src = mac_bytes(switch_mac)
    header = mac_bytes(BROADCAST_MAC) + src + struct.pack("!H", ARP_ETHERTYPE)
    body = _ARP.pack(
        HTYPE_ETHERNET,
        PTYPE_IPV4,
        6,
        4,
        OPER_REQUEST,
        src,
        gateway_ip.packed,
        bytes(6),
        target_ip.packed,
    )
    frame = header + body
    return frame + bytes(ETH_MIN_FRAME - len(frame))


def decode_arp_reply(frame: bytes, switch_mac: str, gateway_ip: IPv4Address) -> ArpReply:
    """The reply in `frame`, sent to `switch_mac` and `gateway_ip`; an `ArpError` naming
    the field when it is not one."""
    if len(frame) < ETH_HEADER:
        raise ArpError("ethernet", f"frame of {len(frame)} bytes is shorter than an Ethernet header")
    if len(frame) > ETH_MIN_FRAME:
        raise ArpError("length", f"frame of {len(frame)} bytes, an ARP reply is at most {ETH_MIN_FRAME}")
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    if ethertype != ARP_ETHERTYPE:
        raise ArpError("ethertype", f"0x{ethertype:04x}, expected 0x{ARP_ETHERTYPE:04x}")
    ours = mac_bytes(switch_mac)
    if frame[0:6] != ours:
        raise ArpError("eth_dst", f"to {mac_text(frame[0:6])}, not to this switch ({switch_mac})")
    body = frame[ETH_HEADER:]
    if len(body) < _ARP.size:
        cut = next(name for name, end in _FIELD_ENDS if len(body) < end)
        raise ArpError(cut, f"truncated: {len(body)} bytes after Ethernet, need {_ARP.size}")
    htype, ptype, hlen, plen, oper, sha, spa, tha, tpa = _ARP.unpack_from(body)
    if htype != HTYPE_ETHERNET:
        raise ArpError("htype", f"{htype}, expected {HTYPE_ETHERNET} (Ethernet)")
    if ptype != PTYPE_IPV4:
        raise ArpError("ptype", f"0x{ptype:04x}, expected 0x{PTYPE_IPV4:04x} (IPv4)")
    if hlen != 6:
        raise ArpError("hlen", f"{hlen}, expected 6")
    if plen != 4:
        raise ArpError("plen", f"{plen}, expected 4")
    sender_ip, target_ip = IPv4Address(spa), IPv4Address(tpa)
    if oper == OPER_REQUEST:
        raise ArpError("oper", f"a request for {target_ip} from {sender_ip}: only replies are read")
    if oper != OPER_REPLY:
        raise ArpError("oper", f"{oper}, expected {OPER_REPLY} (reply)")
    if sha[0] & 1 or sha == bytes(6):
        raise ArpError("sender_mac", f"{mac_text(sha)} is not a unicast MAC")
    if sha != frame[6:12]:
        raise ArpError("sender_mac", f"{mac_text(sha)}, but the frame came from {mac_text(frame[6:12])}")
    if sender_ip.is_unspecified or sender_ip.is_multicast or sender_ip == IPv4Address("255.255.255.255"):
        raise ArpError("sender_ip", f"{sender_ip} is not a host's address")
    if tha != ours:
        raise ArpError("target_mac", f"{mac_text(tha)}, not this switch ({switch_mac})")
    if target_ip != gateway_ip:
        raise ArpError("target_ip", f"{target_ip}, not the gateway ({gateway_ip})")
    return ArpReply(mac_text(sha), sender_ip)

"""The host probe's frames: the request is the ARP request scapy reads it as (who has the
NIC's address, tell the gateway, from the ToR's MAC, to everyone); the reply a Linux host
sends (built here by scapy, as the kernel's arp_send does) decodes to its MAC and address;
every other ARP frame is refused naming the field."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

import pytest
from scapy.layers.l2 import ARP, Ether

from hpn.operations.arp_probe import (
    ARP_ETHERTYPE,
    ArpError,
    ArpReply,
    decode_arp_reply,
    encode_arp_request,
)
from hpn.params import GATEWAY_IP
from linux_arp import linux_reply

TOR_MAC = "02:00:00:00:01:01"
NIC_MAC = "02:00:0a:00:00:01"
NIC_IP = IPv4Address("10.0.0.1")
GATEWAY = IPv4Address(GATEWAY_IP)


def test_the_request_asks_everyone_for_the_nic_from_the_tor_for_the_gateway() -> None:
    frame = encode_arp_request(TOR_MAC, GATEWAY, NIC_IP)
    assert len(frame) == 60 and not any(frame[42:])
    eth = Ether(frame)
    assert (eth.dst, eth.src, eth.type) == ("ff:ff:ff:ff:ff:ff", TOR_MAC, ARP_ETHERTYPE)
    arp = eth[ARP]
    assert (arp.hwtype, arp.ptype, arp.hwlen, arp.plen, arp.op) == (1, 0x0800, 6, 4, 1)
    assert (arp.hwsrc, arp.psrc, arp.hwdst, arp.pdst) == (
        TOR_MAC,
        GATEWAY_IP,
        "00:00:00:00:00:00",
        "10.0.0.1",
    )


def test_a_linux_reply_decodes_to_the_nic_padded_or_not() -> None:
    reply = linux_reply(encode_arp_request(TOR_MAC, GATEWAY, NIC_IP), NIC_MAC, {str(NIC_IP)})
    assert reply is not None
    assert len(reply) == 42  # a veth does not pad; a NIC pads to 60, with whatever it has
    expected = ArpReply(NIC_MAC, NIC_IP)
    assert decode_arp_reply(reply, TOR_MAC, GATEWAY) == expected
    assert decode_arp_reply(reply + b"\xa5" * 18, TOR_MAC.upper(), GATEWAY) == expected


def _reply(**fields: Any) -> bytes:
    """A Linux host's reply to the ToR, with fields changed (`eth_*`: Ethernet's)."""
    eth_fields = {k[4:]: v for k, v in fields.items() if k.startswith("eth_")}
    arp_fields = {k: v for k, v in fields.items() if not k.startswith("eth_")}
    eth: dict[str, Any] = {"dst": TOR_MAC, "src": NIC_MAC, **eth_fields}
    arp: dict[str, Any] = {
        "op": 2,
        "hwsrc": NIC_MAC,
        "psrc": str(NIC_IP),
        "hwdst": TOR_MAC,
        "pdst": GATEWAY_IP,
        **arp_fields,
    }
    return bytes(Ether(**eth) / ARP(**arp))


REFUSED: list[tuple[bytes, str, str]] = [
    (_reply()[:13], "ethernet", "13 bytes is shorter than an Ethernet header"),
    (_reply() + bytes(19), "length", "frame of 61 bytes, an ARP reply is at most 60"),
    (_reply(eth_type=0x0800), "ethertype", "0x0800, expected 0x0806"),
    (_reply(eth_dst="ff:ff:ff:ff:ff:ff"), "eth_dst", "to ff:ff:ff:ff:ff:ff, not to this switch"),
    (_reply()[: 14 + 7], "oper", "truncated: 7 bytes after Ethernet, need 28"),
    (_reply()[: 14 + 27], "target_ip", "truncated: 27 bytes"),
    (_reply(hwtype=6, hwlen=6), "htype", "6, expected 1 (Ethernet)"),
    (_reply(ptype=0x86DD), "ptype", "0x86dd, expected 0x0800 (IPv4)"),
    (
        _reply(op=1, hwdst="00:00:00:00:00:00", pdst="10.0.0.9"),
        "oper",
        "a request for 10.0.0.9 from 10.0.0.1",
    ),
    (_reply(op=3), "oper", "3, expected 2 (reply)"),
    (_reply(hwsrc="01:00:5e:00:00:01"), "sender_mac", "01:00:5e:00:00:01 is not a unicast MAC"),
    (_reply(hwsrc="02:00:0a:00:00:09"), "sender_mac", "but the frame came from 02:00:0a:00:00:01"),
    (_reply(psrc="0.0.0.0"), "sender_ip", "0.0.0.0 is not a host's address"),
    (_reply(hwdst="02:00:00:00:01:02"), "target_mac", "02:00:00:00:01:02, not this switch"),
    (_reply(pdst="10.0.0.254"), "target_ip", "10.0.0.254, not the gateway (169.254.0.1)"),
]


@pytest.mark.parametrize(
    ("frame", "field", "says"), REFUSED, ids=[f"{c[1]}-{i}" for i, c in enumerate(REFUSED)]
)
def test_anything_but_a_reply_to_the_tor_is_refused_naming_the_field(
    frame: bytes, field: str, says: str
) -> None:
    with pytest.raises(ArpError) as refused:
        decode_arp_reply(frame, TOR_MAC, GATEWAY)
    assert refused.value.field == field
    assert says in str(refused.value)


def test_hlen_and_plen_are_checked() -> None:
    frame = bytearray(_reply())
    frame[14 + 4] = 8
    with pytest.raises(ArpError, match="hlen: 8, expected 6"):
        decode_arp_reply(bytes(frame), TOR_MAC, GATEWAY)
    frame = bytearray(_reply())
    frame[14 + 5] = 16
    with pytest.raises(ArpError, match="plen: 16, expected 4"):
        decode_arp_reply(bytes(frame), TOR_MAC, GATEWAY)

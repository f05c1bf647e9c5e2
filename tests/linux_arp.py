"""What a stock Linux host does with an ARP request on one of its ports (the kernel's
arp_process with arp_ignore 0): it answers when it holds the asked address, on any of its
interfaces, with a reply from the port's MAC to the asker. Built with scapy, apart from
the controller's own encoder."""

from __future__ import annotations

from collections.abc import Collection

from scapy.layers.l2 import ARP, Ether


def linux_reply(request: bytes, mac: str, holds: Collection[str]) -> bytes | None:
    """The reply a host whose port has `mac` and which holds the addresses `holds` sends to
    `request`, or None when it does not answer."""
    eth = Ether(request)
    if ARP not in eth or eth[ARP].op != 1 or eth[ARP].pdst not in holds:
        return None
    asked = eth[ARP]
    return bytes(
        Ether(dst=asked.hwsrc, src=mac)
        / ARP(op=2, hwsrc=mac, psrc=asked.pdst, hwdst=asked.hwsrc, pdst=asked.psrc)
    )

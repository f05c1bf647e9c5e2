"""Entities of the CPU path: the gateway addresses a switch answers ARP for, and the
ethertypes it hands to the controller (p4src/shared/control/cpu_path.p4)."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address

import finsy as fy

from hpn.params import HOST_PUNT_ETHERTYPES, PUNT_ETHERTYPES
from hpn.pipeline import names
from hpn.pipeline.targets import Target
from hpn.pipeline.values import mac_to_int

_ANSWER = next(iter(names.GATEWAY_ARP.actions))
_TO_CPU = next(iter(names.CPU_PUNT.actions))


def gateway_arp_entries(switch_mac: str, gateway_ips: Iterable[str], target: Target) -> list[fy.P4TableEntry]:
    """One entry per gateway address: ARP requests for it are answered with `switch_mac`."""
    return [
        fy.P4TableEntry(
            target.qualify(names.GATEWAY_ARP.name),
            match=fy.P4TableMatch(target_ip=int(IPv4Address(ip))),
            action=fy.P4TableAction(target.qualify(_ANSWER), gateway_mac=mac_to_int(switch_mac)),
        )
        for ip in sorted(set(gateway_ips), key=lambda a: int(IPv4Address(a)))
    ]


def punt_entries(target: Target, *, has_hosts: bool) -> list[fy.P4TableEntry]:
    """Every switch punts PUNT_ETHERTYPES to its controller, one with host ports also
    HOST_PUNT_ETHERTYPES, and nothing else."""
    ethertypes = PUNT_ETHERTYPES + (HOST_PUNT_ETHERTYPES if has_hosts else ())
    return [
        fy.P4TableEntry(
            target.qualify(names.CPU_PUNT.name),
            match=fy.P4TableMatch(ether_type=ethertype),
            action=fy.P4TableAction(target.qualify(_TO_CPU)),
        )
        for ethertype in sorted(set(ethertypes))
    ]

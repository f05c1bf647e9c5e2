"""Data-plane parameters that a topology sets and the desired state carries.

LB mode, HPCC link rate and ECN thresholds are named by the topology schema and
model (hpn.topology) and by the per-switch state (hpn.routing.state, which
re-exports them). This module imports no other hpn module, so imports run one
way: topology/ below routing/, and both on top of this.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class LbMode(enum.IntEnum):
    """Load-balancing mode of a next-hop group (LB_MODE_* in defines.p4)."""

    ECMP = 0
    FLOWLET = 1
    SPRAY = 2
    ADAPTIVE = 3


class LinkRate(enum.IntEnum):
    """HPCC link-rate index carried in INT hops (LINK_RATE_* in defines.p4): the HPCC
    reference's table, where 5-7 mean 0 (no other speed has an index)."""

    G25 = 0
    G50 = 1
    G100 = 2
    G200 = 3
    G400 = 4

    @classmethod
    def from_gbps(cls, gbps: int) -> LinkRate:
        table = {25: cls.G25, 50: cls.G50, 100: cls.G100, 200: cls.G200, 400: cls.G400}
        try:
            return table[gbps]
        except KeyError:
            raise ValueError(
                f"link speed {gbps} Gb/s has no HPCC rate index (one of {sorted(table)})"
            ) from None


@dataclass(frozen=True)
class EcnConfig:
    """RED marking thresholds on egress queue depth (bmv2: packets)."""

    kmin: int
    kmax: int
    pmax: float  # marking probability at kmax, 0..1


GATEWAY_IP = "169.254.0.1"
"""The next hop of every host port: a link-local address its ToR answers ARP for
(gateway_arp), so a host needs no permanent neighbour entry."""

LLDP_ETHERTYPE = 0x88CC
PROBE_ETHERTYPE = 0x88B5
"""The controller's link probe (IEEE 802 local experimental ethertype 1)."""
ARP_ETHERTYPE = 0x0806
PUNT_ETHERTYPES = (LLDP_ETHERTYPE, PROBE_ETHERTYPE)
"""What every switch hands to its controller (cpu_punt): nothing else, IPv4 never."""
HOST_PUNT_ETHERTYPES = (ARP_ETHERTYPE,)
"""What a switch with host ports (gateway addresses) hands over too: the ARP its gateway
entry does not answer, among it the hosts' replies to the controller's host probes."""

BMV2_CPU_PORT = 510
"""BMV2_CPU_PORT in sizes.p4: `simple_switch_grpc ... -- --cpu-port 510`."""
TOFINO_CPU_PORT = 192
"""TOFINO_CPU_PORT in sizes.p4: Tofino 1's PCIe CPU port (2-pipe part, pipe 0)."""

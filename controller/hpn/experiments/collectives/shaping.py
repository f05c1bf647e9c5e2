"""Every switch port at its link's emulated rate, for as long as collectives run.

bmv2 forwards as fast as it gets CPU; a fabric whose links are as fast as its NICs needs
each egress queue slowed to the rate its link stands for: the NIC ports' packet rate
times the link's Gb/s over the NICs' (bmv2's `set_queue_rate`, packets/s). `depth` is the
queues' capacity in packets: deep, a stand-in for the lossless (PFC) fabric RoCEv2 runs
on, so a collision costs time, not packets. Afterwards every port is set back to
unlimited and bmv2's default depth, however the block ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from hpn.emulation.emulation import Emulation
from hpn.netlab.bmv2 import Bmv2Cli

UNLIMITED_RATE_PPS = 1_000_000
"""What a shaped port is set back to (as the incast experiment and the PTF suites do)."""
BMV2_DEFAULT_DEPTH = 64
LOSSLESS_DEPTH = 10_000
"""Packets: more than a collective step's packets on any link here, so nothing is tail-dropped."""


def link_rates(emulation: Emulation, line_rate_pps: float, nic_gbps: int) -> dict[str, dict[int, int]]:
    """Per switch, per cabled port: the packets/s its link stands for."""
    fabric = emulation.fabric
    out: dict[str, dict[int, int]] = {}
    for switch in fabric.switches:
        for port, link in fabric.switch_ports(switch.name).items():
            out.setdefault(switch.name, {})[port] = max(1, round(line_rate_pps * link.gbps / nic_gbps))
    return out


@contextlib.contextmanager
def shaped_fabric(
    emulation: Emulation, line_rate_pps: float, nic_gbps: int, depth: int = LOSSLESS_DEPTH
) -> Iterator[dict[str, dict[int, int]]]:
    """Shape every cabled switch port (see the module's doc); yields the rates set."""
    rates = link_rates(emulation, line_rate_pps, nic_gbps)
    with contextlib.ExitStack() as stack:
        clis: dict[str, Bmv2Cli] = {s: stack.enter_context(emulation.switch_cli(s)) for s in rates}
        try:
            for switch, ports in rates.items():
                for port, pps in ports.items():
                    clis[switch].set_queue(port, rate_pps=pps, depth=depth)
            yield rates
        finally:
            for switch, ports in rates.items():
                for port in ports:
                    clis[switch].set_queue(port, rate_pps=UNLIMITED_RATE_PPS, depth=BMV2_DEFAULT_DEPTH)

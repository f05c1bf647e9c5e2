"""What the ports of a running fabric heard, as the wiring check's input (the file
`hpnctl wiring --observed` reads, `hpn.operations.wiring.observed_to_json`).

The switch cables are what the runner's `LinkMonitor` heard on each switch port (the
probes); the host cables what its `HostMonitor` heard (the hosts' replies to its ARP
requests, which the ToRs punt).
"""

from __future__ import annotations

from hpn.operations.runner import FabricRunner
from hpn.operations.wiring import NeighbourSeen, Observed, intact_observation
from hpn.topology.model import Fabric, SwitchPort


def probed_ports(fabric: Fabric) -> set[SwitchPort]:
    """Every switch port on a switch-to-switch cable: those the runner probes."""
    return {
        end
        for link in fabric.links
        if isinstance(link.a, SwitchPort) and isinstance(link.b, SwitchPort)
        for end in (link.a, link.b)
    }


def every_port_heard(runner: FabricRunner) -> bool:
    """Each probed port has heard some probe, and each host port some host (the expected
    neighbour or not)."""
    host_ports = {h.at for h in intact_observation(runner.loop.fabric).hosts}
    return probed_ports(runner.loop.fabric) <= set(runner.loop.monitor.observed()) and host_ports <= {
        h.at for h in runner.loop.hosts.observed()
    }


def observation(runner: FabricRunner) -> Observed:
    """What the runner's ports heard: switch neighbours and hosts."""
    heard = runner.loop.monitor.observed()
    neighbours = tuple(NeighbourSeen(at, h.switch, h.port) for at, h in sorted(heard.items()))
    return Observed(neighbours, runner.loop.hosts.observed())


def crossing_at_first_agg(fabric: Fabric) -> tuple[SwitchPort, SwitchPort]:
    """The first agg's two lowest ports: crossing them swaps two ToRs' uplinks there."""
    agg = fabric.aggs()[0].name
    first, second = sorted(fabric.switch_ports(agg))[:2]
    return SwitchPort(agg, first), SwitchPort(agg, second)

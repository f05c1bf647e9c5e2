"""The Mininet network of an emulated fabric: hosts, one bmv2 per switch, a patch panel.

Runs only inside the emulation process (hpn.emulation.daemon), which was
started in the emulation namespace: Mininet's "root namespace" is then that
namespace, so its switches, patch panel and veths never touch the machine's
interfaces, and each host gets a namespace of its own (mnexec). This process
never opens a gRPC channel: bmv2 readiness is checked on its Unix socket, and
Mininet may fork freely.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

from mininet.link import Link
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host, Switch

from hpn.emulation.hosts import (
    HOST_SYSCTLS,
    RouteKey,
    desired_routes,
    nic_routes,
    port_sysctls,
    route_commands,
    setup_commands,
    sysctl_argv,
)
from hpn.emulation.layout import PATCH_PANEL, Cable, Layout, local_mac
from hpn.netlab import ethtool
from hpn.netlab.bmv2 import Bmv2Switch
from hpn.netlab.netns import Netns, entered_process
from hpn.routing.failures import FailureView
from hpn.topology.model import NicPort

LOG = logging.getLogger(__name__)

EMULATION_SYSCTLS = {
    # The patch panel's bridges must pass frames untouched, never through netfilter.
    "net.bridge.bridge-nf-call-iptables": "0",
    "net.bridge.bridge-nf-call-ip6tables": "0",
    "net.bridge.bridge-nf-call-arptables": "0",
}
SWITCH_START_TIMEOUT = 60.0
HOST_IFINDEX_BASE = 100_000


class NetworkError(RuntimeError):
    """A command of the emulation failed; the message names it and its output."""


def _check(argv: Sequence[str], proc: subprocess.CompletedProcess[str] | tuple[str, str, int]) -> str:
    out, err, code = (proc.stdout, proc.stderr, proc.returncode) if not isinstance(proc, tuple) else proc
    if code != 0:
        raise NetworkError(f"`{' '.join(argv)}` failed ({code}): {(err or out).strip()}")
    return out


def run_here(argv: Sequence[str], stdin: str | None = None) -> str:
    """Run a command in this process's namespace (the emulation namespace)."""
    return _check(argv, subprocess.run(list(argv), input=stdin, capture_output=True, text=True))


def run_in_host(host: Any, argv: Sequence[str], stdin: str | None = None) -> str:
    """Run a command in a Mininet host's namespace (mnexec -a), with its exit status checked."""
    return run_in_hosts([(host, argv, stdin)])[0]


def run_in_hosts(jobs: Sequence[tuple[Any, Sequence[str], str | None]]) -> list[str]:
    """Run one command in each of several hosts at the same time; every exit status is checked."""
    procs = []
    for host, argv, _ in jobs:
        procs.append(
            host.popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
    outputs = []
    for proc, (_, argv, stdin) in zip(procs, jobs, strict=True):
        out, err = proc.communicate(None if stdin is None else stdin.encode())
        outputs.append((argv, (out.decode(errors="replace"), err.decode(errors="replace"), proc.returncode)))
    return [_check(argv, result) for argv, result in outputs]


class Bmv2Node(Switch):  # type: ignore[misc]
    """A Mininet switch that is one simple_switch_grpc process."""

    def __init__(self, name: str, bmv2: Bmv2Switch, **params: Any) -> None:
        self.bmv2 = bmv2
        Switch.__init__(self, name, dpid=f"{bmv2.device_id:x}", **params)

    def start(self, controllers: list[Any]) -> None:
        for iface in self.bmv2.ports.values():
            ethtool.disable_segmentation(iface)  # before libpcap sizes its ring (see ethtool.py)
        self.bmv2.spawn()

    @classmethod
    def batchStartup(cls, switches: Sequence[Bmv2Node]) -> Sequence[Bmv2Node]:
        """All switches were spawned by `start`; now wait until each one listens."""
        for sw in switches:
            sw.bmv2.wait_ready(SWITCH_START_TIMEOUT)
        return switches

    def stop(self, deleteIntfs: bool = False) -> None:
        self.bmv2.stop()


class HostCable(Link):  # type: ignore[misc]
    """Mininet's veth pair, with the host end's interface index chosen: HOST_IFINDEX_BASE + n.

    The kernel's linkwatch treats a device whose index equals its peer's
    (`iflink`) as a non-urgent case and batches its carrier events for up to
    a second. In fresh namespaces a host port and its patch port can get the
    same small index, and then a re-plugged cable stayed dark for ~0.5 s.
    """

    def __init__(self, node1: Any, node2: Any, ifindex: int, **params: Any) -> None:
        self.ifindex = ifindex
        Link.__init__(self, node1, node2, **params)

    def makeIntfPair(
        self,
        intfname1: str,
        intfname2: str,
        addr1: str | None = None,
        addr2: str | None = None,
        node1: Any = None,
        node2: Any = None,
        deleteIntfs: bool = True,
    ) -> None:
        argv = ["ip", "link", "add", "name", intfname1, "address", str(addr1), "index", str(self.ifindex)]
        argv += ["type", "veth", "peer", "name", intfname2, "address", str(addr2), "netns", str(node2.pid)]
        run_in_host(node1, argv)


class PatchPanel(Switch):  # type: ignore[misc]
    """Every cable of the fabric: a two-port bridge, unplugged by setting its ports down."""

    def __init__(self, name: str, cables: Sequence[Cable], **params: Any) -> None:
        self.cables = tuple(cables)
        self.plugged: dict[int, bool] = {}
        Switch.__init__(self, name, dpid="1", **params)

    def start(self, controllers: list[Any]) -> None:
        lines = []
        for c in self.cables:
            lines.append(
                f"link add name {c.bridge} address {c.bridge_mac} type bridge "
                # group_fwd_mask 0x4000: forward 01:80:c2:00:00:0e (LLDP, the link
                # probe), which a Linux bridge keeps to itself by default
                "stp_state 0 forward_delay 0 mcast_snooping 0 group_fwd_mask 0x4000"
            )
            for end in c.ends():
                lines.append(f"link set dev {end.patch_iface} master {c.bridge}")
                # No learning, flood everything: the bridge is a piece of wire.
                lines.append(f"link set dev {end.patch_iface} type bridge_slave learning off")
            lines.append(f"link set dev {c.bridge} up")
        run_here(["ip", "-batch", "-"], "\n".join(lines) + "\n")
        self.plugged = {c.index: True for c in self.cables}

    def plug(self, changes: dict[Cable, bool]) -> None:
        """Plug (True) or unplug (False) cables: both patch ports up or down."""
        if not changes:
            return
        lines = []
        for cable, up in changes.items():
            for end in cable.ends():
                lines.append(f"link set dev {end.patch_iface} {'up' if up else 'down'}")
        run_here(["ip", "-batch", "-"], "\n".join(lines) + "\n")
        for cable, up in changes.items():
            self.plugged[cable.index] = up

    def stop(self, deleteIntfs: bool = False) -> None:
        """Nothing: the bridges go with the emulation namespace."""


class EmulatedNetwork:
    """Builds the Mininet network for a layout and applies failure views to it."""

    def __init__(self, layout: Layout, log_level: str = "warn") -> None:
        self.layout = layout
        self.fabric = layout.fabric
        self.log_level = log_level
        self.net: Any = None
        self.panel: PatchPanel | None = None
        self.switches: dict[str, Bmv2Node] = {}
        self.hosts: dict[str, Any] = {}
        self.failures = FailureView()
        self._routes: dict[str, dict[RouteKey, str]] = {}

    # -- build --------------------------------------------------------------------------
    def build(self, failures: FailureView | None = None, progress: Callable[[], None] | None = None) -> None:
        """Hosts, switches, cables; host plumbing; bmv2 started and listening.

        `progress` is called whenever new processes exist (hosts, then switches),
        so the caller can record them before anything else can fail.
        """
        progress = progress or (lambda: None)
        setLogLevel("warning")
        # Mininet.init() would tune machine-wide limits and sysctls (fs.file-max,
        # net.core.*): this emulation needs none of it and keeps off the host's settings.
        Mininet.inited = True
        self.net = Mininet(
            topo=None, build=False, controller=None, switch=Bmv2Node, host=Host, link=Link, autoSetMacs=False
        )
        run_here(sysctl_argv(EMULATION_SYSCTLS))
        for host in self.fabric.hosts:
            node = self.net.addHost(host.name, ip=None)
            run_in_host(node, sysctl_argv(HOST_SYSCTLS))
            self.hosts[host.name] = node
        progress()
        self.panel = self.net.addSwitch(PATCH_PANEL, cls=PatchPanel, cables=self.layout.cables)
        self.layout.switch_dir.mkdir(parents=True, exist_ok=True)
        emu_ns = Netns(self.layout.namespace)
        for sw in self.fabric.switches:
            bmv2 = Bmv2Switch(
                name=sw.name,
                netns=emu_ns,
                ports=self.layout.switch_ports(sw.name),
                run_dir=self.layout.switch_dir,
                device_id=sw.device_id,
                thrift_port=self.layout.thrift_port(sw.name),
                log_level=self.log_level,
            )
            self.switches[sw.name] = self.net.addSwitch(sw.name, cls=Bmv2Node, bmv2=bmv2)
        self._add_cables()
        self.net.build()
        for host in self.fabric.hosts:
            self._plumb_host(host.name)
        self.apply_failures(failures or FailureView(), cables=False)
        try:
            self.net.start()
        finally:
            progress()
        if failures:
            self.apply_failures(failures)

    def _add_cables(self) -> None:
        assert self.panel is not None
        for cable in self.layout.cables:
            for side, end in enumerate(cable.ends()):
                extra: dict[str, Any] = {}
                if isinstance(end.endpoint, NicPort):
                    nic = self.fabric.nic(end.endpoint.host, end.endpoint.rail)
                    assert nic is not None
                    device_mac, port = nic.mac, 2 * end.endpoint.rail + end.endpoint.port
                    extra = {"cls": HostCable, "ifindex": HOST_IFINDEX_BASE + port}
                else:
                    # Not the switch's own MAC: frames for the switch must not look local here.
                    device_mac, port = local_mac(0x0E, 2 * cable.index + side), end.endpoint.port
                self.net.addLink(
                    self.net[end.node],
                    self.panel,
                    port1=port,
                    port2=2 * cable.index + side,
                    intfName1=end.device_iface,
                    intfName2=end.patch_iface,
                    addr1=device_mac,
                    addr2=end.patch_mac,
                    **extra,
                )

    def _plumb_host(self, name: str) -> None:
        node = self.hosts[name]
        host = self.fabric.host(name)
        ifaces = sorted(self.layout.host_ports(host).values())
        with entered_process(node.pid):
            for iface in ifaces:
                ethtool.disable_tx_checksum(iface)
        run_in_host(node, sysctl_argv(port_sysctls(ifaces)))
        run_in_host(node, ["ip", "-batch", "-"], "\n".join(setup_commands(self.layout, host)) + "\n")

    # -- failures -------------------------------------------------------------------------
    def cable_should_be_up(self, cable: Cable, failures: FailureView) -> bool:
        if cable.link in failures.links:
            return False
        return not any(end.node in failures.switches for end in cable.ends())

    def apply_failures(self, failures: FailureView, cables: bool = True, hosts: bool = True) -> list[str]:
        """Make cables and/or host routes match `failures`; returns what changed, readable.

        Cables first (that is the failure itself), then the hosts' routes (how
        the hosts follow the controller's view of it). The controller asks for
        them separately when something comes back: cable, then switches, then hosts.
        """
        changes: list[str] = []
        if cables:
            assert self.panel is not None
            plug = {
                c: want
                for c in self.layout.cables
                if (want := self.cable_should_be_up(c, failures)) != self.panel.plugged.get(c.index, True)
            }
            self.panel.plug(plug)
            changes += [f"cable {c} {'plugged in' if up else 'unplugged'}" for c, up in plug.items()]
        if not hosts:
            return changes
        routes = nic_routes(self.fabric, failures)
        jobs: list[tuple[Any, Sequence[str], str | None]] = []
        wanted = {h.name: desired_routes(self.layout, h, routes) for h in self.fabric.hosts}
        for name, routes_of_host in wanted.items():
            lines = route_commands(self._routes.get(name, {}), routes_of_host)
            if lines:
                jobs.append((self.hosts[name], ["ip", "-batch", "-"], "\n".join(lines) + "\n"))
                changes.append(f"{name}: {len(lines)} route(s) changed")
        run_in_hosts(jobs)  # all hosts at once: each one's routes change as soon as possible
        self._routes.update(wanted)
        self.failures = failures
        return changes

    # -- switches ---------------------------------------------------------------------------
    def kill_switch(self, name: str) -> None:
        self.switches[name].bmv2.kill()

    def start_switch(self, name: str) -> None:
        bmv2 = self.switches[name].bmv2
        if bmv2.alive():
            raise NetworkError(f"{name} is running (pid {bmv2.pid})")
        bmv2.start(SWITCH_START_TIMEOUT)

    # -- teardown -----------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop every bmv2 and Mininet node; the caller deletes the namespaces."""
        for node in self.switches.values():
            try:
                node.bmv2.stop()
            except Exception as exc:  # keep stopping the others
                LOG.warning("%s: stop failed: %s", node.name, exc)
        if self.net is not None:
            for node in [*self.net.hosts, *self.net.switches]:
                try:
                    node.terminate()
                except Exception as exc:
                    LOG.warning("%s: terminate failed: %s", node.name, exc)

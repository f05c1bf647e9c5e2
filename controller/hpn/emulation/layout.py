"""Names and wiring of an emulated fabric: namespaces, interfaces, cables, files.

Everything the emulation creates is named here, from the fabric alone, so
`hpnctl emulate down` can find and remove exactly those names even when the
process that created them died before it could write anything down.

Wiring: every cable of the fabric runs through a *patch panel* in the
emulation namespace. A cable is a Linux bridge with two patch ports; each
patch port is the peer of a veth whose other end is the device's port (a bmv2
switch port, or a host's NIC port inside the host namespace):

    bmv2 s1p129 == c1p129 -[bridge b17]- c9p1 == s9p1 bmv2
    host h0r0p0 == n0r0p0 -[bridge b0 ]- c1p1 == s1p1 bmv2

Unplugging a cable sets its two patch ports down: both devices see their
port lose carrier while the port itself stays administratively up. bmv2 is
never given an interface that goes down (a bmv2 whose own interface is set
down stops forwarding on every port, behavioral-model issue 1215).

A layout may cross cables on purpose (`crossed`, for the wiring check's tests and
benchmark): the cables the topology plugs into two switch ports land in each other's
port, as if a technician had swapped them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from hpn.emulation.control_socket import CONTROL_SOCKET
from hpn.netlab.netns import check_ifname
from hpn.topology.model import Endpoint, Fabric, Host, Link, NicPort, SwitchPort

NAMESPACE_PREFIX = "hpn-emu-"
THRIFT_PORT_BASE = 9090
UNIX_PATH_MAX = 107  # sun_path holds 108 bytes including the terminating NUL
PATCH_PANEL = "patch-panel"
"""Mininet node that holds the cables' bridges (in the emulation namespace)."""

_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class LayoutError(ValueError):
    """The fabric cannot be emulated under these names (bad name, path too long, bad crossing)."""


Crossing = tuple[SwitchPort, SwitchPort]
"""Two switch ports whose cables are swapped in the patch panel."""


def parse_crossing(fabric: Fabric, text: str) -> Crossing:
    """`SWITCH:PORT,SWITCH:PORT` (as `--cross` gives it) as a crossing of `fabric`."""
    ports = []
    for part in text.split(","):
        switch, _, port = part.strip().rpartition(":")
        if not switch or not port.isdigit():
            raise LayoutError(f"crossing {text!r}: {part.strip()!r} is not SWITCH:PORT")
        ports.append(SwitchPort(switch, int(port)))
    if len(ports) != 2:
        raise LayoutError(f"crossing {text!r}: expected two ports SWITCH:PORT,SWITCH:PORT")
    return ports[0], ports[1]


@dataclass(frozen=True)
class CableEnd:
    """One end of a cable: the device's interface and its peer in the patch panel."""

    endpoint: Endpoint
    node: str  # Mininet node: switch or host name
    device_iface: str  # in the emulation namespace (switch) or the host namespace (host)
    patch_iface: str  # in the emulation namespace, a port of the cable's bridge
    patch_mac: str

    @property
    def is_host(self) -> bool:
        return isinstance(self.endpoint, NicPort)


@dataclass(frozen=True)
class Cable:
    """A fabric link as emulated: a bridge joining the patch ports of its two ends."""

    index: int
    link: Link
    a: CableEnd
    b: CableEnd

    @property
    def bridge(self) -> str:
        return f"b{self.index}"

    @property
    def bridge_mac(self) -> str:
        return local_mac(0x0A, self.index)

    def ends(self) -> tuple[CableEnd, CableEnd]:
        return (self.a, self.b)

    def __str__(self) -> str:
        return str(self.link)


def local_mac(kind: int, n: int) -> str:
    """Locally administered MACs for patch ports/bridges, never used by the fabric itself."""
    return f"{kind:02x}:00:00:{(n >> 16) & 0xFF:02x}:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}"


@dataclass(frozen=True)
class Layout:
    """How `fabric` is emulated under `run_dir` (an absolute path is best)."""

    fabric: Fabric
    run_dir: Path
    crossed: tuple[Crossing, ...] = ()
    """Pairs of switch ports whose switch-to-switch cables are swapped: the cable the
    topology plugs into the first port lands in the second, and the other way round."""

    def __post_init__(self) -> None:
        if not _NAME_OK.match(self.fabric.name):
            raise LayoutError(
                f"fabric name {self.fabric.name!r} cannot name a network namespace "
                "(use letters, digits, '.', '_' and '-')"
            )
        for path in (self.control_socket, *(self.grpc_socket(s.name) for s in self.fabric.switches)):
            if len(str(path)) > UNIX_PATH_MAX:
                raise LayoutError(
                    f"{path}: {len(str(path))} chars is too long for a Unix socket ({UNIX_PATH_MAX} max); "
                    "set HPN_RUN_DIR to a shorter directory"
                )
        self._check_crossings()

    def _check_crossings(self) -> None:
        seen: set[SwitchPort] = set()
        for pair in self.crossed:
            for at in pair:
                link = self.fabric.link_at(at.switch, at.port) if self.fabric.has_switch(at.switch) else None
                if link is None:
                    raise LayoutError(f"crossed port {at}: no cable of {self.fabric.name} is plugged there")
                if not all(isinstance(end, SwitchPort) for end in link.ends()):
                    raise LayoutError(
                        f"crossed port {at}: its cable {link} is a host cable, not switch-to-switch"
                    )
                if at in seen:
                    raise LayoutError(f"crossed port {at}: crossed twice")
                seen.add(at)
            a, b = pair
            if self.fabric.link_at(a.switch, a.port) == self.fabric.link_at(b.switch, b.port):
                raise LayoutError(f"crossing {a},{b}: both ends of one cable")

    # -- namespaces -----------------------------------------------------------------
    @property
    def namespace(self) -> str:
        """Where Mininet, the bmv2 switches and the patch panel live."""
        return f"{NAMESPACE_PREFIX}{self.fabric.name}"

    def host_namespace(self, host: str) -> str:
        """The name a host's namespace is given (`ip netns exec <it> ...` works)."""
        return f"{self.namespace}-{host}"

    @property
    def all_namespaces(self) -> tuple[str, ...]:
        return (self.namespace, *(self.host_namespace(h.name) for h in self.fabric.hosts))

    # -- interfaces -----------------------------------------------------------------
    @cached_property
    def _host_index(self) -> dict[str, int]:
        return {h.name: i for i, h in enumerate(self.fabric.hosts)}

    def switch_iface(self, switch: str, port: int) -> str:
        return check_ifname(f"s{self.fabric.switch(switch).device_id}p{port}")

    def nic_iface(self, host: str, rail: int, port: int) -> str:
        return check_ifname(f"h{self._host_index[host]}r{rail}p{port}")

    def _end(self, endpoint: Endpoint, number: int) -> CableEnd:
        if isinstance(endpoint, SwitchPort):
            dev = self.fabric.switch(endpoint.switch).device_id
            return CableEnd(
                endpoint,
                endpoint.switch,
                self.switch_iface(endpoint.switch, endpoint.port),
                check_ifname(f"c{dev}p{endpoint.port}"),
                local_mac(0x06, number),
            )
        i = self._host_index[endpoint.host]
        return CableEnd(
            endpoint,
            endpoint.host,
            self.nic_iface(endpoint.host, endpoint.rail, endpoint.port),
            check_ifname(f"n{i}r{endpoint.rail}p{endpoint.port}"),
            local_mac(0x06, number),
        )

    @cached_property
    def cables(self) -> tuple[Cable, ...]:
        """One per link; a crossed cable joins its link's far end to the other crossed port."""
        plain = [
            (k, link, self._end(link.a, 2 * k), self._end(link.b, 2 * k + 1))
            for k, link in enumerate(self.fabric.links)
        ]
        at = {end.endpoint: end for _, _, a, b in plain for end in (a, b)}
        swapped: dict[Endpoint, CableEnd] = {}
        for p, q in self.crossed:
            swapped[p], swapped[q] = at[q], at[p]
        return tuple(
            Cable(k, link, swapped.get(a.endpoint, a), swapped.get(b.endpoint, b)) for k, link, a, b in plain
        )

    @cached_property
    def _cable_by_link(self) -> dict[Link, Cable]:
        return {c.link: c for c in self.cables}

    def cable(self, link: Link) -> Cable:
        return self._cable_by_link[link]

    def switch_ports(self, switch: str) -> dict[int, str]:
        """bmv2 port number -> interface, for one switch."""
        return {port: self.switch_iface(switch, port) for port in sorted(self.fabric.switch_ports(switch))}

    def host_ports(self, host: Host) -> dict[tuple[int, int], str]:
        """(rail, NIC port) -> interface in the host namespace, for cabled NIC ports."""
        out = {}
        for nic in host.nics:
            for port in (0, 1):
                if self.fabric.nic_link(NicPort(host.name, nic.rail, port)) is not None:
                    out[(nic.rail, port)] = self.nic_iface(host.name, nic.rail, port)
        return out

    def thrift_port(self, switch: str) -> int:
        return THRIFT_PORT_BASE + self.fabric.switch(switch).device_id

    # -- files ------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        """Written by the emulation process: its pid, phase, switch and host processes."""
        return self.run_dir / "emulation.json"

    @property
    def control_socket(self) -> Path:
        return self.run_dir / CONTROL_SOCKET

    @property
    def daemon_log(self) -> Path:
        return self.run_dir / "emulation.log"

    @property
    def targets_file(self) -> Path:
        """{switch: address}, read by every hpnctl command (hpn.cli.targets)."""
        return self.run_dir / "targets.json"

    @property
    def switch_dir(self) -> Path:
        """Per-switch logs (<name>.log) and gRPC sockets (<name>.grpc.sock)."""
        return self.run_dir / "sw"

    def grpc_socket(self, switch: str) -> Path:
        return self.switch_dir / f"{switch}.grpc.sock"

    def grpc_address(self, switch: str) -> str:
        return f"unix:{self.grpc_socket(switch)}"

    @property
    def runner_file(self) -> Path:
        """`hpnctl run` started by `up --run`: its pid and start time, metrics port, files."""
        return self.run_dir / "runner.json"

    @property
    def runner_log(self) -> Path:
        return self.run_dir / "runner.log"

    @property
    def runner_events(self) -> Path:
        """The runner's events, one JSON line each (`hpnctl run --events`)."""
        return self.run_dir / "runner-events.jsonl"

    @property
    def reports_dir(self) -> Path:
        return self.run_dir / "reports"

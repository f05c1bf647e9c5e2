"""Host side of the emulation: dual-port NICs without a bonding driver.

Each NIC of a host has two ports (interfaces `h<i>r<rail>p0` and `...p1`) with
the NIC's one MAC; the NIC's one IP sits on `lo`, so both ports receive for it.
Sending works as an RNIC bond would:

- one routing table per rail (`RAIL_TABLE_BASE + rail`), selected by
  `ip rule from <nic ip>`, whose fabric route is a multipath route over the
  NIC's live ports; with `fib_multipath_hash_policy=1` the kernel hashes the
  5-tuple, so flows spread over both ports (planes) and a flow stays on one;
- the main table routes each rail's /24s through that rail's NIC (with the
  NIC's address as source) for programs that do not bind an address;
- the next hop is a fixed link-local gateway (`hpn.params.GATEWAY_IP`) that each
  port's ToR answers ARP for (gateway_arp), as a stock Linux host with a plain
  default route expects: no static neighbour entries.

Failures are followed from the controller's view (a `FailureView`): a port is
used for a destination only when its plane can deliver there. A dead local
port leaves the multipath route; a destination whose port in some plane is
dead, or whose ToR that plane cannot reach, gets a /32 route over the ports
that still work. The kernel also skips a port whose carrier is gone
(`ignore_routes_with_linkdown`), as a bond's link monitor would, so a local
failure is followed before the controller has even heard of it.

Everything here is pure: it computes commands (`ip -batch` lines, sysctls)
that hpn.emulation.network runs inside the host namespaces. The ports'
offloads are set by hpn.netlab.ethtool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from hpn.emulation.layout import Layout
from hpn.params import GATEWAY_IP
from hpn.routing.failures import FailureView
from hpn.topology.model import Fabric, Host, NicId, NicPort, Role, SwitchPort

GATEWAY = IPv4Address(GATEWAY_IP)
"""The next hop every NIC port sends to; its ToR answers ARP for it with its MAC."""
RAIL_TABLE_BASE = 100
RULE_PREF_BASE = 1000

HOST_SYSCTLS: dict[str, str] = {
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv4.conf.all.ignore_routes_with_linkdown": "1",
    "net.ipv4.conf.default.ignore_routes_with_linkdown": "1",
    "net.ipv4.fib_multipath_hash_policy": "1",
}
"""Set in every host namespace before its ports exist (so `default` applies to them)."""


def rail_table(rail: int) -> int:
    return RAIL_TABLE_BASE + rail


# -- which ports reach which destination -------------------------------------------------


@dataclass(frozen=True)
class _Plane:
    """The live cabling of the fabric under a failure view, for plane questions."""

    fabric: Fabric
    failures: FailureView

    def tor_of(self, nic_port: NicPort) -> str | None:
        """The ToR a NIC port can use, or None when the port, its cable or its ToR is down."""
        if not self.failures.nic_port_up(self.fabric, nic_port):
            return None
        tor = self.fabric.nic_switch_port(nic_port)
        return None if tor is None else tor.switch

    def uplinks(self, tor: str) -> frozenset[str]:
        """Aggregation switches `tor` reaches over a live cable (both ends up)."""
        dead = self.failures.switches
        out = set()
        for link in self.fabric.switch_ports(tor).values():
            if link in self.failures.links:
                continue
            for end in link.ends():
                if (
                    isinstance(end, SwitchPort)
                    and end.switch != tor
                    and end.switch not in dead
                    and self.fabric.switch(end.switch).role is Role.AGG
                ):
                    out.add(end.switch)
        return frozenset(out)

    def connects(self, src_tor: str, dst_tor: str) -> bool:
        """Can a packet entering `src_tor` reach `dst_tor` inside its plane?"""
        if src_tor == dst_tor:
            return True
        if self.fabric.switch(src_tor).plane != self.fabric.switch(dst_tor).plane:
            return False
        return bool(self.uplinks(src_tor) & self.uplinks(dst_tor))


def usable_ports(fabric: Fabric, failures: FailureView, src: NicId, dst: NicId) -> tuple[int, ...]:
    """NIC ports of `src` whose plane delivers to NIC `dst`, under `failures`.

    Dual-plane: port p enters plane p and is only delivered to the destination's
    port p, so it is usable when both ports p are up and plane p connects their
    ToRs. Merged planes: any live port of the destination will do.
    """
    view = _Plane(fabric, failures)
    dst_tors = []
    for q in (0, 1):
        tor = view.tor_of(NicPort(dst[0], dst[1], q))
        if tor is not None:
            dst_tors.append((q, tor))
    usable = []
    for p in (0, 1):
        tor = view.tor_of(NicPort(src[0], src[1], p))
        if tor is None:
            continue
        targets = [t for q, t in dst_tors if fabric.planes_merged or q == p]
        if any(view.connects(tor, t) for t in targets):
            usable.append(p)
    return tuple(usable)


@dataclass(frozen=True)
class NicRoutes:
    """How one NIC sends: its live ports, and destinations that need fewer ports."""

    host: str
    rail: int
    ip: IPv4Address
    ports: tuple[int, ...]  # live local ports (the multipath route for everything else)
    exceptions: Mapping[IPv4Address, tuple[int, ...]] = field(default_factory=dict)  # () = unreachable


def nic_routes(fabric: Fabric, failures: FailureView) -> dict[NicId, NicRoutes]:
    """Per NIC, the routes that follow the controller's failure view."""
    view = _Plane(fabric, failures)
    nics = list(fabric.nics())
    out: dict[NicId, NicRoutes] = {}
    for host, nic in nics:
        src = (host.name, nic.rail)
        ports = tuple(p for p in (0, 1) if view.tor_of(NicPort(host.name, nic.rail, p)) is not None)
        exceptions: dict[IPv4Address, tuple[int, ...]] = {}
        for other, other_nic in nics:
            dst = (other.name, other_nic.rail)
            if dst == src:
                continue
            usable = usable_ports(fabric, failures, src, dst)
            if usable != ports:
                exceptions[other_nic.ip] = usable
        out[src] = NicRoutes(host.name, nic.rail, nic.ip, ports, exceptions)
    return out


# -- commands ----------------------------------------------------------------------------

RouteKey = tuple[str, str]  # (table, prefix)


def _nexthops(layout: Layout, host: str, rail: int, ports: tuple[int, ...]) -> str:
    return " ".join(f"nexthop via {GATEWAY} dev {layout.nic_iface(host, rail, p)} onlink" for p in ports)


def desired_routes(layout: Layout, host: Host, routes: Mapping[NicId, NicRoutes]) -> dict[RouteKey, str]:
    """(table, prefix) -> route spec (what follows the prefix in `ip route replace`)."""
    fabric = layout.fabric
    segments = sorted({h.segment for h in fabric.hosts})
    out: dict[RouteKey, str] = {}
    for nic in host.nics:
        r = routes[(host.name, nic.rail)]
        table = str(rail_table(nic.rail))

        def spec(ports: tuple[int, ...], src: bool, r: NicRoutes = r) -> str:
            if not ports:
                return "unreachable"
            hops = _nexthops(layout, host.name, r.rail, ports)
            return f"proto static src {r.ip} {hops}" if src else f"proto static {hops}"

        out[(table, str(fabric.addressing.base))] = spec(r.ports, src=False)
        for seg in segments:
            out[("main", str(fabric.subnet_of(seg, nic.rail)))] = spec(r.ports, src=True)
        for dst, ports in r.exceptions.items():
            prefix = str(IPv4Network(f"{dst}/32"))
            out[(table, prefix)] = spec(ports, src=False)
            if any(dst in fabric.subnet_of(seg, nic.rail) for seg in segments):
                out[("main", prefix)] = spec(ports, src=True)
    return out


def _route_line(op: str, key: RouteKey, spec: str) -> str:
    table, prefix = key
    if spec == "unreachable":
        return f"route {op} unreachable {prefix} table {table}"
    return f"route {op} {prefix} table {table} {spec}"


def route_commands(previous: Mapping[RouteKey, str], desired: Mapping[RouteKey, str]) -> list[str]:
    """`ip -batch` lines turning the `previous` routes into the `desired` ones.

    Changed routes are replaced in place (no moment without a route); only
    routes no longer wanted are deleted, after the replacements.
    """
    lines = [_route_line("replace", k, v) for k, v in sorted(desired.items()) if previous.get(k) != v]
    for key in sorted(set(previous) - set(desired)):
        table, prefix = key
        lines.append(f"route del {prefix} table {table}")
    return lines


def setup_commands(layout: Layout, host: Host) -> list[str]:
    """`ip -batch` lines that give a host its NIC addresses and rules, and bring its ports up.

    The ports already exist (with the NIC's MAC); routes come from `route_commands`.
    """
    fabric = layout.fabric
    lines = ["link set lo up"]
    for nic in host.nics:
        lines.append(f"address add {nic.ip}/32 dev lo")
        lines.append(f"rule add from {nic.ip} lookup {rail_table(nic.rail)} pref {RULE_PREF_BASE + nic.rail}")
    for (rail, port), iface in sorted(layout.host_ports(host).items()):
        if fabric.nic_switch_port(NicPort(host.name, rail, port)) is None:
            raise ValueError(f"{host.name} rail {rail} port {port} has no cable to a ToR")
        lines.append(f"link set {iface} up")
    return lines


def sysctl_argv(values: Mapping[str, str]) -> list[str]:
    return ["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in values.items())]


def port_sysctls(ifaces: list[str]) -> dict[str, str]:
    """Per-port settings the namespace defaults may not have reached (set them explicitly)."""
    out: dict[str, str] = {}
    for iface in ifaces:
        out[f"net.ipv6.conf.{iface}.disable_ipv6"] = "1"
        out[f"net.ipv4.conf.{iface}.rp_filter"] = "0"
    return out

"""Generate an HPN pod from its parameters (the `kind: hpn` form).

Wiring (HPN, SIGCOMM 2024): port p of NIC r of every host in segment s goes to
ToR(s, r, p); every ToR of plane p links to every aggregation switch of plane p.
With `planes_merged` both ports of a NIC still reach two different ToRs, but
every ToR links to every aggregation switch and all switches form one routing
plane (the dual-ToR design without plane separation).

Names, numbers and addresses are functions of the position only:
  ToR(s, r, p)   tor-s{s}-r{r}-p{p}; host index h on port 1 + h; k-th uplink on port 129 + k
  agg(p, a)      agg-p{p}-a{a}; ToR(s, r, p) on port 1 + s * rails + r
                 (merged: ToR(s, r, p) on port 1 + (s * rails + r) * 2 + p)
  host(s, h)     host-s{s}-h{h}; NIC r has the h-th address of the (s, r) /24
  device_id      ToRs 1.. in (s, r, p) order, then aggs in (p, a) order; gRPC port 50000 + device_id
  MACs           switches 02:ff:00:00:<device_id, 16 bits>; NICs 02:00:<IPv4 address>
"""

from __future__ import annotations

from ipaddress import IPv4Address

from hpn.topology.errors import Problem
from hpn.topology.model import (
    GRPC_PORT_BASE,
    HOST_PORT_BASE,
    MAX_FABRIC_PORT,
    UPLINK_PORT_BASE,
    Addressing,
    Fabric,
    Host,
    Link,
    Nic,
    NicPort,
    Role,
    Switch,
    SwitchPort,
)
from hpn.topology.schema import HpnSpec, settings_of

MAX_RAILS = 256
"""Rails per segment the addressing has room for: one /24 each within the segment's 256."""


def tor_name(segment: int, rail: int, plane: int) -> str:
    return f"tor-s{segment}-r{rail}-p{plane}"


def agg_name(plane: int, index: int) -> str:
    return f"agg-p{plane}-a{index}"


def host_name(segment: int, index: int) -> str:
    return f"host-s{segment}-h{index}"


def switch_mac(device_id: int) -> str:
    return f"02:ff:00:00:{device_id >> 8 & 0xFF:02x}:{device_id & 0xFF:02x}"


def nic_mac(ip: IPv4Address) -> str:
    return "02:00:" + ":".join(f"{b:02x}" for b in ip.packed)


def check_spec(spec: HpnSpec) -> list[Problem]:
    """Parameter combinations the port and address schemes cannot hold."""
    problems: list[Problem] = []
    sides = spec.planes if spec.planes_merged else 1
    max_hosts = UPLINK_PORT_BASE - HOST_PORT_BASE
    if spec.hosts_per_segment > max_hosts:
        problems.append(
            Problem(
                ("hosts_per_segment",),
                f"{spec.hosts_per_segment} hosts exceed the {max_hosts} ToR host ports",
            )
        )
    uplinks = spec.aggs_per_plane * sides
    max_uplinks = MAX_FABRIC_PORT - UPLINK_PORT_BASE + 1
    if uplinks > max_uplinks:
        problems.append(
            Problem(("aggs_per_plane",), f"each ToR would need {uplinks} uplinks; ports allow {max_uplinks}")
        )
    planes = " x 2 planes" if sides > 1 else ""
    rail_ports = spec.rails * sides
    downlinks = spec.segments * rail_ports
    if rail_ports > MAX_FABRIC_PORT:  # too many rails whatever the segments: say so on rails
        problems.append(
            Problem(
                ("rails",),
                f"{spec.rails} rails{planes} need {rail_ports} ToR ports on each aggregation switch; "
                f"ports allow {MAX_FABRIC_PORT}",
            )
        )
    elif downlinks > MAX_FABRIC_PORT:
        problems.append(
            Problem(
                ("segments",),
                f"{spec.segments} segments x {spec.rails} rails{planes} need {downlinks} ToR ports on "
                f"each aggregation switch; ports allow {MAX_FABRIC_PORT}",
            )
        )
    if spec.planes_merged and spec.planes != 2:
        problems.append(Problem(("planes_merged",), "merging planes needs planes: 2"))
    problems.extend(_addressing_problems(spec))
    return problems


def _addressing_problems(spec: HpnSpec) -> list[Problem]:
    """One /24 per (segment, rail), the (segment * 256 + rail)-th of the base."""
    if spec.rails > MAX_RAILS:
        return [
            Problem(
                ("rails",),
                f"{spec.rails} rails: the addressing has one /24 for each of at most {MAX_RAILS} rails "
                "per segment",
            )
        ]
    if Addressing(spec.addressing.base).fits(spec.segments, spec.rails):
        return []
    slots = (spec.segments - 1) * 256 + spec.rails
    needed = 24 - (slots - 1).bit_length()
    if needed < 0:
        return [
            Problem(
                ("segments",),
                f"{spec.segments} segments fit no IPv4 base: segment s takes the 256 /24s from the "
                "(s x 256)-th on",
            )
        ]
    return [
        Problem(
            ("addressing", "base"),
            f"{spec.addressing.base} is too small: one /24 per (segment, rail) for {spec.segments} "
            f"segments x {spec.rails} rails needs a /{needed} or shorter",
        )
    ]


def generate(spec: HpnSpec) -> Fabric:
    """The fabric a valid spec describes (call `check_spec` first)."""
    merged = spec.planes_merged
    sides = range(spec.planes)

    def routing_plane(side: int) -> int:
        return 0 if merged else side

    addressing = Addressing(spec.addressing.base)

    switches: list[Switch] = []

    def add_switch(name: str, role: Role, plane: int, segment: int | None, rail: int | None) -> None:
        device_id = len(switches) + 1
        switches.append(
            Switch(
                name=name,
                role=role,
                plane=plane,
                device_id=device_id,
                grpc_port=GRPC_PORT_BASE + device_id,
                mac=switch_mac(device_id),
                segment=segment,
                rail=rail,
            )
        )

    for s in range(spec.segments):
        for r in range(spec.rails):
            for p in sides:
                add_switch(tor_name(s, r, p), Role.TOR, routing_plane(p), s, r)
    for p in sides:
        for a in range(spec.aggs_per_plane):
            add_switch(agg_name(p, a), Role.AGG, routing_plane(p), None, None)

    hosts: list[Host] = []
    links: list[Link] = []
    for s in range(spec.segments):
        for h in range(spec.hosts_per_segment):
            name = host_name(s, h)
            nics = []
            for r in range(spec.rails):
                ip = addressing.host_ip(s, r, h)
                nics.append(Nic(rail=r, ip=ip, mac=nic_mac(ip)))
                for p in sides:
                    tor_port = SwitchPort(tor_name(s, r, p), HOST_PORT_BASE + h)
                    links.append(Link(NicPort(name, r, p), tor_port, spec.speeds.host_gbps))
            hosts.append(Host(name=name, segment=s, index=h, nics=tuple(nics)))

    for s in range(spec.segments):
        for r in range(spec.rails):
            for p in sides:
                tor = tor_name(s, r, p)
                # uplink k goes to the k-th agg of the ToR's plane (merged: of all aggs), which
                # numbers its ToR ports by (segment, rail) (merged: and side)
                aggs = [
                    agg_name(ap, a) for ap in (sides if merged else [p]) for a in range(spec.aggs_per_plane)
                ]
                down = 1 + ((s * spec.rails + r) * spec.planes + p if merged else s * spec.rails + r)
                for k, agg in enumerate(aggs):
                    links.append(
                        Link(
                            SwitchPort(tor, UPLINK_PORT_BASE + k),
                            SwitchPort(agg, down),
                            spec.speeds.fabric_gbps,
                        )
                    )

    return Fabric(
        name=spec.name,
        switches=tuple(switches),
        hosts=tuple(hosts),
        links=tuple(links),
        addressing=addressing,
        settings=settings_of(spec.lb, spec.ecn),
        planes_merged=merged,
    )

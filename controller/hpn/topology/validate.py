"""Cross-entry rules of a fabric: references, duplicates, port ranges and HPN wiring.

Paths in the problems index the fabric's tuples (`switches[i]`, `hosts[i]`,
`links[i]`); for an explicit file these are the file's own lists. A fabric that
passes these rules is then checked for what keeps it from carrying traffic
(connectivity.py); until they pass, links may point nowhere, so that waits.
"""

from __future__ import annotations

from collections.abc import Hashable

from hpn.topology.connectivity import check_connectivity
from hpn.topology.errors import Path, Problem, format_path
from hpn.topology.model import MAX_FABRIC_PORT, NIC_PORTS, Endpoint, Fabric, NicPort, Role, Switch, SwitchPort


class _Seen:
    """First owner of each unique value, to report duplicates."""

    def __init__(self, problems: list[Problem], what: str) -> None:
        self._first: dict[Hashable, Path] = {}
        self._problems = problems
        self._what = what

    def add(self, value: Hashable, path: Path, shown: object = None) -> bool:
        first = self._first.setdefault(value, path)
        if first is path:
            return True
        shown = value if shown is None else shown
        self._problems.append(
            Problem(path, f"duplicate {self._what} {shown!s} (first at {format_path(first)})")
        )
        return False


def check_fabric(fabric: Fabric) -> list[Problem]:
    problems: list[Problem] = []
    macs = _Seen(problems, "MAC")
    _check_switches(fabric, macs, problems)
    _check_hosts(fabric, macs, problems)
    _check_links(fabric, problems)
    if not problems:
        problems += check_connectivity(fabric)
    return problems


def _check_switches(fabric: Fabric, macs: _Seen, problems: list[Problem]) -> None:
    names = _Seen(problems, "switch name")
    ids = _Seen(problems, "device_id")
    grpc = _Seen(problems, "grpc_port")
    tor_slots = _Seen(problems, "ToR for (segment, rail, plane)")
    for i, sw in enumerate(fabric.switches):
        path: Path = ("switches", i)
        names.add(sw.name, (*path, "name"), repr(sw.name))
        ids.add(sw.device_id, (*path, "device_id"))
        grpc.add(sw.grpc_port, (*path, "grpc_port"))
        macs.add(sw.mac, (*path, "mac"))
        if fabric.planes_merged and sw.plane != 0:
            problems.append(Problem((*path, "plane"), "with planes_merged every switch is in plane 0"))
        if sw.role is Role.TOR:
            for key in ("segment", "rail"):
                if getattr(sw, key) is None:
                    problems.append(Problem(path, f"ToR {sw.name!r} needs a {key}"))
            if sw.segment is not None and sw.rail is not None and not fabric.planes_merged:
                tor_slots.add((sw.segment, sw.rail, sw.plane), path, (sw.segment, sw.rail, sw.plane))
        elif sw.segment is not None or sw.rail is not None:
            problems.append(Problem(path, f"aggregation switch {sw.name!r} has no segment or rail"))


def _check_hosts(fabric: Fabric, macs: _Seen, problems: list[Problem]) -> None:
    names = _Seen(problems, "host name")
    slots = _Seen(problems, "host (segment, index)")
    ips = _Seen(problems, "IP address")
    for i, host in enumerate(fabric.hosts):
        path: Path = ("hosts", i)
        names.add(host.name, (*path, "name"), repr(host.name))
        slots.add((host.segment, host.index), (*path, "index"), (host.segment, host.index))
        rails = _Seen(problems, "NIC rail")
        for j, nic in enumerate(host.nics):
            npath: Path = (*path, "nics", j)
            rails.add(nic.rail, (*npath, "rail"))
            ips.add(nic.ip, (*npath, "ip"))
            macs.add(nic.mac, (*npath, "mac"))
            subnet = fabric.subnet_of(host.segment, nic.rail)
            if nic.ip not in subnet:
                problems.append(
                    Problem(
                        (*npath, "ip"),
                        f"{nic.ip} is outside {subnet}, the subnet of segment {host.segment} rail {nic.rail}",
                    )
                )
            elif nic.ip in (subnet.network_address, subnet.broadcast_address):
                problems.append(Problem((*npath, "ip"), f"{nic.ip} is not a host address of {subnet}"))


def _resolve(fabric: Fabric, end: Endpoint, path: Path, problems: list[Problem]) -> Switch | NicPort | None:
    """The switch or NIC port an end names, or None after reporting why not."""
    if isinstance(end, SwitchPort):
        if not fabric.has_switch(end.switch):
            problems.append(Problem(path, f"unknown switch {end.switch!r}"))
            return None
        if not 0 <= end.port <= MAX_FABRIC_PORT:
            problems.append(Problem((*path, "port"), f"port {end.port} is outside 0..{MAX_FABRIC_PORT}"))
            return None
        return fabric.switch(end.switch)
    if not fabric.has_host(end.host):
        problems.append(Problem(path, f"unknown host {end.host!r}"))
        return None
    if fabric.host(end.host).nic(end.rail) is None:
        problems.append(Problem((*path, "rail"), f"host {end.host!r} has no NIC on rail {end.rail}"))
        return None
    if not 0 <= end.port < NIC_PORTS:
        problems.append(Problem((*path, "port"), f"NIC port {end.port} is not 0 or 1"))
        return None
    return end


def _check_links(fabric: Fabric, problems: list[Problem]) -> None:
    ports = _Seen(problems, "use of port")
    for i, link in enumerate(fabric.links):
        path: Path = ("links", i)
        resolved = [
            _resolve(fabric, end, (*path, side), problems)
            for side, end in zip("ab", link.ends(), strict=True)
        ]
        if None in resolved:
            continue
        for side, end in zip("ab", link.ends(), strict=True):
            ports.add(end, (*path, side), str(end))
        a, b = resolved
        if isinstance(a, NicPort) and isinstance(b, NicPort):
            problems.append(Problem(path, "a link needs a switch on at least one end"))
        elif isinstance(a, NicPort) or isinstance(b, NicPort):
            nic, tor, tor_side = (a, b, "b") if isinstance(a, NicPort) else (b, a, "a")
            assert isinstance(nic, NicPort) and isinstance(tor, Switch)
            _check_host_link(fabric, nic, tor, (*path, tor_side), problems)
            _check_dual_tor(fabric, nic, tor, path, problems)
        else:
            assert isinstance(a, Switch) and isinstance(b, Switch)
            _check_fabric_link(fabric, a, b, path, problems)


def _check_host_link(fabric: Fabric, nic: NicPort, tor: Switch, path: Path, problems: list[Problem]) -> None:
    host = fabric.host(nic.host)
    if tor.role is not Role.TOR:
        problems.append(Problem(path, f"hosts attach to ToRs only; {tor.name!r} is an aggregation switch"))
        return
    if (tor.segment, tor.rail) != (host.segment, nic.rail):
        problems.append(
            Problem(
                path,
                f"{nic} (segment {host.segment}, rail {nic.rail}) is cabled to {tor.name!r} "
                f"of segment {tor.segment} rail {tor.rail}",
            )
        )
    if not fabric.planes_merged and tor.plane != nic.port:
        problems.append(
            Problem(
                path,
                f"NIC port {nic.port} must go to a plane-{nic.port} ToR; "
                f"{tor.name!r} is in plane {tor.plane}",
            )
        )


def _check_dual_tor(fabric: Fabric, nic: NicPort, tor: Switch, path: Path, problems: list[Problem]) -> None:
    """Both ports of one NIC on one ToR would make the second port useless."""
    other = fabric.nic_switch_port(NicPort(nic.host, nic.rail, 1 - nic.port))
    if nic.port == 1 and other is not None and other.switch == tor.name:
        problems.append(
            Problem(path, f"both ports of {nic.host}/nic{nic.rail} go to {tor.name!r}; they need two ToRs")
        )


def _check_fabric_link(fabric: Fabric, a: Switch, b: Switch, path: Path, problems: list[Problem]) -> None:
    if a.role is b.role:
        kind = "ToR-ToR" if a.role is Role.TOR else "agg-agg"
        problems.append(Problem(path, f"{kind} link {a.name!r}--{b.name!r}: HPN links ToRs to aggs only"))
    elif a.plane != b.plane:
        problems.append(
            Problem(
                path,
                f"ToR-agg links must stay within a plane: {a.name!r} is in plane {a.plane}, "
                f"{b.name!r} in plane {b.plane}",
            )
        )

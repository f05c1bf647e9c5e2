"""The wiring check: every cable as found, compared with the topology.

Input is what the ports saw, not how it was seen:
- `NeighbourSeen`: a switch port heard a probe from `switch:port` (the live path fills
  these from `LinkMonitor.observed()`);
- `HostSeen`: a ToR port saw a NIC's MAC: the host's reply to the ARP request the
  controller sent out of that port (hpn.operations.arp_probe; `HostMonitor.observed()`
  fills these). Both ports of a NIC carry one MAC, so the ToR tells which port: the NIC
  port the topology cables to that ToR.

Each expected cable end is checked on its own, so a swapped pair of cables is named at
all four ports. Findings read like `tor-s0-r0-p0:130 expected agg-p0-a1:1, found
agg-p0-a0:2`. `observed_from_json` reads the file `hpnctl wiring --observed` takes:

    {"neighbours": [{"switch": "tor-s0-r0-p0", "port": 130, "heard": "agg-p0-a1:1"}, ...],
     "hosts": [{"switch": "tor-s0-r0-p0", "port": 1, "mac": "02:00:0a:00:00:01"}, ...]}
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hpn.topology.model import Endpoint, Fabric, NicPort, SwitchPort


class Verdict(str, enum.Enum):
    OK = "ok"
    MISMATCH = "mismatch"  # a known neighbour, but not the expected one
    MISSING = "missing"  # the topology has a cable here; nothing was heard
    UNEXPECTED = "unexpected"  # the topology has no cable here; a known neighbour was heard
    UNKNOWN_NEIGHBOUR = "unknown_neighbour"  # heard something the topology does not have


@dataclass(frozen=True)
class NeighbourSeen:
    at: SwitchPort
    switch: str
    port: int


@dataclass(frozen=True)
class HostSeen:
    at: SwitchPort
    mac: str


@dataclass(frozen=True)
class Observed:
    neighbours: tuple[NeighbourSeen, ...] = ()
    hosts: tuple[HostSeen, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One checked port: what the topology expects there and what was found."""

    at: SwitchPort
    verdict: Verdict
    expected: str | None  # "agg-p0-a1:1", "host-s0-h0/nic0/p0", None: no cable
    found: str | None  # what was heard, None: nothing

    def __str__(self) -> str:
        expected = self.expected or "nothing"
        found = self.found or "nothing"
        if self.verdict is Verdict.UNKNOWN_NEIGHBOUR:
            found = f"{found}, which is not in the topology"
        return f"{self.at} expected {expected}, found {found}"


@dataclass(frozen=True)
class WiringReport:
    findings: tuple[Finding, ...]  # every expected cable end and every port that heard anything

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.verdict is not Verdict.OK)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[Verdict, int]:
        out = dict.fromkeys(Verdict, 0)
        for f in self.findings:
            out[f.verdict] += 1
        return out

    def verdict_at(self, at: SwitchPort) -> Verdict | None:
        return next((f.verdict for f in self.findings if f.at == at), None)


class ObservedError(ValueError):
    """An observed-links input that cannot be read; the message names where."""


def check_wiring(fabric: Fabric, observed: Observed) -> WiringReport:
    """Compare every switch port the topology cables, and every port that saw anything,
    with the topology. Findings are in port order."""
    seen_at = {n.at.switch for n in observed.neighbours} | {h.at.switch for h in observed.hosts}
    strangers = sorted(seen_at - _names(fabric))
    if strangers:
        raise ObservedError(f"observed at switch(es) not in {fabric.name}: {', '.join(strangers)}")
    heard: dict[SwitchPort, str] = {}
    known: dict[SwitchPort, bool] = {}
    for n in observed.neighbours:
        heard[n.at] = f"{n.switch}:{n.port}"
        known[n.at] = fabric.has_switch(n.switch)
    by_mac = nics_by_mac(fabric)
    for h in observed.hosts:
        heard[h.at], known[h.at] = host_found(fabric, h.at, h.mac, by_mac)

    ports = {SwitchPort(sw.name, p) for sw in fabric.switches for p in fabric.switch_ports(sw.name)}
    findings = []
    for at in sorted(ports | set(heard)):
        peer = fabric.peer(at.switch, at.port) if fabric.has_switch(at.switch) else None
        expected = None if peer is None else _name(peer)
        found = heard.get(at)
        if found is None:
            verdict = Verdict.OK if expected is None else Verdict.MISSING
        elif not known[at]:
            verdict = Verdict.UNKNOWN_NEIGHBOUR
        elif expected is None:
            verdict = Verdict.UNEXPECTED
        else:
            verdict = Verdict.OK if found == expected else Verdict.MISMATCH
        findings.append(Finding(at, verdict, expected, found))
    return WiringReport(tuple(findings))


def _names(fabric: Fabric) -> set[str]:
    return {sw.name for sw in fabric.switches}


def _name(end: Endpoint) -> str:
    return str(end)


def nics_by_mac(fabric: Fabric) -> dict[str, tuple[str, int]]:
    """Every NIC of the fabric as (host, rail), by its MAC in lower case."""
    return {nic.mac.lower(): (host.name, nic.rail) for host, nic in fabric.nics()}


def host_found(
    fabric: Fabric, at: SwitchPort, mac: str, by_mac: Mapping[str, tuple[str, int]]
) -> tuple[str, bool]:
    """What ToR port `at` found when it saw `mac`: the NIC port's name and True, or
    `MAC aa:..` and False when no NIC of the topology has that MAC (`by_mac`: `nics_by_mac`)."""
    nic = by_mac.get(mac.lower())
    if nic is None:
        return f"MAC {mac}", False
    return _nic_port_name(fabric, at, nic), True


def _nic_port_name(fabric: Fabric, at: SwitchPort, nic: tuple[str, int]) -> str:
    """`host/nicR/pP` when the topology cables a port of that NIC to this ToR, else `host/nicR`
    (the NIC showed up on a ToR it has no cable to: which of its ports is unknown)."""
    host, rail = nic
    for port in (0, 1):
        tor = fabric.nic_switch_port(NicPort(host, rail, port))
        if tor is not None and tor.switch == at.switch:
            return str(NicPort(host, rail, port))
    return f"{host}/nic{rail}"


def intact_observation(fabric: Fabric) -> Observed:
    """What a correctly cabled fabric shows: every cable heard from each switch end."""
    neighbours = []
    hosts = []
    for sw in fabric.switches:
        for port, peer in fabric.peers(sw.name).items():
            at = SwitchPort(sw.name, port)
            if isinstance(peer, SwitchPort):
                neighbours.append(NeighbourSeen(at, peer.switch, peer.port))
            else:
                nic = fabric.nic(peer.host, peer.rail)
                assert nic is not None
                hosts.append(HostSeen(at, nic.mac))
    return Observed(tuple(neighbours), tuple(hosts))


def observed_to_json(observed: Observed) -> dict[str, Any]:
    return {
        "neighbours": [
            {"switch": n.at.switch, "port": n.at.port, "heard": f"{n.switch}:{n.port}"}
            for n in observed.neighbours
        ],
        "hosts": [{"switch": h.at.switch, "port": h.at.port, "mac": h.mac} for h in observed.hosts],
    }


def observed_from_json(data: object, where: str) -> Observed:
    """The observed-links document (see the module docstring); `where` names it in errors."""
    if not isinstance(data, dict):
        raise ObservedError(f'{where}: expected a JSON object {{"neighbours": [...], "hosts": [...]}}')
    unknown = sorted(str(k) for k in data if k not in ("neighbours", "hosts"))
    if unknown:
        raise ObservedError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: neighbours, hosts)")
    neighbours = []
    for i, item in enumerate(_items(data, "neighbours", where)):
        here = f"{where}: neighbours[{i}]"
        at = _at(item, here, ("switch", "port", "heard"))
        heard = item.get("heard")
        switch, _, port = heard.rpartition(":") if isinstance(heard, str) else ("", "", "")
        if not switch or not port.isdigit():
            raise ObservedError(f'{here}.heard: expected "SWITCH:PORT", not {json.dumps(heard)}')
        neighbours.append(NeighbourSeen(at, switch, int(port)))
    hosts = []
    for i, item in enumerate(_items(data, "hosts", where)):
        here = f"{where}: hosts[{i}]"
        at = _at(item, here, ("switch", "port", "mac"))
        mac = item.get("mac")
        if not isinstance(mac, str) or len(mac.split(":")) != 6:
            raise ObservedError(f"{here}.mac: expected a MAC aa:bb:cc:dd:ee:ff, not {json.dumps(mac)}")
        hosts.append(HostSeen(at, mac))
    return Observed(tuple(neighbours), tuple(hosts))


def _items(data: Mapping[str, object], key: str, where: str) -> Sequence[Mapping[str, object]]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ObservedError(f"{where}: {key}: expected a list, not {json.dumps(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ObservedError(f"{where}: {key}[{i}]: expected an object, not {json.dumps(item)}")
    return value


def _at(item: Mapping[str, object], here: str, keys: Iterable[str]) -> SwitchPort:
    extra = sorted(set(item) - set(keys))
    if extra:
        raise ObservedError(f"{here}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(keys)})")
    switch, port = item.get("switch"), item.get("port")
    if not isinstance(switch, str) or not switch:
        raise ObservedError(f"{here}.switch: expected a switch name, not {json.dumps(switch)}")
    if not isinstance(port, int) or isinstance(port, bool) or port < 0:
        raise ObservedError(f"{here}.port: expected a port number, not {json.dumps(port)}")
    return SwitchPort(switch, port)

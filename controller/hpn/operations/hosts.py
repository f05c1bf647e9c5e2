"""Host cables from the hosts' ARP replies: which NIC each ToR host port reaches, and
whether it still answers. A state machine driven by timestamped events, like
hpn.operations.liveness for the switch cables.

Every host interval (1 s by default) each ToR port the topology cables to a NIC port is
sent an ARP request from its ToR for the NIC's address (`probes_due`,
hpn.operations.arp_probe); the host's reply, punted by the ToR with the ingress port, is
handed to `seen`. A Linux host answers only for an address it holds, so a port whose
expected NIC did not answer is also asked, `search` addresses a round, for the NICs it
could be instead (the same host's other rails first, then the ToR's other hosts): a
swapped cable is named once its host is asked for its own address. A NIC found there is
asked for with the expected one from then on, so the port stays seen while it is there.

A port that answered is lost when the requests of `misses` rounds since its last reply
went unanswered, each given its whole interval (so `misses` + 1 intervals after the last
reply; a round the caller did not send, a stalled or starved sender, is not missed): it
leaves `observed` (the wiring check says missing) and a `host_lost` event names it; an
answer after that is a `host_seen` event again. Nothing here touches
routing: the ToR drops a dead host port's member by itself (its watch port) and the host
stops using a port that lost carrier (docs/operations.md, "Wiring check").
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address

from hpn.operations.arp_probe import encode_arp_request
from hpn.operations.events import Event, EventKind, EventSink
from hpn.operations.wiring import HostSeen, host_found, nics_by_mac
from hpn.topology.model import Fabric, Nic, NicPort, SwitchPort

MS = 1_000_000


@dataclass(frozen=True)
class HostTimers:
    """Host probe interval, rounds missed before a port is lost, candidates asked per round."""

    interval_ns: int = 1000 * MS
    misses: int = 3
    search: int = 4

    def __post_init__(self) -> None:
        problems = []
        if self.interval_ns <= 0:
            problems.append(f"interval_ns must be positive, not {self.interval_ns}")
        if self.misses < 1:
            problems.append(f"misses must be at least 1, not {self.misses}")
        if self.search < 0:
            problems.append(f"search must not be negative, not {self.search}")
        if problems:
            raise ValueError("host timers: " + "; ".join(problems))


@dataclass(frozen=True)
class Gateway:
    """What a ToR asks from: its MAC and the gateway address it answers ARP for."""

    mac: str
    ip: IPv4Address


class HostStatus(str, enum.Enum):
    UNSEEN = "unseen"  # never answered
    SEEN = "seen"
    LOST = "lost"  # answered, then missed `misses` rounds


@dataclass(frozen=True)
class HostProbeOut:
    """An ARP request to send out of `switch:port`, asking for `target_ip`."""

    switch: str
    port: int
    target_ip: IPv4Address
    frame: bytes


@dataclass(frozen=True)
class Sighting:
    mac: str
    ip: IPv4Address | None
    at_ns: int


@dataclass
class _Port:
    at: SwitchPort
    expected: NicPort
    nic: Nic
    candidates: tuple[IPv4Address, ...]
    sent: deque[int]
    next_send: int
    status: HostStatus = HostStatus.UNSEEN
    seen: Sighting | None = None
    cursor: int = 0  # the next candidate to ask while the port is silent


class HostMonitor:
    """The host cables of `fabric`, from the ToRs in `gateways`; see the module docstring."""

    def __init__(
        self,
        fabric: Fabric,
        gateways: Mapping[str, Gateway],
        timers: HostTimers,
        emit: EventSink,
        start_ns: int,
    ) -> None:
        self.fabric = fabric
        self.gateways = dict(gateways)
        self.timers = timers
        self._emit = emit
        self._by_mac = nics_by_mac(fabric)
        self._ports: dict[SwitchPort, _Port] = {}
        for tor in sorted(self.gateways):
            for port, peer in sorted(fabric.peers(tor).items()):
                if not isinstance(peer, NicPort):
                    continue
                nic = fabric.nic(peer.host, peer.rail)
                if nic is None:
                    continue
                at = SwitchPort(tor, port)
                self._ports[at] = _Port(
                    at,
                    peer,
                    nic,
                    self._candidates(tor, peer, nic),
                    deque(maxlen=timers.misses),
                    start_ns,
                )

    def _candidates(self, tor: str, expected: NicPort, nic: Nic) -> tuple[IPv4Address, ...]:
        """Who else could be on a port: the same host's other NICs, then the ToR's other hosts."""
        out: list[IPv4Address] = []
        host = self.fabric.host(expected.host)
        out.extend(other.ip for other in host.nics if other.rail != expected.rail)
        for peer in sorted(self.fabric.peers(tor).values(), key=str):
            if isinstance(peer, NicPort):
                other = self.fabric.nic(peer.host, peer.rail)
                if other is not None:
                    out.append(other.ip)
        return tuple(dict.fromkeys(ip for ip in out if ip != nic.ip))

    def probes(self, at: SwitchPort) -> bool:
        """Whether `at` is a ToR port this monitor asks (the topology cables it to a NIC)."""
        return at in self._ports

    # -- requests out -------------------------------------------------------------------
    def probes_due(self, now_ns: int, down: Collection[str] = ()) -> list[HostProbeOut]:
        """The requests to send now: each host port of a ToR that is up (not in `down`),
        once per interval. The caller sends them: from now on a port that does not answer
        misses a round."""
        out = []
        interval = self.timers.interval_ns
        for port in self._ports.values():
            due = port.next_send
            if due > now_ns or port.at.switch in down:
                continue
            port.next_send = due + interval * ((now_ns - due) // interval + 1)
            asked = self._asked(port)
            port.sent.append(now_ns)
            gateway = self.gateways[port.at.switch]
            for ip in asked:
                frame = encode_arp_request(gateway.mac, gateway.ip, ip)
                out.append(HostProbeOut(port.at.switch, port.at.port, ip, frame))
        return out

    def _asked(self, port: _Port) -> list[IPv4Address]:
        """The expected NIC; the one found there instead, if any; while the port is silent
        after its first round, the next candidates."""
        asked = [port.nic.ip]
        seen = port.seen
        if port.status is HostStatus.SEEN:
            if seen is not None and seen.ip is not None and seen.ip != port.nic.ip:
                asked.append(seen.ip)
        elif port.sent and port.candidates and self.timers.search:
            n = len(port.candidates)
            take = min(self.timers.search, n)
            asked.extend(port.candidates[(port.cursor + i) % n] for i in range(take))
            port.cursor = (port.cursor + take) % n
        return asked

    # -- replies in ---------------------------------------------------------------------
    def seen(self, now_ns: int, at: SwitchPort, mac: str, ip: IPv4Address | None = None) -> None:
        """`at` answered from `mac` (for `ip`). A port the monitor does not ask raises
        KeyError: the caller refuses replies there."""
        port = self._ports[at]
        before = port.seen
        port.seen = Sighting(mac.lower(), ip, now_ns)
        moved = before is not None and before.mac != port.seen.mac
        if port.status is HostStatus.SEEN and not moved:
            return
        port.status = HostStatus.SEEN
        found, _ = host_found(self.fabric, at, mac, self._by_mac)
        detail: dict[str, object] = {"expected": str(port.expected), "found": found, "mac": mac.lower()}
        if moved and before is not None:
            detail["was"] = host_found(self.fabric, at, before.mac, self._by_mac)[0]
        self._emit(Event(now_ns, EventKind.HOST_SEEN, str(at), detail))

    # -- time ---------------------------------------------------------------------------
    def tick(self, now_ns: int) -> list[SwitchPort]:
        """Advance to `now_ns`: ports seen that missed `misses` rounds are lost. Returns them."""
        lost = []
        for port in self._ports.values():
            if port.status is not HostStatus.SEEN or port.seen is None:
                continue
            missed = self._missed(port, now_ns)
            if missed < self.timers.misses:
                continue
            port.status = HostStatus.LOST
            found, _ = host_found(self.fabric, port.at, port.seen.mac, self._by_mac)
            self._emit(
                Event(
                    now_ns,
                    EventKind.HOST_LOST,
                    str(port.at),
                    {"expected": str(port.expected), "last": found, "missed": missed},
                )
            )
            lost.append(port.at)
        return lost

    def _missed(self, port: _Port, now_ns: int) -> int:
        """Requests sent since the port's last reply whose interval is over: each had its
        whole interval to be answered, and a round that was not sent is not missed."""
        assert port.seen is not None
        heard, over = port.seen.at_ns, now_ns - self.timers.interval_ns
        return sum(1 for sent_ns in port.sent if heard < sent_ns <= over)

    # -- views --------------------------------------------------------------------------
    def status(self, at: SwitchPort) -> HostStatus:
        return self._ports[at].status

    def statuses(self) -> dict[SwitchPort, HostStatus]:
        return {at: p.status for at, p in self._ports.items()}

    def observed(self) -> tuple[HostSeen, ...]:
        """What each port that answers now answered from (for the wiring check), in port order."""
        return tuple(
            HostSeen(at, p.seen.mac)
            for at, p in sorted(self._ports.items())
            if p.status is HostStatus.SEEN and p.seen is not None
        )

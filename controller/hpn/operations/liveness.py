"""Link discovery and liveness from probes: a state machine driven by timestamped events.

The caller owns the clock and the packets: it asks `probes_due(now)` for the probes to
send, hands every probe a switch punted to `heard(now, port, probe)`, tells
`switch_unreachable/switch_reachable` what the P4Runtime sessions see, and calls
`tick(now)` at least once per probe interval. `tick` returns what changed for routing.

Every switch-to-switch cable of the topology is monitored from the start. Each end must
hear the expected far end: a cable whose ends have not both heard each other for
`misses` probe intervals is declared down (the first missed interval is reported as
detected). An interval counts as missed only when the far end's probe for it went out:
an end misses the smaller of the whole intervals since it last heard the far end and the
probe rounds the far end was sent since, so a controller whose own sender runs late (a
starved machine) or stalls does not take down cables that did not fail.

A cable that was down must be heard in both directions for a hold-down before it is up
again (`misses` missed rounds break it, as they take an up cable down); the hold-down
doubles with every fall within `flap_window` (up to `max_hold_down`), so a flapping cable
costs at most two writes per hold-down. A probe from an unexpected neighbour does not keep
a cable alive: a miswired cable goes down, and the wiring check names it.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from hpn.operations.events import Event, EventKind, EventSink
from hpn.operations.probe import Probe, encode_probe, fabric_id
from hpn.routing.failures import FailureView
from hpn.topology.model import Fabric, Link, SwitchPort

MS = 1_000_000


@dataclass(frozen=True)
class Timers:
    """Probe interval, misses before a cable is down, and the flap damping, in ns."""

    interval_ns: int = 100 * MS
    misses: int = 3
    hold_down_ns: int = 1000 * MS
    max_hold_down_ns: int = 30_000 * MS
    flap_window_ns: int = 60_000 * MS

    def __post_init__(self) -> None:
        problems = []
        if self.interval_ns <= 0:
            problems.append(f"interval_ns must be positive, not {self.interval_ns}")
        if self.misses < 1:
            problems.append(f"misses must be at least 1, not {self.misses}")
        if self.hold_down_ns < 0:
            problems.append(f"hold_down_ns must not be negative, not {self.hold_down_ns}")
        if self.max_hold_down_ns < self.hold_down_ns:
            problems.append(
                f"max_hold_down_ns {self.max_hold_down_ns} is below hold_down_ns {self.hold_down_ns}"
            )
        if problems:
            raise ValueError("timers: " + "; ".join(problems))

    def hold_down(self, falls: int) -> int:
        """Hold-down after the `falls`-th fall within the flap window (1 = the first)."""
        return min(self.hold_down_ns << max(0, falls - 1), self.max_hold_down_ns)


class LinkStatus(str, enum.Enum):
    UNKNOWN = "unknown"  # not yet heard from both ends (counts as up until declared down)
    UP = "up"
    DOWN = "down"
    HOLD = "hold"  # heard again, waiting out the hold-down (still down for routing)


class ChangeKind(str, enum.Enum):
    LINK_DOWN = "link_down"
    LINK_UP = "link_up"
    SWITCH_DOWN = "switch_down"
    SWITCH_UP = "switch_up"


@dataclass(frozen=True)
class Change:
    """One change routing must follow; `detected_ns` is when the loop first saw it."""

    kind: ChangeKind
    subject: str
    at_ns: int
    detected_ns: int
    link: Link | None = None


@dataclass(frozen=True)
class ProbeOut:
    """A probe to send out of `switch:port`: `frame` is the whole Ethernet frame."""

    switch: str
    port: int
    probe: Probe
    frame: bytes


@dataclass(frozen=True)
class Heard:
    """What a port last heard: the name and port a probe carried, and when."""

    switch: str
    port: int
    device_id: int
    at_ns: int


@dataclass
class _Cable:
    link: Link
    ends: tuple[SwitchPort, SwitchPort]
    heard: dict[SwitchPort, int]  # end -> last time it heard the expected far end
    status: LinkStatus = LinkStatus.UNKNOWN
    detected_ns: int | None = None  # first missed interval of the current outage
    hold_until: int = 0
    falls: deque[int] = field(default_factory=deque)


class LinkMonitor:
    """Liveness of every switch-to-switch cable of `fabric`; see the module docstring."""

    def __init__(self, fabric: Fabric, timers: Timers, emit: EventSink, start_ns: int) -> None:
        self.fabric = fabric
        self.timers = timers
        self._emit = emit
        self._fabric_id = fabric_id(fabric.name)
        self._cables: dict[Link, _Cable] = {}
        self._by_end: dict[SwitchPort, _Cable] = {}
        for link in fabric.links:
            a, b = link.ends()
            if isinstance(a, SwitchPort) and isinstance(b, SwitchPort):
                cable = _Cable(link, (a, b), {a: start_ns, b: start_ns})
                self._cables[link] = cable
                self._by_end[a] = self._by_end[b] = cable
        self._ports = sorted(self._by_end)
        self._next_send = dict.fromkeys(self._ports, start_ns)
        self._seq = dict.fromkeys(self._ports, 0)
        # when each port's last `misses` probes went out: more are never counted
        self._sent = {port: deque[int](maxlen=timers.misses) for port in self._ports}
        self._heard: dict[SwitchPort, Heard] = {}
        self._down_switches: dict[str, int] = {}

    # -- probes out ---------------------------------------------------------------------
    def probes_due(self, now_ns: int) -> list[ProbeOut]:
        """Probes to send now: one per fabric port of a switch that is up, every interval.
        The caller sends them: from now on a far end that does not hear one misses a round."""
        out = []
        interval = self.timers.interval_ns
        for port in self._ports:
            due = self._next_send[port]
            if due > now_ns or port.switch in self._down_switches:
                continue
            # a late caller sends one probe, not the backlog
            self._next_send[port] = due + interval * ((now_ns - due) // interval + 1)
            seq = self._seq[port]
            self._seq[port] = (seq + 1) & 0xFFFFFFFF
            self._sent[port].append(now_ns)
            sw = self.fabric.switch(port.switch)
            probe = Probe(self._fabric_id, sw.name, sw.device_id, port.port, seq, now_ns)
            out.append(ProbeOut(sw.name, port.port, probe, encode_probe(probe, sw.mac)))
        return out

    # -- probes in ----------------------------------------------------------------------
    def heard(self, now_ns: int, at: SwitchPort, probe: Probe) -> None:
        """`at` heard `probe` (decoded with this fabric's id). Records it for the wiring
        check; keeps the cable at `at` alive only when the probe is from its expected far end."""
        self._heard[at] = Heard(probe.switch, probe.port, probe.device_id, now_ns)
        cable = self._by_end.get(at)
        if cable is None:
            return
        far = cable.ends[1] if cable.ends[0] == at else cable.ends[0]
        if (probe.switch, probe.port) == (far.switch, far.port) and self._device_matches(probe):
            cable.heard[at] = max(cable.heard[at], now_ns)

    def _device_matches(self, probe: Probe) -> bool:
        return (
            self.fabric.has_switch(probe.switch)
            and self.fabric.switch(probe.switch).device_id == probe.device_id
        )

    def observed(self) -> dict[SwitchPort, Heard]:
        """What each port last heard (for the wiring check)."""
        return dict(self._heard)

    # -- switches -----------------------------------------------------------------------
    def switch_unreachable(self, now_ns: int, name: str, why: str) -> Change | None:
        """The switch's P4Runtime session is lost: it is down (once)."""
        if name in self._down_switches:
            return None
        self._down_switches[name] = now_ns
        self._emit(Event(now_ns, EventKind.SWITCH_DOWN, name, {"why": why}))
        return Change(ChangeKind.SWITCH_DOWN, name, now_ns, now_ns)

    def switch_reachable(self, now_ns: int, name: str) -> Change | None:
        """The switch answers again; its cables come back through their own hold-down."""
        if self._down_switches.pop(name, None) is None:
            return None
        self._emit(Event(now_ns, EventKind.SWITCH_UP, name))
        return Change(ChangeKind.SWITCH_UP, name, now_ns, now_ns)

    # -- time ---------------------------------------------------------------------------
    def tick(self, now_ns: int) -> list[Change]:
        """Advance to `now_ns`: cables that missed `misses` probe rounds go down, cables heard
        for their whole hold-down come back. Returns the changes in cable order."""
        changes = []
        for cable in self._cables.values():
            change = self._step(cable, now_ns)
            if change is not None:
                changes.append(change)
        return changes

    def _missed(self, cable: _Cable, now_ns: int) -> int:
        """Probe intervals missed by the end that missed more (see `_missed_at`)."""
        a, b = cable.ends
        return max(self._missed_at(cable.heard[a], b, now_ns), self._missed_at(cable.heard[b], a, now_ns))

    def _missed_at(self, heard_ns: int, far: SwitchPort, now_ns: int) -> int:
        """Intervals an end that last heard `far` at `heard_ns` missed: the whole intervals
        since, but no more than the probes `far` was sent since (at most `misses`)."""
        intervals = max(0, now_ns - heard_ns) // self.timers.interval_ns
        rounds = sum(1 for sent_ns in self._sent[far] if sent_ns > heard_ns)
        return min(intervals, rounds)

    def _step(self, cable: _Cable, now_ns: int) -> Change | None:
        t = self.timers
        missed = self._missed(cable, now_ns)
        subject = str(cable.link)
        if cable.status in (LinkStatus.UNKNOWN, LinkStatus.UP):
            if missed == 0:
                cable.detected_ns = None
                if cable.status is LinkStatus.UNKNOWN and self._heard_both_ways(cable):
                    cable.status = LinkStatus.UP
                    self._emit(Event(now_ns, EventKind.LEARNT, subject))
                return None
            if cable.detected_ns is None:
                cable.detected_ns = now_ns
                self._emit(Event(now_ns, EventKind.DETECTED, subject, {"missed": missed}))
            if missed < t.misses:
                return None
            cable.status = LinkStatus.DOWN
            self._fall(cable, now_ns)
            self._emit(
                Event(now_ns, EventKind.DECLARED, subject, {"missed": missed, "falls": len(cable.falls)})
            )
            return Change(ChangeKind.LINK_DOWN, subject, now_ns, cable.detected_ns, cable.link)
        if cable.status is LinkStatus.DOWN:
            if missed == 0:
                cable.status = LinkStatus.HOLD
                cable.detected_ns = now_ns  # the return is seen now
                cable.hold_until = now_ns + t.hold_down(len(cable.falls))
                self._emit(
                    Event(now_ns, EventKind.HELD, subject, {"until": round(cable.hold_until / 1e9, 9)})
                )
            return None
        # HOLD: broken by as many missed rounds as take an up cable down (a switch that
        # just restarted answers some rounds late; a single late round must not restart it)
        if missed >= t.misses:
            cable.status = LinkStatus.DOWN
            self._fall(cable, now_ns)
            self._emit(Event(now_ns, EventKind.HOLD_BROKEN, subject, {"falls": len(cable.falls)}))
            return None
        if now_ns < cable.hold_until:
            return None
        cable.status = LinkStatus.UP
        detected = now_ns if cable.detected_ns is None else cable.detected_ns
        cable.detected_ns = None
        self._emit(Event(now_ns, EventKind.RESTORED, subject))
        return Change(ChangeKind.LINK_UP, subject, now_ns, detected, cable.link)

    def _heard_both_ways(self, cable: _Cable) -> bool:
        """Whether each end last heard its expected far end (not only the start's grace)."""
        a, b = cable.ends
        return all(
            (h := self._heard.get(end)) is not None and (h.switch, h.port) == (far.switch, far.port)
            for end, far in ((a, b), (b, a))
        )

    def _fall(self, cable: _Cable, now_ns: int) -> None:
        cable.falls.append(now_ns)
        while cable.falls and cable.falls[0] <= now_ns - self.timers.flap_window_ns:
            cable.falls.popleft()

    # -- views --------------------------------------------------------------------------
    def status(self, link: Link) -> LinkStatus:
        return self._cables[link].status

    def statuses(self) -> dict[Link, LinkStatus]:
        return {link: c.status for link, c in self._cables.items()}

    def failure_view(self) -> FailureView:
        """Cables that are down or held down, and switches that do not answer."""
        down = frozenset(
            link for link, c in self._cables.items() if c.status in (LinkStatus.DOWN, LinkStatus.HOLD)
        )
        return FailureView(down, frozenset(self._down_switches))

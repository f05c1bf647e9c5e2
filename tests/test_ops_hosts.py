"""Host cables through the operations loop, with a fake clock and Linux hosts on a fake
wire: every ToR host port is asked for its NIC and seen; a host that stops answering is
lost after k rounds with an event and no write; swapped cables are found and named; a
stalled sender or a ToR that is down loses nothing; bad ARP frames are refused and counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.l2 import ARP, Ether

from hpn.operations.events import Event, EventKind, EventList
from hpn.operations.hosts import HostStatus, HostTimers
from hpn.operations.liveness import MS
from hpn.operations.loop import OperationsLoop
from hpn.operations.wiring import Observed, Verdict, WiringReport, check_wiring
from hpn.routing.failures import FailureView
from hpn.topology import Fabric, load_fabric
from hpn.topology.model import Nic, NicPort, SwitchPort
from linux_arp import linux_reply

ROOT = Path(__file__).resolve().parent.parent
S = 1000 * MS


@pytest.fixture(scope="module")
def mini() -> Fabric:
    return load_fabric(ROOT / "topologies" / "hpn-mini.yaml")


class Clock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


Cabling = dict[SwitchPort, Nic]
"""Which NIC is really on each ToR host port (a port left out has nothing answering)."""


def as_topology(fabric: Fabric) -> Cabling:
    out = {}
    for tor in fabric.tors():
        for port, peer in fabric.peers(tor.name).items():
            if isinstance(peer, NicPort):
                nic = fabric.nic(peer.host, peer.rail)
                assert nic is not None
                out[SwitchPort(tor.name, port)] = nic
    return out


class Wire:
    """Drives the loop as the runner does, a tick every 100 ms: each host round ticks, then
    sends; every request reaches the NIC cabled to its port, which answers as Linux does."""

    def __init__(self, fabric: Fabric, cabling: Cabling, timers: HostTimers | None = None) -> None:
        self.clock, self.events = Clock(), EventList()
        self.loop = OperationsLoop(fabric, emit=self.events, clock=self.clock, host_timers=timers)
        self.cabling = cabling
        self.sending = True
        self.asked: list[tuple[SwitchPort, str]] = []

    def run(self, seconds: float) -> None:
        until = self.clock.now + round(seconds * S)
        while self.clock.now < until:
            self.loop.host_tick()
            if self.sending:
                for out in self.loop.host_probes():
                    at = SwitchPort(out.switch, out.port)
                    self.asked.append((at, str(out.target_ip)))
                    nic = self.cabling.get(at)
                    reply = None if nic is None else linux_reply(out.frame, nic.mac, {str(nic.ip)})
                    if reply is not None:
                        self.loop.frame_in(out.switch, out.port, reply)
            self.clock.now += 100 * MS

    def of(self, kind: EventKind) -> list[Event]:
        return [e for e in self.events.events if e.kind is kind]

    def sample(self, name: str, **labels: str) -> float:
        return self.loop.metrics.registry.get_sample_value(name, labels) or 0.0


def host_findings(wire: Wire) -> dict[str, tuple[Verdict, str]]:
    report = wire.loop.wiring()
    return {
        str(f.at): (f.verdict, str(f))
        for f in report.findings
        if f.expected is not None and "/nic" in f.expected
    }


def test_every_host_port_is_asked_for_its_nic_and_seen(mini: Fabric) -> None:
    cabling = as_topology(mini)
    wire = Wire(mini, cabling)
    wire.run(0.05)  # one round
    assert sorted(wire.asked) == sorted((at, str(nic.ip)) for at, nic in cabling.items())
    seen = {e.subject: e.detail for e in wire.of(EventKind.HOST_SEEN)}
    assert set(seen) == {str(at) for at in cabling}
    assert all(d["found"] == d["expected"] for d in seen.values())
    assert all(v is Verdict.OK for v, _ in host_findings(wire).values())
    assert wire.sample("hpn_host_probes_sent_total") == len(cabling)
    assert wire.sample("hpn_host_replies_received_total") == len(cabling)
    wire.run(10)
    assert len(wire.of(EventKind.HOST_SEEN)) == len(cabling)  # each once
    assert not wire.of(EventKind.HOST_LOST)


def test_a_host_that_stops_answering_is_lost_after_k_rounds_and_nothing_is_written(mini: Fabric) -> None:
    cabling = as_topology(mini)
    wire = Wire(mini, cabling)
    wire.run(2.05)  # rounds at 0, 1 and 2 s answered
    cut = SwitchPort("tor-s0-r0-p0", 1)
    del cabling[cut]
    wire.run(3.0)  # rounds at 3, 4, 5 s unanswered, the one at 5 s not yet for a whole interval
    assert not wire.of(EventKind.HOST_LOST)
    wire.run(1.0)
    (lost,) = wire.of(EventKind.HOST_LOST)
    assert (lost.subject, lost.t_ns, lost.detail) == (
        str(cut),
        6 * S,
        {"expected": "host-s0-h0/nic0/p0", "last": "host-s0-h0/nic0/p0", "missed": 3},
    )
    assert wire.loop.hosts.status(cut) is HostStatus.LOST
    verdict, text = host_findings(wire)[str(cut)]
    assert verdict is Verdict.MISSING
    assert text == "tor-s0-r0-p0:1 expected host-s0-h0/nic0/p0, found nothing"
    assert wire.loop.tick() is None
    assert wire.loop.failover.view == FailureView()
    assert not wire.of(EventKind.RECOMPUTED)

    cabling[cut] = as_topology(mini)[cut]  # plugged back
    wire.run(1.0)
    back = wire.of(EventKind.HOST_SEEN)[-1]
    assert back.subject == str(cut) and back.detail["found"] == "host-s0-h0/nic0/p0"
    assert host_findings(wire)[str(cut)][0] is Verdict.OK


def test_swapped_host_cables_are_found_and_named_and_stay_seen(mini: Fabric) -> None:
    cabling = as_topology(mini)
    a, b = SwitchPort("tor-s0-r0-p0", 1), SwitchPort("tor-s0-r0-p0", 2)
    cabling[a], cabling[b] = cabling[b], cabling[a]
    wire = Wire(mini, cabling)
    wire.run(0.05)
    assert host_findings(wire)[str(a)][0] is Verdict.MISSING  # asked for host-s0-h0 only
    wire.run(1.0)  # not answered: asked for the others it could be too
    findings = host_findings(wire)
    assert findings[str(a)] == (
        Verdict.MISMATCH,
        "tor-s0-r0-p0:1 expected host-s0-h0/nic0/p0, found host-s0-h1/nic0/p0",
    )
    assert findings[str(b)] == (
        Verdict.MISMATCH,
        "tor-s0-r0-p0:2 expected host-s0-h1/nic0/p0, found host-s0-h0/nic0/p0",
    )
    asked_before = len(wire.asked)
    wire.run(10)
    assert not wire.of(EventKind.HOST_LOST)
    assert host_findings(wire)[str(a)][0] is Verdict.MISMATCH
    per_round = [ip for at, ip in wire.asked[asked_before:] if at == a][:2]
    assert per_round == [str(cabling[b].ip), str(cabling[a].ip)]  # the expected NIC, then the one found


def test_a_moved_cable_is_lost_then_found_where_it_is(mini: Fabric) -> None:
    cabling = as_topology(mini)
    wire = Wire(mini, cabling)
    wire.run(1.05)
    at = SwitchPort("tor-s0-r0-p0", 1)
    cabling[at] = mini.nic("host-s0-h1", 0)  # type: ignore[assignment]
    wire.run(8)
    kinds = [
        (e.kind, e.detail.get("found") or e.detail.get("last"))
        for e in wire.events.events
        if e.subject == str(at)
    ]
    assert kinds == [
        (EventKind.HOST_SEEN, "host-s0-h0/nic0/p0"),
        (EventKind.HOST_LOST, "host-s0-h0/nic0/p0"),
        (EventKind.HOST_SEEN, "host-s0-h1/nic0/p0"),
    ]


def test_a_stalled_sender_or_a_tor_that_is_down_loses_no_host(mini: Fabric) -> None:
    cabling = as_topology(mini)
    wire = Wire(mini, cabling)
    wire.run(1.05)
    wire.sending = False
    wire.run(10)
    assert not wire.of(EventKind.HOST_LOST)
    wire.sending = True
    tor = "tor-s0-r0-p0"
    wire.loop.switch_unreachable(tor, "deadline exceeded")
    wire.asked.clear()
    wire.run(10)
    assert wire.asked and not any(at.switch == tor for at, _ in wire.asked)
    assert not wire.of(EventKind.HOST_LOST)


def _reply(request: bytes, nic: Nic, **change: object) -> bytes:
    """`nic`'s reply to `request`, with ARP fields changed."""
    reply = linux_reply(request, nic.mac, {str(nic.ip)})
    assert reply is not None
    frame = Ether(reply)
    for key, value in change.items():
        setattr(frame[ARP], key, value)
    return bytes(frame)


def test_bad_arp_frames_are_refused_counted_and_change_nothing(mini: Fabric) -> None:
    wire = Wire(mini, as_topology(mini))
    host = SwitchPort("tor-s0-r0-p0", 1)
    asked = next(o.frame for o in wire.loop.host_probes() if SwitchPort(o.switch, o.port) == host)
    nic = wire.cabling[host]
    good = _reply(asked, nic)
    request = _reply(asked, nic, op=1, pdst="10.0.0.77")  # a host asking for someone
    wrong_target = _reply(asked, nic, pdst="10.0.0.254")
    wire.loop.frame_in("tor-s0-r0-p0", 1, request)
    wire.loop.frame_in("tor-s0-r0-p0", 1, wrong_target)
    wire.loop.frame_in("tor-s0-r0-p0", 129, good)  # an uplink: never asked there
    wire.loop.frame_in("agg-p0-a0", 1, good)  # an agg answers for no host
    refused = [(e.subject, e.detail["field"]) for e in wire.of(EventKind.REFUSED)]
    assert refused == [
        ("tor-s0-r0-p0:1", "oper"),
        ("tor-s0-r0-p0:1", "target_ip"),
        ("tor-s0-r0-p0:129", "port"),
        ("agg-p0-a0:1", "switch"),
    ]
    for field in ("oper", "target_ip", "port", "switch"):
        assert wire.sample("hpn_host_replies_refused_total", field=field) == 1, field
    assert wire.sample("hpn_probes_refused_total", field="oper") == 0
    assert wire.loop.hosts.observed() == ()
    assert not wire.of(EventKind.HOST_SEEN)


def test_host_timers_are_checked() -> None:
    with pytest.raises(
        ValueError, match="interval_ns must be positive, not 0; misses must be at least 1, not 0"
    ):
        HostTimers(interval_ns=0, misses=0)


def test_the_wiring_check_is_redone_only_when_what_was_seen_changed(
    mini: Fabric, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[Observed] = []

    def counted(fabric: Fabric, observed: Observed) -> WiringReport:
        checked.append(observed)
        return check_wiring(fabric, observed)

    monkeypatch.setattr("hpn.operations.loop.check_wiring", counted)
    cabling = as_topology(mini)
    wire = Wire(mini, cabling)
    wire.run(0.05)
    first = wire.loop.wiring()
    assert wire.loop.wiring() is first and len(checked) == 1
    wire.run(2.0)  # answered again: nothing changed
    assert wire.loop.wiring() is first and len(checked) == 1
    del cabling[SwitchPort("tor-s0-r0-p0", 1)]
    wire.run(5.0)
    again = wire.loop.wiring()
    assert len(checked) == 2
    assert again.verdict_at(SwitchPort("tor-s0-r0-p0", 1)) is Verdict.MISSING

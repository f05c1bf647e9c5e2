"""Link discovery and liveness: a fake wire carries each probe to the far end of its cable,
the test's clock drives the state machine, and cutting or flapping a cable shows what is
declared, when, and how often routing would be asked to write. A sender that stalls or runs
slow (the controller starved) shows that only probe rounds that went out count as missed."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpn.operations.events import EventKind, EventList
from hpn.operations.liveness import MS, ChangeKind, LinkMonitor, LinkStatus, Timers
from hpn.operations.probe import decode_probe, fabric_id
from hpn.topology import Fabric, load_fabric
from hpn.topology.model import Link, SwitchPort

TOPOLOGIES = Path(__file__).resolve().parent.parent / "topologies"
T = Timers(interval_ns=100 * MS, misses=3, hold_down_ns=1000 * MS, max_hold_down_ns=8000 * MS)


@pytest.fixture(scope="module")
def mini() -> Fabric:
    return load_fabric(TOPOLOGIES / "hpn-mini.yaml")


class Wire:
    """Delivers each probe a monitor sends to the far end of its cable, unless cut."""

    def __init__(self, fabric: Fabric, monitor: LinkMonitor) -> None:
        self.fabric = fabric
        self.monitor = monitor
        self.cut: set[Link] = set()
        self.sent = 0
        self.changes: list[tuple[int, ChangeKind, str]] = []

    def run(self, start_ns: int, end_ns: int, step_ns: int = 10 * MS, *, send_every_ns: int = 0) -> None:
        """Tick every `step_ns`; the sender runs on every step, or every `send_every_ns`
        (a sender slower than the probe interval), or never (`send_every_ns < 0`: it stalls)."""
        fid = fabric_id(self.fabric.name)
        for now in range(start_ns, end_ns, step_ns):
            sending = send_every_ns == 0 or (send_every_ns > 0 and (now - start_ns) % send_every_ns == 0)
            for out in self.monitor.probes_due(now) if sending else []:
                self.sent += 1
                link = self.fabric.link_at(out.switch, out.port)
                if link is None or link in self.cut:
                    continue
                far = link.other(SwitchPort(out.switch, out.port))
                assert isinstance(far, SwitchPort)
                self.monitor.heard(now, far, decode_probe(out.frame, fid))
            for change in self.monitor.tick(now):
                self.changes.append((now, change.kind, change.subject))


def _first_fabric_link(fabric: Fabric) -> Link:
    return next(link for link in fabric.links if all(isinstance(e, SwitchPort) for e in link.ends()))


def _setup(fabric: Fabric) -> tuple[LinkMonitor, Wire, EventList]:
    events = EventList()
    monitor = LinkMonitor(fabric, T, events, start_ns=0)
    return monitor, Wire(fabric, monitor), events


def test_every_fabric_port_probes_once_per_interval_and_every_cable_is_learnt(mini: Fabric) -> None:
    monitor, wire, events = _setup(mini)
    wire.run(0, 1000 * MS)
    fabric_ports = sum(
        1 for link in mini.links for end in link.ends() if all(isinstance(e, SwitchPort) for e in link.ends())
    )
    assert wire.sent == fabric_ports * 10
    assert set(monitor.statuses().values()) == {LinkStatus.UP}
    assert events.kinds().count(EventKind.LEARNT) == len(monitor.statuses())
    assert wire.changes == []
    assert not monitor.failure_view()


def test_a_cut_cable_is_detected_then_declared_down_after_k_misses(mini: Fabric) -> None:
    monitor, wire, events = _setup(mini)
    link = _first_fabric_link(mini)
    wire.run(0, 500 * MS)
    wire.cut.add(link)
    wire.run(500 * MS, 1500 * MS)
    kinds = [k for k in events.kinds(str(link)) if k is not EventKind.LEARNT]
    assert kinds == [EventKind.DETECTED, EventKind.DECLARED]
    declared = next(e for e in events.events if e.kind is EventKind.DECLARED)
    detected = next(e for e in events.events if e.kind is EventKind.DETECTED)
    # the last probe crossed at 400 ms; with rounds going out on time, declared once
    # k whole intervals passed without one
    assert detected.t_ns == 500 * MS
    assert declared.t_ns == 400 * MS + T.misses * T.interval_ns == 700 * MS
    assert wire.changes == [(700 * MS, ChangeKind.LINK_DOWN, str(link))]
    assert monitor.failure_view().links == frozenset({link})


def test_a_sender_that_stalls_for_10_intervals_takes_no_cable_down(mini: Fabric) -> None:
    # The controller's own probe task runs late (a starved machine): the ticks go on, no
    # probe goes out for 1 s, then the sender resumes. No cable failed.
    monitor, wire, events = _setup(mini)
    wire.run(0, 500 * MS)
    wire.run(500 * MS, 1500 * MS, send_every_ns=-1)
    wire.run(1500 * MS, 2000 * MS)
    assert wire.changes == []
    assert set(monitor.statuses().values()) == {LinkStatus.UP}
    assert EventKind.DETECTED not in events.kinds()
    assert not monitor.failure_view()


SLOW = 350 * MS  # a starved sender's rounds: 3.5 probe intervals apart


def test_a_slow_sender_takes_no_healthy_cable_down(mini: Fabric) -> None:
    monitor, wire, events = _setup(mini)
    wire.run(0, 3000 * MS, send_every_ns=SLOW)
    assert wire.changes == []
    assert set(monitor.statuses().values()) == {LinkStatus.UP}
    assert EventKind.DETECTED not in events.kinds()


def test_a_cut_while_the_sender_is_slow_is_declared_after_k_rounds_sent(mini: Fabric) -> None:
    monitor, wire, events = _setup(mini)
    link = _first_fabric_link(mini)
    wire.run(0, 700 * MS, send_every_ns=SLOW)  # rounds at 0 and 350 ms cross
    wire.cut.add(link)
    wire.run(700 * MS, 2500 * MS, send_every_ns=SLOW)  # rounds at 700, 1050, 1400 ms ... are lost
    detected = next(e for e in events.events if e.kind is EventKind.DETECTED)
    declared = next(e for e in events.events if e.kind is EventKind.DECLARED)
    assert detected.t_ns == 700 * MS  # the first lost round
    assert declared.t_ns == 700 * MS + (T.misses - 1) * SLOW == 1400 * MS  # the k-th lost round
    assert wire.changes == [(declared.t_ns, ChangeKind.LINK_DOWN, str(link))]
    assert monitor.failure_view().links == frozenset({link})


def test_a_cable_that_returns_waits_out_its_hold_down(mini: Fabric) -> None:
    monitor, wire, _ = _setup(mini)
    link = _first_fabric_link(mini)
    wire.run(0, 500 * MS)
    wire.cut.add(link)
    wire.run(500 * MS, 1000 * MS)
    wire.cut.clear()
    wire.run(1000 * MS, 1900 * MS)
    assert monitor.status(link) is LinkStatus.HOLD
    assert monitor.failure_view().links == frozenset({link})
    wire.run(1900 * MS, 2200 * MS)
    assert monitor.status(link) is LinkStatus.UP
    assert [c[1] for c in wire.changes] == [ChangeKind.LINK_DOWN, ChangeKind.LINK_UP]
    assert wire.changes[1][0] == 2000 * MS  # heard again at 1000 ms, held 1 s


def test_a_round_lost_during_the_hold_down_does_not_break_it(mini: Fabric) -> None:
    """A switch that just restarted answers some rounds late: a hold-down is broken only by
    as many missed rounds as would take an up cable down, or it may never end."""
    monitor, wire, _ = _setup(mini)
    link = _first_fabric_link(mini)
    wire.run(0, 500 * MS)
    wire.cut.add(link)
    wire.run(500 * MS, 1000 * MS)
    wire.cut.clear()
    wire.run(1000 * MS, 1400 * MS)
    assert monitor.status(link) is LinkStatus.HOLD
    wire.cut.add(link)  # one round lost
    wire.run(1400 * MS, 1500 * MS)
    wire.cut.clear()
    wire.run(1500 * MS, 2200 * MS)
    assert [c[1] for c in wire.changes] == [ChangeKind.LINK_DOWN, ChangeKind.LINK_UP]
    assert wire.changes[1][0] == 2000 * MS, "the hold-down ran out as if no round was lost"
    wire.cut.add(link)  # k rounds lost: down again
    wire.run(2200 * MS, 2600 * MS)
    assert monitor.status(link) is LinkStatus.DOWN


def test_a_flapping_cable_costs_at_most_two_changes_per_hold_down(mini: Fabric) -> None:
    monitor, wire, _ = _setup(mini)
    link = _first_fabric_link(mini)
    wire.run(0, 500 * MS)
    # 20 s of a cable that is cut for 500 ms of every second
    for second in range(20):
        base = 500 * MS + second * 1000 * MS
        wire.cut.add(link)
        wire.run(base, base + 500 * MS)
        wire.cut.clear()
        wire.run(base + 500 * MS, base + 1000 * MS)
    downs = [c for c in wire.changes if c[1] is ChangeKind.LINK_DOWN]
    ups = [c for c in wire.changes if c[1] is ChangeKind.LINK_UP]
    # a 1 s hold-down never completes inside a 500 ms clean spell: it falls once and stays down
    assert len(downs) == 1 and ups == []
    assert monitor.status(link) in (LinkStatus.DOWN, LinkStatus.HOLD)


def test_a_slow_flap_is_damped_by_a_doubling_hold_down(mini: Fabric) -> None:
    _, wire, _ = _setup(mini)
    link = _first_fabric_link(mini)
    wire.run(0, 500 * MS)
    t = 500 * MS
    for _ in range(4):  # cut for 500 ms, then clean for 2.5 s
        wire.cut.add(link)
        wire.run(t, t + 500 * MS)
        wire.cut.clear()
        wire.run(t + 500 * MS, t + 3000 * MS)
        t += 3000 * MS
    ups = [c[0] for c in wire.changes if c[1] is ChangeKind.LINK_UP]
    # hold-downs of 1 s and 2 s complete inside 2.5 s; the third fall's 4 s does not
    assert len(ups) == 2
    assert T.hold_down(1) == 1000 * MS and T.hold_down(3) == 4000 * MS and T.hold_down(9) == 8000 * MS


def test_a_probe_from_the_wrong_neighbour_does_not_keep_a_cable_alive(mini: Fabric) -> None:
    monitor, wire, _ = _setup(mini)
    link = _first_fabric_link(mini)
    a, b = link.ends()
    assert isinstance(a, SwitchPort) and isinstance(b, SwitchPort)
    other = next(
        lk for lk in mini.links if lk != link and all(isinstance(e, SwitchPort) for e in lk.ends())
    ).ends()[0]
    assert isinstance(other, SwitchPort)
    wire.cut.add(link)
    fid = fabric_id(mini.name)
    for now in range(0, 600 * MS, 10 * MS):
        for out in monitor.probes_due(now):
            if (out.switch, out.port) == (other.switch, other.port):
                monitor.heard(now, a, decode_probe(out.frame, fid))  # a miswired cable at `a`
        monitor.tick(now)
    assert monitor.status(link) is LinkStatus.DOWN
    assert monitor.observed()[a].switch == other.switch


def test_an_unreachable_switch_is_down_once_and_sends_no_probes(mini: Fabric) -> None:
    monitor, _, events = _setup(mini)
    name = mini.switches[0].name
    first = monitor.switch_unreachable(5, name, "connection refused")
    assert first is not None and first.kind is ChangeKind.SWITCH_DOWN
    assert monitor.switch_unreachable(6, name, "connection refused") is None
    assert all(out.switch != name for out in monitor.probes_due(10))
    assert monitor.failure_view().switches == frozenset({name})
    back = monitor.switch_reachable(20, name)
    assert back is not None and back.kind is ChangeKind.SWITCH_UP
    assert events.kinds(name) == [EventKind.SWITCH_DOWN, EventKind.SWITCH_UP]


def test_bad_timers_are_refused_naming_each_problem() -> None:
    with pytest.raises(ValueError, match=r"interval_ns must be positive.*misses must be at least 1"):
        Timers(interval_ns=0, misses=0)


def test_events_are_json_lines_with_times_in_seconds(mini: Fabric) -> None:
    import io
    import json

    from hpn.operations.events import JsonLines

    out = io.StringIO()
    monitor = LinkMonitor(mini, T, JsonLines(out), start_ns=0)
    monitor.switch_unreachable(1_500_000_000, "agg-p0-a0", "timeout")
    line = json.loads(out.getvalue().splitlines()[0])
    assert line == {"t": 1.5, "event": "switch_down", "subject": "agg-p0-a0", "why": "timeout"}

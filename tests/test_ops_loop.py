"""The operations loop without I/O: a fake clock and a fake wire drive it; a cut cable
gives the affected switches' writes with detected, declared, recomputed and written events
in order; bad frames are refused and named; a failed write is owed, not lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpn.operations.events import EventKind, EventList
from hpn.operations.liveness import MS, Timers
from hpn.operations.loop import OperationsLoop
from hpn.operations.probe import Probe, encode_probe, fabric_id
from hpn.operations.wiring import Verdict
from hpn.pipeline import switch_entities
from hpn.routing.compute import compute_fabric_state
from hpn.routing.failures import FailureView
from hpn.topology import Fabric, load_fabric
from hpn.topology.model import Link, SwitchPort

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mini() -> Fabric:
    return load_fabric(ROOT / "topologies" / "hpn-mini.yaml")


class Clock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def _run(loop: OperationsLoop, clock: Clock, fabric: Fabric, until: int, cut: set[Link]) -> list:
    batches = []
    while clock.now < until:
        for out in loop.probes():
            link = fabric.link_at(out.switch, out.port)
            if link is not None and link not in cut:
                far = link.other(SwitchPort(out.switch, out.port))
                assert isinstance(far, SwitchPort)
                loop.frame_in(far.switch, far.port, out.frame)
        batch = loop.tick()
        if batch is not None:
            batches.append(batch)
        clock.now += 10 * MS
    return batches


def _cable(fabric: Fabric) -> Link:
    return next(lk for lk in fabric.links if all(isinstance(e, SwitchPort) for e in lk.ends()))


def test_a_cut_cable_gives_the_affected_switches_writes_and_events_in_order(mini: Fabric) -> None:
    clock, events = Clock(), EventList()
    loop = OperationsLoop(mini, emit=events, clock=clock, timers=Timers())
    link = _cable(mini)
    assert _run(loop, clock, mini, 500 * MS, set()) == []
    (batch,) = _run(loop, clock, mini, 1000 * MS, {link})
    view = FailureView(links=frozenset({link}))
    intact, failed = compute_fabric_state(mini), compute_fabric_state(mini, view)
    assert set(batch.writes) == {n for n in intact if intact[n] != failed.get(n)}
    assert all(w.updates > 0 for w in batch.writes.values())
    clock.now += 3 * MS
    loop.written(batch)
    kinds = [k for k in events.kinds(str(link)) if k is not EventKind.LEARNT]
    assert kinds == [EventKind.DETECTED, EventKind.DECLARED, EventKind.RECOMPUTED, EventKind.WRITTEN]
    times = {e.kind: e.t_ns for e in events.events if e.subject == str(link)}
    assert times[EventKind.DECLARED] - times[EventKind.DETECTED] == 200 * MS  # 3 misses, the 1st seen
    assert times[EventKind.RECOMPUTED] == times[EventKind.DECLARED]  # the fake clock did not move
    written = events.events[-1]
    elapsed = (times[EventKind.WRITTEN] - times[EventKind.DETECTED]) / 1e9
    assert written.detail["since_detected_s"] == pytest.approx(elapsed)
    assert written.detail["updates"] == batch.updates


def test_bad_frames_are_refused_naming_where_and_what_and_change_nothing(mini: Fabric) -> None:
    clock, events = Clock(), EventList()
    loop = OperationsLoop(mini, emit=events, clock=clock)
    good = encode_probe(Probe(fabric_id(mini.name), "agg-p0-a0", 9, 1, 0, 0), "02:00:00:00:00:09")
    loop.frame_in("tor-s0-r0-p0", 129, good[:16])  # cut inside the magic
    loop.frame_in(
        "tor-s0-r0-p0",
        129,
        encode_probe(Probe(fabric_id("other"), "agg-p0-a0", 9, 1, 0, 0), "02:00:00:00:00:09"),
    )
    loop.frame_in("tor-zz", 1, good)
    refused = [(e.subject, e.detail["field"]) for e in events.events if e.kind is EventKind.REFUSED]
    assert refused == [
        ("tor-s0-r0-p0:129", "magic"),
        ("tor-s0-r0-p0:129", "fabric_id"),
        ("tor-zz:1", "switch"),
    ]
    assert loop.monitor.observed() == {}


def test_a_probe_from_a_stranger_is_refused_and_named_by_the_wiring_check(mini: Fabric) -> None:
    clock, events = Clock(), EventList()
    loop = OperationsLoop(mini, emit=events, clock=clock)
    stranger = encode_probe(Probe(fabric_id(mini.name), "agg-p7-a7", 99, 3, 0, 0), "02:00:00:00:00:63")
    loop.frame_in("tor-s0-r0-p0", 129, stranger)
    assert [e.detail["field"] for e in events.events if e.kind is EventKind.REFUSED] == ["name"]
    report = loop.wiring()
    finding = next(f for f in report.findings if f.at == SwitchPort("tor-s0-r0-p0", 129))
    assert finding.verdict is Verdict.UNKNOWN_NEIGHBOUR


def test_a_failed_write_is_owed_the_whole_list_until_pushed(mini: Fabric) -> None:
    clock, events = Clock(), EventList()
    loop = OperationsLoop(mini, emit=events, clock=clock)
    link = _cable(mini)
    _run(loop, clock, mini, 500 * MS, set())
    (batch,) = _run(loop, clock, mini, 1000 * MS, {link})
    victim = next(iter(batch.writes))
    loop.written(batch, failed={victim: "UNAVAILABLE: connection refused"})
    assert events.events[-1].detail["failed"] == {victim: "UNAVAILABLE: connection refused"}
    owed = loop.owed_entities()
    assert set(owed) == {victim}
    assert owed[victim] == switch_entities(loop.failover.states[victim])
    loop.settled({victim})
    assert loop.owed_entities() == {}


def test_an_unreachable_switch_is_routed_around_at_once(mini: Fabric) -> None:
    clock, events = Clock(), EventList()
    loop = OperationsLoop(mini, emit=events, clock=clock)
    agg = mini.aggs()[0].name
    batch = loop.switch_unreachable(agg, "deadline exceeded")
    assert batch is not None
    assert batch.writes[agg].updates == 0  # a switch that is down is not written
    assert loop.failover.states == compute_fabric_state(mini, FailureView(switches=frozenset({agg})))
    assert loop.switch_unreachable(agg, "deadline exceeded") is None
    back = loop.switch_reachable(agg)
    assert back is not None and back.writes[agg].inserts

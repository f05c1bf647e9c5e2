"""The parts of `hpnctl run` on the emulation that need no fabric: crossed cables in the
layout, the runner process's lifecycle (started, found, stopped by PID), its events and
metrics read back, a cut's effect on flows, its timeline, and the demo's report of it."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from rich.console import Console
from typer.testing import CliRunner

from hpn.cli import app
from hpn.emulation.cut_run import Cut, _fell, _restored, _written
from hpn.emulation.layout import Layout, LayoutError, parse_crossing
from hpn.emulation.recovery import cut_recovery, flow_outage
from hpn.emulation.runner_process import (
    RunnerError,
    RunnerRecord,
    RunnerSettings,
    runner_argv,
    running_runner,
    start_runner,
    stop_runner,
    wait_learnt,
)
from hpn.emulation.runner_readings import EventLineError, EventsTail, parse_event, parse_metrics, scrape
from hpn.emulation.state import Proc
from hpn.emulation.timeline import cut_timeline, plot_timelines
from hpn.emulation.traffic import Flow, FlowLog, fabric_nics
from hpn.emulation.wiring_seen import crossing_at_first_agg
from hpn.experiments.demo.operations_check import OperationsResult
from hpn.experiments.recovery.kinds import pick
from hpn.operations.events import Event, EventKind
from hpn.operations.metrics import OperationsMetrics
from hpn.routing.failures import FailureView
from hpn.topology.loader import load_fabric
from hpn.topology.model import SwitchPort

TOPO = Path(__file__).resolve().parents[1] / "topologies"
MINI = load_fabric(TOPO / "hpn-mini.yaml")
NS = 1_000_000_000


# -- crossed cables ------------------------------------------------------------------------------


def test_crossed_ports_swap_the_cables_they_hold_and_nothing_else() -> None:
    p, q = SwitchPort("agg-p0-a0", 1), SwitchPort("agg-p0-a0", 2)
    plain = Layout(MINI, Path("/tmp/hpn-x"))
    crossed = Layout(MINI, Path("/tmp/hpn-x"), ((p, q),))
    joined = {str(c.link): {e.endpoint for e in c.ends()} for c in crossed.cables}
    swapped = ("tor-s0-r0-p0:129--agg-p0-a0:1", "tor-s0-r1-p0:129--agg-p0-a0:2")
    assert joined[swapped[0]] == {SwitchPort("tor-s0-r0-p0", 129), q}
    assert joined[swapped[1]] == {SwitchPort("tor-s0-r1-p0", 129), p}
    others = [(a, b) for a, b in zip(plain.cables, crossed.cables, strict=True) if str(a.link) not in swapped]
    assert len(others) == len(MINI.links) - 2 and all(a == b for a, b in others)
    ifaces = sorted(e.patch_iface for c in crossed.cables for e in c.ends())
    assert ifaces == sorted(e.patch_iface for c in plain.cables for e in c.ends()), "every port still once"
    assert crossing_at_first_agg(MINI) == (p, q)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("agg-p0-a0:1", "expected two ports"),
        ("agg-p0-a0:1,agg-p0-a0", "is not SWITCH:PORT"),
        ("agg-p0-a0:99,agg-p0-a0:1", "crossed port agg-p0-a0:99: no cable"),
        ("nope:1,agg-p0-a0:1", "crossed port nope:1: no cable"),
        ("tor-s0-r0-p0:1,agg-p0-a0:1", "tor-s0-r0-p0:1: its cable .* is a host cable"),
        ("tor-s0-r0-p0:129,agg-p0-a0:1", "both ends of one cable"),
    ],
)
def test_a_bad_crossing_is_refused_naming_the_port(text: str, why: str) -> None:
    with pytest.raises(LayoutError, match=why):
        Layout(MINI, Path("/tmp/hpn-x"), (parse_crossing(MINI, text),))


def test_a_port_crossed_twice_is_refused() -> None:
    a, b, c = (SwitchPort("agg-p0-a0", n) for n in (1, 2, 3))
    with pytest.raises(LayoutError, match="agg-p0-a0:2: crossed twice"):
        Layout(MINI, Path("/tmp/hpn-x"), ((a, b), (b, c)))


# -- the runner process --------------------------------------------------------------------------


def _layout(tmp_path: Path) -> Layout:
    lay = Layout(MINI, tmp_path / "hpn-mini")
    lay.switch_dir.mkdir(parents=True)
    return lay


def test_runner_argv_passes_the_emulation_targets_events_metrics_and_only_given_timers(
    tmp_path: Path,
) -> None:
    lay = _layout(tmp_path)
    argv = runner_argv(lay, TOPO / "hpn-mini.yaml", 9411, RunnerSettings(interval_ms=3600000, election_id=11))
    assert argv[:4] == [sys.executable, "-m", "hpn.cli", "run"]
    pairs = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert pairs == {
        "--targets": str(lay.targets_file),
        "--metrics-port": "9411",
        "--metrics-address": "127.0.0.1",
        "--events": str(lay.runner_events),
        "--interval-ms": "3600000",
        "--election-id": "11",
    }


def test_runner_record_round_trips_and_an_unreadable_one_is_none(tmp_path: Path) -> None:
    me = Proc.of(os.getpid())
    assert me is not None
    record = RunnerRecord(me, 9400, tmp_path / "e.jsonl", tmp_path / "r.log")
    record.write(tmp_path / "runner.json")
    assert RunnerRecord.read(tmp_path / "runner.json") == record
    assert record.metrics_url == "http://127.0.0.1:9400/metrics"
    (tmp_path / "bad.json").write_text('{"pid": 1}')
    assert RunnerRecord.read(tmp_path / "bad.json") is None
    assert RunnerRecord.read(tmp_path / "none.json") is None


def test_a_runner_is_not_started_on_a_fabric_that_is_not_up(tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match=r"targets\.json does not exist: the emulation is not up"):
        start_runner(_layout(tmp_path), TOPO / "hpn-mini.yaml")


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[Layout]:
    """A layout whose targets file names switches that are not there: a runner on it keeps
    retrying them, and serves its metrics meanwhile."""
    lay = _layout(tmp_path)
    lay.targets_file.write_text(json.dumps({s.name: lay.grpc_address(s.name) for s in MINI.switches}))
    yield lay
    stop_runner(lay)


def test_a_busy_metrics_port_is_named_before_anything_starts(targets: Layout) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(RunnerError, match=f"--metrics-port {port}: something already listens"):
            start_runner(targets, TOPO / "hpn-mini.yaml", port)
    assert not targets.runner_file.exists()


def test_the_runner_runs_as_its_own_process_found_and_stopped_by_pid(targets: Layout) -> None:
    record = start_runner(targets, TOPO / "hpn-mini.yaml")
    assert running_runner(targets) == record
    with pytest.raises(RunnerError, match="already keeps this fabric"):
        start_runner(targets, TOPO / "hpn-mini.yaml")
    numbers = None
    deadline = time.monotonic() + 60
    while numbers is None and time.monotonic() < deadline and record.proc.alive():
        try:
            numbers = scrape(record.metrics_url, timeout=1.0)
        except OSError:
            time.sleep(0.1)  # polling the endpoint until the process serves it
    assert numbers is not None, f"no metrics at {record.metrics_url}; log:\n{record.log.read_text()}"
    assert numbers.failure_view_empty and numbers.probes_received == 0
    done = stop_runner(targets)
    assert done[0] == f"hpnctl run (pid {record.proc.pid}) stopped"
    assert not record.proc.alive() and not targets.runner_file.exists()
    assert stop_runner(targets) == [], "nothing left to stop"


def test_a_runner_that_exits_is_reported_with_its_log(targets: Layout, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: hpn\nname: [\n")
    record = start_runner(targets, bad)
    with pytest.raises(RunnerError, match=r"exited after learning 0/16 cables[\s\S]*invalid topology"):
        wait_learnt(record, MINI, timeout=60)


def test_up_refuses_a_metrics_port_without_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPN_RUN_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["emulate", "up", str(TOPO / "hpn-mini.yaml"), "--metrics-port", "9400"])
    assert result.exit_code == 2 and "--metrics-port is the runner's: it needs --run" in result.output


# -- events and metrics read back -----------------------------------------------------------------


def test_events_read_back_as_written_and_a_half_written_line_waits(tmp_path: Path) -> None:
    first = Event(12 * NS + 5, EventKind.DECLARED, "a:1--b:2", {"missed": 3, "falls": 1})
    path = tmp_path / "events.jsonl"
    path.write_text(first.json() + "\n" + '{"t": 13.0, "event": "writ')
    tail = EventsTail(path)
    assert tail.read() == [first]
    with path.open("a") as f:
        f.write('ten", "subject": "a:1--b:2", "switches": 3}\n')
    (second,) = tail.read()
    assert (second.t_ns, second.kind, dict(second.detail)) == (13 * NS, EventKind.WRITTEN, {"switches": 3})
    assert tail.since(12.5) == [second]
    assert tail.wait_for(lambda ev: len(ev) == 2, timeout=0.0)


def test_a_line_that_is_no_event_is_named_with_its_place() -> None:
    with pytest.raises(EventLineError, match=r"ev\.jsonl:4: not an event"):
        parse_event('{"t": 1, "event": "exploded", "subject": "x"}', "ev.jsonl:4")


def test_the_runner_numbers_are_read_from_its_metrics() -> None:
    m = OperationsMetrics()
    m.failovers.labels(kind="link_down").inc()
    m.failovers.labels(kind="link_up").inc()
    m.switches_touched.inc(5)
    m.updates_written.labels(switch="tor-s0-r0-p0").inc(40)
    m.updates_written.labels(switch="agg-p0-a0").inc(2)
    m.detection_to_written.observe(0.4)
    m.detection_to_written.observe(0.6)
    m.set_failure_view(FailureView.parse(MINI, ["tor-s0-r0-p0:129"]))
    n = parse_metrics(generate_latest(m.registry).decode())
    assert n.failovers == {"link_down": 1.0, "link_up": 1.0}
    assert (n.switches_touched, n.updates_written) == (5.0, 42.0)
    h = n.detection_to_written
    assert h.count == 2 and h.total == pytest.approx(1.0)
    assert dict(h.buckets)[0.5] == 1 and dict(h.buckets)[1.0] == 2
    assert "2 observations, mean 500 ms" in h.describe() and "<= 250 ms: 0" in h.describe()
    assert n.failure_view == {"link": 1.0, "switch": 0.0} and not n.failure_view_empty


# -- what a cut did to the flows -------------------------------------------------------------------


def _log(sent: list[float], received: dict[int, float]) -> FlowLog:
    nic = fabric_nics(Layout(MINI, Path("/tmp/hpn-x")))[("host-s0-h0", 0)]
    log = FlowLog(Flow(nic, nic, sport=1))
    log.sent, log.received = sent, received
    return log


SENT = [i / 10 for i in range(20)]  # a packet every 100 ms, 0.0 .. 1.9


def test_a_flow_the_cut_hit_recovers_at_its_first_packet_after_the_outage() -> None:
    received = {i: t + 0.01 for i, t in enumerate(SENT) if not 5 <= i <= 7}
    outage = flow_outage(_log(SENT, received), t_cut=0.45, t_back=1.5, onset=0.2, grace=0.1)
    assert outage is not None and outage.recovered_after == pytest.approx(0.81 - 0.45)
    assert outage.lost_packets == 3 and not outage.lost


def test_a_flow_that_delivers_only_after_the_restore_is_lost() -> None:
    received = {i: t + 0.01 for i, t in enumerate(SENT) if not 5 <= i <= 15}
    outage = flow_outage(_log(SENT, received), t_cut=0.45, t_back=1.5, onset=0.2, grace=0.1)
    assert outage is not None and outage.lost and outage.lost_packets == 10


def test_a_later_separate_loss_is_not_the_cuts() -> None:
    received = {i: t + 0.01 for i, t in enumerate(SENT) if i != 12}
    assert flow_outage(_log(SENT, received), t_cut=0.45, t_back=1.5, onset=0.2, grace=0.1) is None


def test_a_cut_recovers_when_its_slowest_hit_flow_does() -> None:
    clean = _log(SENT, {i: t + 0.01 for i, t in enumerate(SENT)})
    fast = _log(SENT, {i: t + 0.01 for i, t in enumerate(SENT) if i != 5})
    slow = _log(SENT, {i: t + 0.01 for i, t in enumerate(SENT) if not 5 <= i <= 8})
    later = _log(SENT, {i: t + 0.01 for i, t in enumerate(SENT) if i != 12})
    rec = cut_recovery([clean, fast, slow, later], t_cut=0.45, t_back=1.5, onset=0.2, grace=0.1)
    assert (rec.flows, rec.hit, rec.lost_packets, rec.other_lost_packets) == (4, 2, 5, 1)
    assert rec.recovery == pytest.approx(0.91 - 0.45) and rec.lost_flows == ()
    lost = _log(SENT, {i: t + 0.01 for i, t in enumerate(SENT) if i < 5})
    assert cut_recovery([lost], 0.45, 1.5, 0.2, 0.1).recovery is None
    assert cut_recovery([clean], 0.45, 1.5, 0.2, 0.1).recovery == 0.0


# -- the runner's events around a cut --------------------------------------------------------------


CABLE = "tor-s0-r0-p0:129--agg-p0-a0:1"


def _ev(t: float, kind: EventKind, subject: str = CABLE) -> Event:
    return Event(round(t * NS), kind, subject)


def _cut(cables: frozenset[str] = frozenset({CABLE}), switch: str | None = None) -> Cut:
    subjects = cables | ({switch} if switch else set())
    return Cut(
        "k", switch or CABLE, lambda: None, lambda: None, frozenset(subjects), cables, (), True, switch
    )


CUT_EVENTS = [
    _ev(9.0, EventKind.DECLARED),  # an earlier fall: before the cut
    _ev(10.1, EventKind.DETECTED),
    _ev(10.3, EventKind.DECLARED),
    _ev(10.32, EventKind.RECOMPUTED),
    _ev(10.4, EventKind.WRITTEN),
    _ev(10.5, EventKind.DECLARED, "other:1--x:2"),
    _ev(12.2, EventKind.HELD),
    _ev(13.2, EventKind.RESTORED),
    _ev(13.3, EventKind.WRITTEN),
]


def test_the_cut_is_written_only_after_it_was_declared_since_the_cut() -> None:
    assert _written(CUT_EVENTS, _cut(), t_cut=10.0)
    assert not _written(CUT_EVENTS[:4], _cut(), t_cut=10.0), "declared, not yet written"
    assert not _written(CUT_EVENTS[:2] + CUT_EVENTS[4:5], _cut(), t_cut=10.0), "written, never declared"


def test_restored_needs_every_fallen_cable_back_and_a_write_after_the_last() -> None:
    assert _restored(CUT_EVENTS, _cut(), {CABLE}, t_back=12.0)
    assert not _restored(CUT_EVENTS[:-1], _cut(), {CABLE}, t_back=12.0)
    killed = _cut(frozenset({CABLE}), switch="agg-p0-a0")
    assert not _restored(CUT_EVENTS, killed, {CABLE}, t_back=12.0), "the switch never came back"
    back = [*CUT_EVENTS[:7], _ev(12.5, EventKind.SWITCH_UP, "agg-p0-a0"), *CUT_EVENTS[7:]]
    assert _restored(back, killed, {CABLE}, t_back=12.0)


def test_a_timeline_keeps_the_cuts_subjects_in_two_phases(tmp_path: Path) -> None:
    tl = cut_timeline(
        "cut", CUT_EVENTS, {CABLE}, t_cut=10.0, t_back=12.0, t_end=14.0, recovered_s=0.45, intact_s=1.5
    )
    assert tl.first(EventKind.DETECTED) == pytest.approx(0.1)
    assert tl.first(EventKind.WRITTEN) == pytest.approx(0.4)
    assert [m.kind for m in tl.back] == [EventKind.HELD, EventKind.RESTORED, EventKind.WRITTEN]
    assert tl.last_back(EventKind.RESTORED) == pytest.approx(1.2)
    assert all(m.subject == CABLE for m in (*tl.cut, *tl.back))
    png = plot_timelines([tl, tl], tmp_path / "t.png", "two cuts")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_consecutive_cuts_pick_different_items() -> None:
    assert [pick(list(range(8)), i) for i in range(5)] == [0, 3, 6, 1, 4]
    assert len({pick(list(range(4)), i) for i in range(4)}) == 4


# -- the demo's report of it -------------------------------------------------------------------------


def test_the_demo_reports_the_runners_numbers_and_fails_on_behaviour_only(tmp_path: Path) -> None:
    from hpn.experiments.demo.report import DemoReport, render

    result = OperationsResult(CABLE, None, parse_metrics(""), None, tmp_path / "ops.png")
    report = DemoReport("hpn-mini", tmp_path, operations=result)
    assert report.ok, "no problem, no failure: a time over the target is reported only"
    console = Console(record=True, width=300)
    render(console, report)
    text = console.export_text()
    assert "hpnctl run: a cable cut healed" in text and "detection to written: no observations" in text
    assert f"plot: {tmp_path / 'ops.png'}" in text
    result.problems.append("tor-s0-r0-p0:129--agg-p0-a0:1: the runner did not restore it")
    assert not report.ok


def test_the_cables_that_fell_are_read_from_the_events_written_since_the_last_read(tmp_path: Path) -> None:
    """A killed switch is written for at once, its cables are declared later: the cables
    to wait for at the restore are those declared by then, not by the first write."""
    path = tmp_path / "events.jsonl"
    killed = _cut(frozenset({CABLE}), switch="agg-p0-a0")
    path.write_text(_ev(10.05, EventKind.SWITCH_DOWN, "agg-p0-a0").json() + "\n")
    tail = EventsTail(path)
    tail.read()
    with path.open("a") as f:
        f.write(_ev(10.3, EventKind.DECLARED).json() + "\n")
    assert _fell(tail, killed, t_cut=10.0, t_back=12.0) == {CABLE}

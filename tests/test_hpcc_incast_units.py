"""The incast experiment without a fabric: reading the receiver's log, the numbers of a run
made up by hand, the goals, the runtime CLI session (against a stand-in CLI) and the
bench's command line."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
import threading
from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from rich.console import Console

from hpn.emulation.emulation import Emulation
from hpn.emulation.traffic import EmulatedNic
from hpn.experiments.demo.hpcc_check import HpccIncastResult
from hpn.experiments.incast import (
    Arrival,
    Comparison,
    IncastRun,
    IncastSettings,
    IncastSetup,
    IncastStopped,
    compare,
    goals,
    incast_setup,
    queue_ratio,
    read_arrivals,
    summarize,
)
from hpn.experiments.incast import agents as incast_agents
from hpn.experiments.incast import report as incast_report
from hpn.experiments.incast.agents import Agents, start_senders
from hpn.experiments.incast.errors import IncastError
from hpn.experiments.incast.logs import read_summary
from hpn.experiments.incast.timeline import Timeline
from hpn.hpcc.cli import SENDER_READY, _arrival_record
from hpn.hpcc.messages import AckKind
from hpn.hpcc.receiver import Arrival as ReceiverArrival
from hpn.netlab.bmv2 import Bmv2Cli, Bmv2Error
from hpn.pipeline.names import PORT_QUEUE, queued_bytes
from hpn.pipeline.p4info import load_schema
from hpn.telemetry.codec import IntHop, IntStack
from hpn.topology.loader import load_fabric

ROOT = Path(__file__).resolve().parents[1]
S = 1_000_000_000


def nic(host: str, segment: int, ip: str) -> EmulatedNic:
    return EmulatedNic(host, 0, segment, IPv4Address(ip), f"ns-{host}", ("p0",))


A, B = nic("a", 0, "10.0.0.1"), nic("b", 0, "10.0.0.2")
SETUP = IncastSetup(nic("r", 1, "10.1.0.1"), (A, B), "tor-1", 1, 200)


def hop(qlen: int) -> IntHop:
    return IntHop.from_port_state(gbps=200, time_ns=1000, tx_bytes=0, queued_bytes=80 * qlen)


def test_the_bottleneck_queue_is_the_last_hop_of_what_the_receiver_logs(tmp_path: Path) -> None:
    three = IntStack.from_hops([hop(1), hop(2), hop(3)])
    six = IntStack.from_hops([hop(q) for q in (1, 2, 3, 4, 5, 6)])  # hop 6 wrote slot 0
    records = [
        ReceiverArrival(10, "10.0.0.1", 1, 0, 1000, AckKind.ACK, three),
        ReceiverArrival(20, "10.0.0.2", 2, 5000, 1000, AckKind.NACK, six),
        ReceiverArrival(30, "10.0.0.2", 2, 0, 1000, None, IntStack()),
    ]
    log = tmp_path / "receiver.jsonl"
    log.write_text("".join(json.dumps(_arrival_record(r)) + "\n" for r in records))
    assert read_arrivals(log) == [
        Arrival(10, "10.0.0.1", True, 3 * 80),
        Arrival(20, "10.0.0.2", False, 6 * 80),  # beyond a gap: not goodput
        Arrival(30, "10.0.0.2", False, None),  # no switch wrote a slot
    ]


def made_up_run(work_dir: Path) -> IncastRun:
    """2 s at a 20 pkt/s bottleneck: A sends 10 pkt/s all along, B joins at 1 s with 10 pkt/s.

    One of B's packets (at 1.5 s) is a duplicate; the queue behind each packet is 1096 bytes,
    except one reading of 3,000 bytes. The buffer holds 4 packets (4,384 bytes). The senders
    wrote no ACK log in `work_dir`.
    """
    settings = IncastSettings(
        senders=2,
        line_rate_pps=20,
        queue_depth=4,
        before_join_s=1,
        after_join_s=1,
        window_s=0.5,
        bin_s=0.5,
        hold_s=0.5,
    )
    arrivals = [Arrival(i * S // 10, "10.0.0.1", True, 1096) for i in range(20)]
    arrivals += [Arrival(S + i * S // 10, "10.0.0.2", i != 5, 1096) for i in range(10)]
    arrivals[3] = Arrival(3 * S // 10, "10.0.0.1", True, 3000)
    arrivals.sort(key=lambda a: a.t_ns)
    summaries = {
        "10.0.0.1": {"packets_sent": 20, "acks": 20, "nacks": 0, "retransmits": 0},
        "10.0.0.2": {"packets_sent": 11, "acks": 9, "nacks": 1, "retransmits": 1},
    }
    bmv2 = [(t * S // 100, 0 if t % 2 else 2192) for t in range(-10, 210)]
    return IncastRun("hpcc", settings, SETUP, 0, S, 2 * S, arrivals, bmv2, summaries, work_dir)


def test_summarize_by_hand(tmp_path: Path) -> None:
    o = summarize(made_up_run(tmp_path))
    assert o.seconds == 2.0 and o.join_s == 1.0
    # 20 + 9 packets in order in 2 s of a 20 pkt/s port; all 30 arrived
    assert o.goodput_share == pytest.approx(29 / 40)
    assert o.busy_share == pytest.approx(30 / 40)
    # from the join: A 10, B 9 -> 19^2 / (2 * (100 + 81))
    assert o.fairness == pytest.approx(361 / 362)
    assert o.fairness_before == 1.0  # A alone before the join
    # windows of 0.5 s from the join: [1, 1.5) A 5 B 5; [1.5, 2) A 5 B 4 -> both fair; the
    # first whole window ends 0.5 s after the join and the hold (0.5 s) is covered
    assert o.convergence_s == pytest.approx(0.5)
    # windows of 0.5 s every 0.5 s: (5, 5) -> 1, (5, 4) -> 81 / 82
    assert o.windowed_fairness == (pytest.approx((1 + 81 / 82) / 2), pytest.approx(81 / 82))
    assert o.senders["10.0.0.2"].delivered == 9 and o.senders["10.0.0.2"].retransmits == 1
    assert o.packets_sent == 31 and o.retransmits == 1
    assert o.buffer_bytes == 4 * 1096
    assert o.queue_int is not None and o.queue_int.samples == 30
    assert o.queue_int.median == 1096 and o.queue_int.maximum == 3000
    # p99 at rank 0.99 * 29 = 28.71, between 1096 and 3000
    assert o.queue_int.p99 == pytest.approx(1096 + 0.71 * (3000 - 1096))
    # bmv2: 200 readings inside the window, half 0, half 2192
    assert o.queue_bmv2 is not None and o.queue_bmv2.samples == 200
    assert o.queue_bmv2.p99 == 2192 and o.queue_bmv2.median == pytest.approx(1096)
    assert [r.end_ns for r in o.rates] == [S // 2, S, 3 * S // 2, 2 * S]
    assert [r.rates["10.0.0.2"] for r in o.rates] == [0, 0, 10, 8]


def test_goals_compare_queues_no_larger_than_the_buffer(tmp_path: Path) -> None:
    run = made_up_run(tmp_path)
    hpcc = summarize(run)
    run.cc = "none"
    run.arrivals = [Arrival(a.t_ns, a.sender, a.in_order, 50_000) for a in run.arrivals]
    none = summarize(run)
    comparison = Comparison(run.settings, SETUP, None, {}, {"none": none, "hpcc": hpcc})
    # no CC's readings (50,000 B) count as the buffer (4,384 B); HPCC's p99 is 2,447.84 B
    assert queue_ratio(comparison, "int") == pytest.approx(2447.84 / 4384)
    assert queue_ratio(comparison, "bmv2") == 1.0  # both modes read the same 2,192 B
    met = {g.what: g.met for g in goals(comparison)}
    assert met == {
        "HPCC p99 queue below no CC's (INT)": True,  # 0.56 < 1
        "HPCC p99 queue below no CC's (bmv2)": False,  # 1.0
        "HPCC senders that cut their rate on an ACK with U above eta": False,  # no ACK log
        "HPCC p99 queue / no CC's (INT)": False,  # 0.56
        "HPCC p99 queue / no CC's (bmv2)": False,
        "HPCC goodput / bottleneck": False,  # 72.5%
        "HPCC Jain fairness after the join": True,  # 0.997
    }
    assert comparison.problems() == []
    comparison.outcomes["hpcc"] = replace(hpcc, queue_int=None, join_s=None)
    assert comparison.problems() == [
        "hpcc: no data packet carried INT from the bottleneck",
        "hpcc: the joining sender's packets never arrived",
    ]


def test_the_incast_needs_single_homed_nics(tmp_path: Path) -> None:
    text = (ROOT / "topologies" / "hpcc-incast.yaml").read_text().replace("planes: 1", "planes: 2")
    topology = tmp_path / "dual.yaml"
    topology.write_text(text)
    emulation = Emulation(load_fabric(topology), topology, tmp_path / "run")
    with pytest.raises(ValueError, match="single-homed"):
        incast_setup(emulation, 3)
    topology.write_text(text.replace("planes: 2", "planes: 1"))
    setup = incast_setup(Emulation(load_fabric(topology), topology, tmp_path / "run"), 4)
    assert (setup.bottleneck, setup.nic_gbps, str(setup.receiver)) == (
        "tor-s1-r0-p0:1",
        200,
        "host-s1-h0/nic0",
    )
    assert [str(n.ip) for n in setup.senders] == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]


def test_a_set_stop_event_ends_the_timeline_at_once() -> None:
    stop = threading.Event()
    timeline = Timeline(stop)
    timeline.until(0.0)  # not stopped: a point already reached returns
    timeline.check()
    stop.set()
    with pytest.raises(IncastStopped):
        timeline.until(3600.0)
    with pytest.raises(IncastStopped):
        timeline.check()


def test_a_stopped_comparison_starts_nothing(tmp_path: Path) -> None:
    topology = ROOT / "topologies" / "hpcc-incast.yaml"
    emulation = Emulation(load_fabric(topology), topology, tmp_path / "run")
    stop = threading.Event()
    stop.set()
    steps: list[str] = []
    with pytest.raises(IncastStopped):
        compare(emulation, IncastSettings(), tmp_path / "work", on_run=steps.append, stop=stop)
    assert steps == [] and not (tmp_path / "work").exists()


def test_settings_refuse_what_cannot_run() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        IncastSettings(senders=1)
    with pytest.raises(ValueError, match="positive"):
        IncastSettings(line_rate_pps=0)
    with pytest.raises(ValueError, match="Jain"):
        IncastSettings(fair_threshold=1.5)


STAND_IN_CLI = textwrap.dedent(
    """
    print("Obtaining JSON from switch...")
    print("Done")
    registers = {"port_queue": {1: 2192}}
    while True:
        try:
            line = input("RuntimeCmd: ")
        except EOFError:
            break
        words = line.split()
        if words[0] == "register_read":
            name, index = words[1], int(words[2])
            if name in registers:
                print(f"{name}[{index}]= {registers[name].get(index, 0)}")
            else:
                print(f"Error: Invalid register name ({name})")
        elif words[0] == "set_queue_rate":
            registers["port_queue"][int(words[2])] = int(words[1])
        elif words[0] == "quit":
            break
    """
)


def test_cli_session_reads_registers_and_reports_errors(tmp_path: Path) -> None:
    script = tmp_path / "cli.py"
    script.write_text(STAND_IN_CLI)
    with Bmv2Cli([sys.executable, str(script)]) as cli:
        assert cli.register_read("port_queue", 1) == 2192
        assert cli.register_read("port_queue", 7) == 0
        cli.set_queue(3, rate_pps=500)
        assert cli.register_read("port_queue", 3) == 500  # the stand-in stores the rate there
        with pytest.raises(Bmv2Error, match="Invalid register name"):
            cli.register_read("nope", 1)
        assert cli.register_read("port_queue", 1) == 2192  # the session goes on after an error
        with pytest.raises(Bmv2Error, match="exited"):
            cli.command("quit")


def test_the_queue_register_is_in_the_bmv2_program() -> None:
    assert load_schema().registers[PORT_QUEUE].size == 512


def test_the_sampler_reads_bytes_not_the_frame_number_beside_them() -> None:
    assert queued_bytes((7 << 32) | 2192) == 2192
    assert queued_bytes(0xFFFF_FFFF << 32) == 0


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_hpcc.py"), *args], capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--senders", "2"], "at least 3 senders"),
        (["--rate-pps", "0"], "positive"),
        (["--after-join", "soon"], "not a number"),
        (["--modes", "none,dcqcn"], "--modes"),
        (["--topology", "topologies/hpn-mini.yaml"], "hpn-mini has 2 NIC(s) on rail 0 outside segment 1"),
        (["--topology", "topologies/rig-4.yaml"], "rig-4 has 1 NIC"),
        (["--senders", "5"], "5 senders need as many"),
    ],
)
def test_bench_refuses_bad_arguments_with_exit_2(args: list[str], message: str) -> None:
    result = bench(*args)
    assert result.returncode == 2, result
    assert message in result.stderr


def test_bench_help() -> None:
    result = bench("--help")
    assert result.returncode == 0
    assert "--senders" in result.stdout and "docs/hpcc.md" in result.stdout


def made_up_comparison(work_dir: Path) -> Comparison:
    run = made_up_run(work_dir)
    hpcc = summarize(run)
    run.cc = "none"
    run.arrivals = [Arrival(a.t_ns, a.sender, a.in_order, 50_000) for a in run.arrivals]
    return Comparison(run.settings, SETUP, None, {}, {"none": summarize(run), "hpcc": hpcc})


def test_the_report_stars_readings_beyond_the_buffer_and_states_the_goals(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    comparison = made_up_comparison(tmp_path)
    console.print(incast_report.table(comparison))
    for line in incast_report.notes(comparison):
        console.print(line)
    text = console.export_text()
    assert "queue p99, INT (B)" in text and "4,384*" in text  # no CC's 50,000 B shown as the buffer
    assert "read up to 50,000 B, more than the buffer holds (4,384 B = 4 x 1096 B)" in text
    assert "goal (speed) HPCC goodput / bottleneck >= 90%: 0.725, NOT met" in text
    assert "goal (speed) HPCC Jain fairness after the join >= 0.95: 0.997, met" in text
    assert "goal (behaviour) HPCC p99 queue below no CC's (INT) < 1: 0.558, met" in text
    assert "speed goals met 1/4 (reported, not checked; machine load not measured)" in text
    png = incast_report.plot(comparison, tmp_path / "incast.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_demo_check_summary_names_the_headline_numbers(tmp_path: Path) -> None:
    result = HpccIncastResult(made_up_comparison(tmp_path), None, [], 1.0)
    assert result.ok
    assert result.summary() == (
        "2:1 at 20 pkt/s: HPCC p99 queue (INT) 2,448 B, 0.558 of no CC's; goodput 72% -> 72%; "
        "Jain 0.997; behaviour goals met 1/3; speed goals met 1/4 (reported, not checked; "
        "machine load not measured)"
    )
    assert HpccIncastResult(None, None, ["no fabric"], 0.0).summary() == "not measured"


def test_bench_says_what_is_missing_and_exits_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("bench_hpcc", ROOT / "bench" / "bench_hpcc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "missing_prerequisites", lambda: ["root (network namespaces)"])
    monkeypatch.setattr(module, "cli_missing", lambda: "simple_switch_CLI not on PATH")
    assert module.main([]) == 4
    assert capsys.readouterr().out == (
        "bench_hpcc: cannot run: root (network namespaces); simple_switch_CLI not on PATH\n"
    )


class _Here:
    """A stand-in for a host's namespace: the agent runs in this one (on loopback)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def exec_argv(self, argv: list[str]) -> list[str]:
        return argv


def test_senders_are_started_once_ready_and_one_that_never_is_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(incast_agents, "Netns", _Here)
    send = ["send", "--to", "127.0.0.2", "--port", "4791", "--duration", "30"]
    good = nic("g", 0, "127.0.0.5")
    with Agents(tmp_path) as agents:
        (sender,) = start_senders(agents, [("sender0", good, [*send, "--ip", "127.0.0.5", "--sport", "0"])])
        assert sender.log.read_text().startswith(SENDER_READY)  # ready before start_senders returned
        agents.stop([sender])
        summary = read_summary(sender)
        assert (summary["started"], summary["stopped_by"]) == (True, "SIGTERM")
        # 192.0.2.1 (TEST-NET-1) is no address of this machine: the sender cannot bind it.
        bad = [*send, "--ip", "192.0.2.1", "--sport", "0"]
        with pytest.raises(IncastError, match=r"^sender1 exited during start"):
            start_senders(agents, [("sender1", nic("b", 0, "192.0.2.1"), bad)])

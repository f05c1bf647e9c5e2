"""N:1 incast through one slowed port of a running emulation, with the HPCC agents.

The experiment of docs/hpcc.md ("The incast experiment"): N senders in other segments than
the receiver, all on its rail, send to it through its ToR's host port, which bmv2's queue
controls slow to the NICs' scaled line rate (``set_queue_rate``) with a bounded buffer
(``set_queue_depth``). N - 1 senders start together; the last one joins later. Every agent
is the command line of hpn.hpcc (``python -m hpn.hpcc receive|send``), one process per
role in its host's namespace; this module starts them, keeps time, samples the bottleneck's
byte queue over Thrift (bmv2's P4Runtime server does not read registers), stops them by
pid and reads what they wrote. ``summarize`` turns one run into the reported numbers
(hpn.hpcc.metrics), without touching the fabric.

Nothing here prints or forks: processes are started with subprocess (vfork + exec), so a
caller holding gRPC channels (hpnctl demo) may use it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import hpn
from hpn.emulation.emulation import Emulation
from hpn.emulation.traffic import EmulatedNic, fabric_nics
from hpn.hpcc.messages import frame_bytes
from hpn.hpcc.metrics import (
    QueueSummary,
    RateSample,
    convergence_ns,
    count_between,
    fairness_series,
    goodput_share,
    group_times,
    jain_index,
    percentile,
    ratio,
    window_rates,
)
from hpn.netlab.bmv2 import Bmv2Cli, Bmv2Error
from hpn.netlab.netns import Netns
from hpn.pipeline.names import PORT_QUEUE, queued_bytes
from hpn.telemetry.codec import QLEN_UNIT
from hpn.topology.model import NicPort

CC_MODES = ("none", "hpcc")
"""Without congestion control (line rate, no window), and HPCC."""
BMV2_DEFAULT_QUEUE_DEPTH = 64
"""Packets: simple_switch's default egress queue capacity, restored after a run."""
UNLIMITED_QUEUE_RATE_PPS = 1_000_000
"""What a slowed port is set back to (as the PTF suites do)."""
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
DRAIN_S = 0.5
"""After the senders stop: time for the bottleneck's queue to reach the receiver."""
SAFETY_S = 10.0
"""Each agent's own --duration is this much longer than its part: a bound, not the timeline."""


class IncastError(RuntimeError):
    """The experiment could not run: the message says which agent or switch, and where its log is."""


@dataclass(frozen=True)
class IncastSettings:
    senders: int = 3
    """N: N - 1 senders start together, the N-th joins after ``before_join_s``."""
    line_rate_pps: float = 500.0
    """The NICs' line rate in packets/s (``--line-rate-pps``) and the bottleneck port's rate: the
    receiver's ToR port is as fast as a NIC, so it drains at this rate."""
    queue_depth: int = BMV2_DEFAULT_QUEUE_DEPTH
    """The bottleneck's buffer, in packets (``set_queue_depth``)."""
    before_join_s: float = 2.0
    after_join_s: float = 4.0
    base_rtt_us: float = 4000.0
    """HPCC's T (``--base-rtt-us``): at least the unloaded RTT between the agents (docs/hpcc.md)."""
    payload_bytes: int = 1000
    sample_interval_s: float = 0.01
    """How often the bottleneck's byte count is read from bmv2."""
    bin_s: float = 0.1
    """Per-sender rates over time (plot) are counted in bins of this."""
    window_s: float = 0.5
    """Convergence: Jain's index over sliding windows of this, every ``bin_s``..."""
    hold_s: float = 0.5
    """... that must stay at least ``fair_threshold`` for this long."""
    fair_threshold: float = 0.95

    def __post_init__(self) -> None:
        if self.senders < 2:
            raise ValueError("an incast with a sender joining needs at least 2 senders")
        if self.line_rate_pps <= 0 or self.queue_depth <= 0 or self.base_rtt_us <= 0:
            raise ValueError("line_rate_pps, queue_depth and base_rtt_us must be positive")
        if self.before_join_s <= 0 or self.after_join_s <= 0:
            raise ValueError("before_join_s and after_join_s must be positive")
        times = (self.sample_interval_s, self.bin_s, self.window_s, self.hold_s)
        if min(times) <= 0:
            raise ValueError("sample_interval_s, bin_s, window_s and hold_s must be positive")
        if not 0 < self.fair_threshold <= 1:
            raise ValueError("fair_threshold is a Jain index: in (0, 1]")

    @property
    def frame_bytes(self) -> int:
        return frame_bytes(self.payload_bytes)

    @property
    def buffer_bytes(self) -> int:
        """What the bottleneck's buffer holds of data frames: the most a real queue can be."""
        return self.queue_depth * self.frame_bytes


@dataclass(frozen=True)
class IncastSetup:
    """Who sends to whom, and the port everything crosses last."""

    receiver: EmulatedNic
    senders: tuple[EmulatedNic, ...]
    """In start order; the last one joins later."""
    bottleneck_switch: str
    bottleneck_port: int
    nic_gbps: int
    """The receiver's host link speed: the nominal rate every agent's NIC stands for."""

    @property
    def bottleneck(self) -> str:
        return f"{self.bottleneck_switch}:{self.bottleneck_port}"


def incast_setup(emulation: Emulation, senders: int) -> IncastSetup:
    """The receiver (first host of the last segment, rail 0) and ``senders`` NICs on its rail in
    other segments. Raises ValueError when the fabric cannot give that (the message says why)."""
    fabric = emulation.fabric
    nics = sorted(fabric_nics(emulation.layout).values(), key=lambda n: (n.segment, n.host, n.rail))
    rail0 = [n for n in nics if n.rail == 0]
    if not rail0:
        raise ValueError(f"{fabric.name} has no NIC on rail 0")
    last_segment = max(n.segment for n in rail0)
    receiver = next(n for n in rail0 if n.segment == last_segment)
    others = [n for n in rail0 if n.segment != receiver.segment]
    if len(others) < senders:
        raise ValueError(
            f"{fabric.name} has {len(others)} NIC(s) on rail 0 outside segment {receiver.segment}; "
            f"{senders} senders need as many (topologies/hpcc-incast.yaml has 4)"
        )
    if len(receiver.ports) != 1:
        raise ValueError(
            f"{receiver} has {len(receiver.ports)} cabled ports: the incast needs single-homed NICs "
            "(planes: 1, as topologies/hpcc-incast.yaml), so that one port is the bottleneck"
        )
    port = NicPort(receiver.host, receiver.rail, 0)
    tor = fabric.nic_switch_port(port)
    link = fabric.nic_link(port)
    if tor is None or link is None:
        raise ValueError(f"{receiver} port 0 is not cabled")
    return IncastSetup(receiver, tuple(others[:senders]), tor.switch, tor.port, link.gbps)


# -- one run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One data packet at the receiver, as its log has it."""

    t_ns: int
    sender: str
    """The sender's address."""
    in_order: bool
    """New data delivered in order (the receiver ACKed it); else a duplicate or beyond a gap."""
    queue_bytes: int | None
    """The bottleneck's queue behind the packet as it left (INT qlen of the last hop), bytes."""


@dataclass
class IncastRun:
    """What one run measured, before any statistics."""

    cc: str
    settings: IncastSettings
    setup: IncastSetup
    start_ns: int
    """The first data packet at the receiver."""
    join_ns: int | None
    """The joining sender's first packet at the receiver (None: it never arrived)."""
    end_ns: int
    """When the senders were told to stop."""
    arrivals: list[Arrival]
    bmv2_queue: list[tuple[int, int]]
    """(time, bytes) read from the bottleneck's byte-queue register."""
    senders: dict[str, dict[str, Any]]
    """Each sender's JSON summary, by address."""
    work_dir: Path


def _agent_env() -> dict[str, str]:
    """The agents import hpn from the same tree as this process."""
    tree = str(Path(hpn.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=tree if not path else f"{tree}{os.pathsep}{path}")


@dataclass
class _Agent:
    name: str
    proc: subprocess.Popen[bytes]
    summary: Path
    log: Path


class _Agents:
    """The agent processes of one run; every one still running is stopped (by pid) on exit."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.started: list[_Agent] = []
        self._files: list[IO[bytes]] = []

    def start(self, name: str, nic: EmulatedNic, args: Sequence[str], *, ready: str | None = None) -> _Agent:
        """Start one agent in `nic`'s namespace; with `ready`, wait until its stderr says so."""
        summary, log = self.work_dir / f"{name}.json", self.work_dir / f"{name}.err"
        out = open(summary, "wb")  # noqa: SIM115 (closed in __exit__)
        self._files.append(out)
        err: IO[bytes] | int = subprocess.PIPE
        if ready is None:
            err = open(log, "wb")  # noqa: SIM115 (closed in __exit__)
            self._files.append(err)
        argv = Netns(nic.netns).exec_argv([sys.executable, "-m", "hpn.hpcc", *args])
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=_agent_env())
        agent = _Agent(name, proc, summary, log)
        self.started.append(agent)
        if ready is not None:
            self._wait_ready(agent, ready)
        return agent

    def _wait_ready(self, agent: _Agent, marker: str, timeout: float = READY_TIMEOUT_S) -> None:
        assert agent.proc.stderr is not None
        fd = agent.proc.stderr.fileno()
        deadline = time.monotonic() + timeout
        seen = b""
        while marker.encode() not in seen:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            chunk = os.read(fd, 65536) if ready else b""
            seen += chunk
            if ready and not chunk:
                agent.log.write_bytes(seen)
                raise IncastError(f"{agent.name} exited during start: {_tail(agent.log)}")
            if not ready:
                agent.log.write_bytes(seen)
                raise IncastError(f"{agent.name} not ready after {timeout:.0f}s: {_tail(agent.log)}")
        agent.log.write_bytes(seen)

    def stop(self, agents: Sequence[_Agent], timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM (the agents stop and write their summary), SIGKILL after `timeout`."""
        for agent in agents:
            if agent.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    agent.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for agent in agents:
            try:
                agent.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                agent.proc.kill()
                agent.proc.wait()
            if agent.proc.stderr is not None:  # what it wrote after it was ready
                with open(agent.log, "ab") as log:
                    log.write(agent.proc.stderr.read())
                agent.proc.stderr.close()

    def __enter__(self) -> _Agents:
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self.stop([a for a in self.started if a.proc.poll() is None])
        finally:
            for f in self._files:
                f.close()


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return f"(no log {path})"
    return " | ".join(text[-lines:]) + f" (log {path})"


class QueueSampler:
    """Reads a port's queue count every `interval` seconds in a thread: (monotonic ns, bytes)."""

    def __init__(self, cli: Bmv2Cli, register: str, index: int, interval: float) -> None:
        self.cli, self.register, self.index, self.interval = cli, register, index, interval
        self.samples: list[tuple[int, int]] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hpn-queue-sampler", daemon=True)

    def _run(self) -> None:
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                cell = self.cli.register_read(self.register, self.index)
                self.samples.append((time.monotonic_ns(), queued_bytes(cell)))
                next_at += self.interval
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        except BaseException as exc:  # reported by stop(), in the caller's thread
            self.error = exc

    def __enter__(self) -> QueueSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=STOP_TIMEOUT_S)

    def check(self) -> None:
        if self.error is not None:
            raise IncastError(f"reading {self.register}[{self.index}] failed: {self.error}")


def _sender_args(
    setup: IncastSetup,
    settings: IncastSettings,
    nic: EmulatedNic,
    i: int,
    *,
    cc: str,
    pps: float,
    seconds: float,
    log: Path,
) -> list[str]:
    """`python -m hpn.hpcc send` for sender `i` (source port and QP from it) for `seconds`."""
    return [
        "send",
        "--log",
        str(log),
        "--ip",
        str(nic.ip),
        "--to",
        str(setup.receiver.ip),
        "--sport",
        str(49152 + i),
        "--qpn",
        str(i + 1),
        "--cc",
        cc,
        "--duration",
        f"{seconds:.3f}",
        "--nic-gbps",
        str(setup.nic_gbps),
        "--line-rate-pps",
        str(pps),
        "--payload-bytes",
        str(settings.payload_bytes),
        "--base-rtt-us",
        str(settings.base_rtt_us),
    ]


def _start_receiver(agents: _Agents, setup: IncastSetup, log: Path) -> _Agent:
    args = ["receive", "--ip", str(setup.receiver.ip), "--log", str(log)]
    return agents.start("receiver", setup.receiver, args, ready="receiving on")


def _until(deadline: float, stop: threading.Event | None) -> None:
    """The experiment's timeline: wait until the monotonic clock reaches `deadline`."""
    wait = max(0.0, deadline - time.monotonic())
    if stop is not None:
        if stop.wait(wait):
            raise KeyboardInterrupt
    else:
        time.sleep(wait)


def run_incast(
    emulation: Emulation,
    setup: IncastSetup,
    settings: IncastSettings,
    cc: str,
    work_dir: Path,
    stop: threading.Event | None = None,
) -> IncastRun:
    """One run with every sender in congestion-control mode `cc` (CC_MODES); blocks for its duration.

    The bottleneck is slowed for the run and set back to unlimited (and bmv2's default depth)
    afterwards. Logs and summaries stay in `work_dir`. Raises IncastError.
    """
    if cc not in CC_MODES:
        raise ValueError(f"cc must be one of {CC_MODES}, not {cc!r}")
    work_dir.mkdir(parents=True, exist_ok=True)
    recv_log = work_dir / "receiver.jsonl"
    port = setup.bottleneck_port
    try:
        with emulation.switch_cli(setup.bottleneck_switch) as cli, _Agents(work_dir) as agents:
            cli.set_queue(port, rate_pps=round(settings.line_rate_pps), depth=settings.queue_depth)
            try:
                receiver = _start_receiver(agents, setup, recv_log)
                with QueueSampler(cli, PORT_QUEUE, port, settings.sample_interval_s) as sampler:
                    t0 = time.monotonic()
                    total = settings.before_join_s + settings.after_join_s
                    senders = []
                    joiner = setup.senders[-1]
                    for i, nic in enumerate(setup.senders):
                        if nic is joiner:
                            _until(t0 + settings.before_join_s, stop)
                        seconds = (total if nic is not joiner else settings.after_join_s) + SAFETY_S
                        log = work_dir / f"sender{i}.jsonl"
                        args = _sender_args(
                            setup,
                            settings,
                            nic,
                            i,
                            cc=cc,
                            pps=settings.line_rate_pps,
                            seconds=seconds,
                            log=log,
                        )
                        senders.append(agents.start(f"sender{i}", nic, args))
                    _until(t0 + total, stop)
                    end_ns = time.monotonic_ns()
                    agents.stop(senders)
                    _until(time.monotonic() + DRAIN_S, stop)
                    agents.stop([receiver])
                sampler.check()
            finally:
                cli.set_queue(port, rate_pps=UNLIMITED_QUEUE_RATE_PPS, depth=BMV2_DEFAULT_QUEUE_DEPTH)
    except Bmv2Error as exc:
        raise IncastError(f"{setup.bottleneck_switch}: {exc}") from None
    summaries = {}
    for agent, nic in zip(senders, setup.senders, strict=True):
        summaries[str(nic.ip)] = _summary(agent)
    arrivals = read_arrivals(recv_log)
    if not arrivals:
        raise IncastError(f"the receiver got no data packet: {_tail(receiver.log)}")
    joined = [a.t_ns for a in arrivals if a.sender == str(joiner.ip)]
    return IncastRun(
        cc=cc,
        settings=settings,
        setup=setup,
        start_ns=arrivals[0].t_ns,
        join_ns=min(joined) if joined else None,
        end_ns=end_ns,
        arrivals=arrivals,
        bmv2_queue=sampler.samples,
        senders=summaries,
        work_dir=work_dir,
    )


def _summary(agent: _Agent) -> dict[str, Any]:
    try:
        summary = json.loads(agent.summary.read_text())
    except (OSError, ValueError):
        raise IncastError(f"{agent.name} left no summary: {_tail(agent.log)}") from None
    if not isinstance(summary, dict):
        raise IncastError(f"{agent.name}: a summary that is not an object ({agent.summary})")
    return summary


def read_arrivals(path: Path) -> list[Arrival]:
    """The receiver's log (``--log``): one Arrival per data packet, in arrival order."""
    out = []
    with open(path) as log:
        for line in log:
            record = json.loads(line)
            hops = record["hops"]  # IntStack.hops: oldest first, so the last is the bottleneck's
            queue = int(hops[-1][3]) * QLEN_UNIT if hops else None
            out.append(Arrival(int(record["t_ns"]), str(record["peer"]), record["answer"] == "ACK", queue))
    return out


CALIBRATION_SHARE = 0.2
"""The RTT is measured with one flow at this share of the line rate: nothing queues."""
CALIBRATION_S = 1.5


@dataclass(frozen=True)
class RttStats:
    """Round trips between the agents, from one sender's ACK log, in microseconds."""

    samples: int
    min_us: float
    median_us: float
    p90_us: float

    @property
    def base_rtt_us(self) -> float:
        """HPCC's T for this fabric: the 90th percentile, up to the next 100 us (docs/hpcc.md)."""
        return math.ceil(self.p90_us / 100) * 100


def measure_rtt(setup: IncastSetup, settings: IncastSettings, work_dir: Path) -> RttStats:
    """The agents' RTT with an empty bottleneck: the first sender alone, without congestion
    control, at CALIBRATION_SHARE of the line rate for CALIBRATION_S (the port is not slowed)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    log = work_dir / "sender0.jsonl"
    pps = settings.line_rate_pps * CALIBRATION_SHARE
    with _Agents(work_dir) as agents:
        receiver = _start_receiver(agents, setup, work_dir / "receiver.jsonl")
        args = _sender_args(
            setup, settings, setup.senders[0], 0, cc="none", pps=pps, seconds=CALIBRATION_S, log=log
        )
        sender = agents.start("sender0", setup.senders[0], args)
        try:
            sender.proc.wait(timeout=CALIBRATION_S + READY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise IncastError(f"the calibration sender did not finish: {_tail(sender.log)}") from None
        agents.stop([receiver])
    with open(log) as lines:
        rtts = [int(json.loads(line)["rtt_ns"]) / 1000 for line in lines]
    if not rtts:
        raise IncastError(f"the calibration flow got no ACK: {_tail(sender.log)}")
    return RttStats(len(rtts), min(rtts), percentile(rtts, 50), percentile(rtts, 90))


# -- the numbers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderCounts:
    sent: int
    acks: int
    nacks: int
    retransmits: int
    delivered: int
    """Packets delivered in order over the measured window."""


@dataclass(frozen=True)
class IncastOutcome:
    """The reported numbers of one run (docs/hpcc.md defines each)."""

    cc: str
    seconds: float
    """The measured window: first data packet at the receiver to the senders' stop."""
    join_s: float | None
    """When the last sender's first packet arrived, from the start of the window."""
    buffer_bytes: int
    queue_int: QueueSummary | None
    """The bottleneck queue as INT saw it, over the packets of the window."""
    queue_bmv2: QueueSummary | None
    """The bottleneck's byte-queue register, sampled every ``sample_interval_s``."""
    goodput_share: float
    """Packets delivered in order / what the bottleneck carries in the window."""
    busy_share: float
    """Every data packet that reached the receiver (duplicates too) / the same."""
    fairness: float
    """Jain's index of the senders' in-order packets from the join to the stop."""
    fairness_before: float | None
    """The same for the senders before the join (all but the last), from the start to the join."""
    windowed_fairness: tuple[float, float] | None
    """Median and minimum of Jain's index over the windows of ``window_s`` after the join."""
    convergence_s: float | None
    """Time from the join until windows of ``window_s`` stay fair (None: never in the run)."""
    senders: dict[str, SenderCounts]
    rates: list[RateSample] = field(repr=False)
    """Per-sender delivered packets/s in bins of ``bin_s``, bins ending at ns from the start (the plot)."""
    int_queue: list[tuple[int, int]] = field(repr=False)
    """(ns from the start, bytes) per packet."""
    bmv2_queue: list[tuple[int, int]] = field(repr=False)
    """(ns from the start, bytes) per sample."""

    @property
    def packets_sent(self) -> int:
        return sum(s.sent for s in self.senders.values())

    @property
    def retransmits(self) -> int:
        return sum(s.retransmits for s in self.senders.values())


def summarize(run: IncastRun) -> IncastOutcome:
    s = run.settings
    start, end = run.start_ns, run.end_ns
    keys = [str(n.ip) for n in run.setup.senders]
    window = [a for a in run.arrivals if start <= a.t_ns < end]
    delivered = group_times([(a.sender, a.t_ns) for a in window if a.in_order])
    times = {k: delivered.get(k, []) for k in keys}
    seconds = (end - start) / 1e9
    total = sum(len(t) for t in times.values())
    join = run.join_ns if run.join_ns is not None and run.join_ns < end else None
    fair_from = start if join is None else join
    fairness = jain_index([count_between(times[k], fair_from, end) for k in keys])
    window_ns = round(s.window_s * 1e9)
    convergence = fairness_before = windowed = None
    if join is not None:
        fairness_before = jain_index([count_between(times[k], start, join) for k in keys[:-1]])
        series = fairness_series(window_rates(times, join, end, window_ns, round(s.bin_s * 1e9)), keys)
        if series:
            values = [j for _, j in series]
            windowed = (percentile(values, 50), min(values))
        found = convergence_ns(series, join, window_ns, s.fair_threshold, round(s.hold_s * 1e9))
        convergence = None if found is None else found / 1e9
    bin_ns = round(s.bin_s * 1e9)
    int_queue = [(a.t_ns - start, a.queue_bytes) for a in window if a.queue_bytes is not None]
    bmv2_queue = [(t - start, v) for t, v in run.bmv2_queue if start <= t < end]
    counts = {}
    for k in keys:
        summary = run.senders.get(k, {})
        counts[k] = SenderCounts(
            sent=int(summary.get("packets_sent", 0)),
            acks=int(summary.get("acks", 0)),
            nacks=int(summary.get("nacks", 0)),
            retransmits=int(summary.get("retransmits", 0)),
            delivered=len(times[k]),
        )
    return IncastOutcome(
        cc=run.cc,
        seconds=seconds,
        join_s=None if join is None else (join - start) / 1e9,
        buffer_bytes=s.buffer_bytes,
        queue_int=QueueSummary.of([q for _, q in int_queue]) if int_queue else None,
        queue_bmv2=QueueSummary.of([q for _, q in bmv2_queue]) if bmv2_queue else None,
        goodput_share=goodput_share(total, seconds, s.line_rate_pps),
        busy_share=goodput_share(len(window), seconds, s.line_rate_pps),
        fairness=fairness,
        fairness_before=fairness_before,
        windowed_fairness=windowed,
        convergence_s=convergence,
        senders=counts,
        rates=[
            RateSample(r.end_ns - start, r.rates) for r in window_rates(times, start, end, bin_ns, bin_ns)
        ],
        int_queue=int_queue,
        bmv2_queue=bmv2_queue,
    )


# -- no CC against HPCC ----------------------------------------------------------------------

P99_RATIO_TARGET = 0.1
GOODPUT_TARGET = 0.9
FAIRNESS_TARGET = 0.95


@dataclass
class Comparison:
    """The same incast once per congestion-control mode, on one fabric."""

    settings: IncastSettings
    """As run: ``base_rtt_us`` is the measured one when it was measured."""
    setup: IncastSetup
    rtt: RttStats | None
    """The calibration, when T was measured."""
    runs: dict[str, IncastRun] = field(default_factory=dict)
    outcomes: dict[str, IncastOutcome] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """What says the experiment itself did not work (not whether the targets were met)."""
        out = []
        for cc, o in self.outcomes.items():
            silent = [k for k, c in o.senders.items() if c.delivered == 0]
            if silent:
                out.append(f"{cc}: nothing delivered in order from {', '.join(silent)}")
            if o.queue_int is None:
                out.append(f"{cc}: no data packet carried INT from the bottleneck")
            if o.queue_bmv2 is None:
                out.append(f"{cc}: no reading of the bottleneck's queue from bmv2")
            if o.join_s is None:
                out.append(f"{cc}: the joining sender's packets never arrived")
        return out


@dataclass(frozen=True)
class Target:
    what: str
    value: float
    goal: str
    met: bool


def queue_ratio(comparison: Comparison, source: str) -> float:
    """HPCC's p99 queue over no-CC's, each no more than the buffer holds (``source``: int|bmv2)."""
    summaries = []
    for cc in ("hpcc", "none"):
        o = comparison.outcomes.get(cc)
        q = None if o is None else (o.queue_int if source == "int" else o.queue_bmv2)
        if o is None or q is None:
            return math.nan
        summaries.append(min(q.p99, o.buffer_bytes))
    return ratio(summaries[0], summaries[1])


def targets(comparison: Comparison) -> list[Target]:
    """The experiment's targets, measured (HPCC's numbers against no CC's)."""
    out = []
    for source, label in (("int", "INT"), ("bmv2", "bmv2")):
        r = queue_ratio(comparison, source)
        out.append(
            Target(
                f"HPCC p99 queue / no CC's ({label})", r, f"<= {P99_RATIO_TARGET:g}", r <= P99_RATIO_TARGET
            )
        )
    hpcc = comparison.outcomes.get("hpcc")
    if hpcc is not None:
        g, j = hpcc.goodput_share, hpcc.fairness
        out.append(Target("HPCC goodput / bottleneck", g, f">= {GOODPUT_TARGET:.0%}", g >= GOODPUT_TARGET))
        out.append(
            Target("HPCC Jain fairness after the join", j, f">= {FAIRNESS_TARGET}", j >= FAIRNESS_TARGET)
        )
    return out


def compare(
    emulation: Emulation,
    settings: IncastSettings,
    work_dir: Path,
    *,
    modes: Sequence[str] = CC_MODES,
    measure_base_rtt: bool = True,
    on_run: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> Comparison:
    """Calibrate T (unless told not to), then one run per mode; logs under ``work_dir/<mode>``.

    ``on_run`` is told each step's name ("rtt", then each mode) as it starts. Blocks for the
    whole experiment; raises IncastError or ValueError (a fabric that cannot give the incast).
    """
    setup = incast_setup(emulation, settings.senders)
    rtt = None
    if measure_base_rtt:
        if on_run is not None:
            on_run("rtt")
        rtt = measure_rtt(setup, settings, work_dir / "rtt")
        settings = replace(settings, base_rtt_us=rtt.base_rtt_us)
    comparison = Comparison(settings, setup, rtt)
    for cc in modes:
        if on_run is not None:
            on_run(cc)
        run = run_incast(emulation, setup, settings, cc, work_dir / cc, stop)
        comparison.runs[cc] = run
        comparison.outcomes[cc] = summarize(run)
    return comparison

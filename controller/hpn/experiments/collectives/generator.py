"""The collective traffic generator: every rank of every job, over the hosts' NICs, in one loop.

Sockets are opened inside the hosts' namespaces (hpn.emulation.traffic) and served by one
thread: per NIC one socket on the RoCEv2 port (data in, ACKs in and out), per queue pair
one socket bound to its source port, pinned to its NIC port (its plane) and connected to
the peer's RoCEv2 port. Data packets are hpn.hpcc's (BTH with the queue pair's QP and
PSN, sequence in bytes), so a switch hashes and stamps them as any RoCEv2 packet.

Each queue pair is an hpn.hpcc `SenderFlow` (pacing at the NIC rate, and in the acked
modes HPCC or no CC, go-back-N and a retransmission timeout) whose size grows as its rank
posts a step's packets; each NIC port also paces the queue pairs sent on it together at
the NIC rate, round robin, as an RNIC shares its port. The transports (`Transport.cc`):

- `paced`: no ACKs. The fabric is taken as lossless (deep switch queues stand for PFC);
  a lost packet stalls its rank and the run ends at its timeout, incomplete;
- `none` / `hpcc`: the HPCC agent's protocol: the receiver (hpn.hpcc's `Receiver`) ACKs
  every packet with its INT stack; `hpcc` runs HPCC's rate control on it.

Delivery is counted per queue pair by packet index, in any order (a rank needs all of a
step's packets, not their order), so per-packet spray is measured as a receiver that
places data by address would see it; the acked modes' go-back-N still reorders badly.
A rank posts step k + 1 when every queue pair into it has delivered its step-k packets.
Nothing here reads switch counters or shapes queues (see `run`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hpn.emulation.traffic import EmulatedNic, open_socket
from hpn.experiments.collectives.program import CollectivePlan, QueuePair, RankProgram
from hpn.experiments.collectives.wire import DataTemplate, peek_data
from hpn.hpcc.config import AgentSettings
from hpn.hpcc.flow import SenderFlow
from hpn.hpcc.messages import Ack, AckKind, DataPacket, decode_message, frame_bytes
from hpn.hpcc.pacing import tx_time_ns
from hpn.hpcc.receiver import Receiver
from hpn.telemetry import ROCEV2_UDP_PORT

TRANSPORTS = ("paced", "none", "hpcc")
SOCKET_BUFFER_BYTES = 1 << 22
CATCH_UP_PACKETS = 4
"""Packets a NIC port may send back to back to make up for a late wake-up."""
IDLE_WAIT_NS = 20_000_000
"""The longest the loop sleeps with nothing due: how often it looks at `stop` and the deadline."""


@dataclass(frozen=True)
class Transport:
    """How queue pairs send: the NIC port's rate, the protocol, and the run's bound."""

    line_rate_pps: float = 300.0
    """Packets/s of one NIC port: the emulated stand-in for `nic_gbps`."""
    nic_gbps: int = 200
    cc: str = "paced"
    base_rtt_us: float = 4000.0
    """HPCC's T (only `hpcc`)."""
    timeout_s: float = 120.0
    """A run that has not completed by then stops, incomplete."""

    def __post_init__(self) -> None:
        if self.cc not in TRANSPORTS:
            raise ValueError(f"cc must be one of {', '.join(TRANSPORTS)}, not {self.cc!r}")
        if self.line_rate_pps <= 0 or self.timeout_s <= 0:
            raise ValueError("line_rate_pps and timeout_s must be positive")

    @property
    def acked(self) -> bool:
        return self.cc != "paced"

    def agent(self, payload_bytes: int) -> AgentSettings:
        return AgentSettings(
            nic_gbps=self.nic_gbps,
            line_rate_pps=self.line_rate_pps,
            payload_bytes=payload_bytes,
            cc="hpcc" if self.cc == "hpcc" else "none",
            base_rtt_us=self.base_rtt_us,
        )


@dataclass
class QpCounts:
    """What one queue pair did."""

    qp: QueuePair
    sport: int
    sent: int = 0  # packets, retransmissions included
    delivered: int = 0  # distinct packets
    duplicates: int = 0
    retransmits: int = 0


@dataclass
class RankTimes:
    program: RankProgram
    step_done_ns: list[int] = field(default_factory=list)  # since the start, per step completed

    @property
    def done(self) -> bool:
        return len(self.step_done_ns) == len(self.program.steps)


@dataclass
class GeneratorRun:
    """Times (ns since the common start) and counts of one run of the generator."""

    plan: CollectivePlan
    transport: Transport
    ranks: list[RankTimes]
    qps: list[QpCounts]
    seconds: float
    stopped: bool  # `stop` was set before the end

    def job_done_ns(self, job: str) -> int | None:
        """When the job's last rank finished its last step (None: it did not)."""
        times = [r for r in self.ranks if r.program.job == job]
        if not all(r.done for r in times):
            return None
        return max((r.step_done_ns[-1] for r in times if r.step_done_ns), default=0)

    def stalls(self) -> list[str]:
        """Why the unfinished ranks wait: the queue pairs short of their step's packets."""
        out = []
        for r in self.ranks:
            if r.done:
                continue
            step = r.program.steps[len(r.step_done_ns)]
            short = [
                f"qp {self.qps[i].qp.qpn} {self.qps[i].delivered}/{need}"
                for i, need in step.awaits
                if self.qps[i].delivered < need
            ]
            p = r.program
            where = f"{p.job} rail {p.rail} rank {p.rank} ({p.host}) step {len(r.step_done_ns)}"
            out.append(f"{where}: {', '.join(short)}")
        return out


class _Qp:
    def __init__(self, qp: QueuePair, sport: int, flow: SenderFlow, sock: socket.socket) -> None:
        self.qp = qp
        self.flow = flow
        self.sock = sock
        self.counts = QpCounts(qp, sport)
        self.prefix = 0  # packets delivered in order from the first
        self.beyond: set[int] = set()
        self.posted = 0  # bytes
        self.template = DataTemplate(qp.qpn, flow.config.payload_bytes)

    def post(self, packets: int, payload_bytes: int) -> None:
        self.posted += packets * payload_bytes
        self.flow.config = dataclasses.replace(self.flow.config, size_bytes=self.posted)

    def deliver(self, index: int) -> bool:
        """Packet `index` arrived; True when it was new."""
        if index < self.prefix or index in self.beyond:
            self.counts.duplicates += 1
            return False
        self.beyond.add(index)
        while self.prefix in self.beyond:
            self.beyond.discard(self.prefix)
            self.prefix += 1
        self.counts.delivered += 1
        return True


class _Port:
    """One NIC port: the queue pairs sent on it, paced together at the line rate.

    A late loop (a busy machine) may catch up by at most `CATCH_UP_PACKETS` back to back, so
    the port keeps its rate on average without bursting after a long stall.
    """

    def __init__(self, tx_ns: int, now_ns: int) -> None:
        self.tx_ns = tx_ns
        self.next_ns = now_ns
        self.qps: list[_Qp] = []
        self.next = 0  # round robin

    def wait_ns(self, now_ns: int) -> int:
        return max(0, self.next_ns - now_ns)

    def sent(self, now_ns: int) -> None:
        self.next_ns = max(self.next_ns, now_ns - CATCH_UP_PACKETS * self.tx_ns) + self.tx_ns


class Generator:
    """Sockets for one plan; `run` sends every job's collective once. Use with `with`."""

    def __init__(
        self,
        plan: CollectivePlan,
        nics: Mapping[tuple[str, int], EmulatedNic],
        sports: tuple[int, ...],
        transport: Transport,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if len(sports) != len(plan.qps):
            raise ValueError(f"{len(sports)} source ports for {len(plan.qps)} queue pairs")
        if ROCEV2_UDP_PORT in sports:
            raise ValueError(f"a source port cannot be the RoCEv2 port {ROCEV2_UDP_PORT}")
        self.plan = plan
        self.nics = nics
        self.sports = sports
        self.transport = transport
        self.clock = clock
        self.agent = transport.agent(plan.payload_bytes)
        self.frame_bytes = frame_bytes(plan.payload_bytes)
        self._rx: dict[int, tuple[socket.socket, Receiver]] = {}  # fileno -> NIC socket
        self._data: list[socket.socket] = []
        for q in plan.qps:
            for end in (q.src, q.dst):
                if (end, q.rail) not in nics:
                    raise ValueError(f"no NIC {end}/nic{q.rail} in the emulation")
            if len(nics[(q.src, q.rail)].ports) <= q.plane:
                raise ValueError(f"{nics[(q.src, q.rail)]} has no port {q.plane}")

    def __enter__(self) -> Generator:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _open(self) -> None:
        used = {(q.src, q.rail) for q in self.plan.qps} | {(q.dst, q.rail) for q in self.plan.qps}
        for key in sorted(used):
            nic = self.nics[key]
            sock = open_socket(nic.netns, socket.SOCK_DGRAM)
            self._rx[sock.fileno()] = (sock, Receiver(sock))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER_BYTES)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER_BYTES)
            sock.bind((str(nic.ip), ROCEV2_UDP_PORT))
            sock.setblocking(False)
        for q, sport in zip(self.plan.qps, self.sports, strict=True):
            src, dst = self.nics[(q.src, q.rail)], self.nics[(q.dst, q.rail)]
            sock = open_socket(src.netns, socket.SOCK_DGRAM, device=src.ports[q.plane])
            self._data.append(sock)
            # two queue pairs of one NIC may draw one port: they only send from it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER_BYTES)
            sock.bind((str(src.ip), sport))
            sock.connect((str(dst.ip), ROCEV2_UDP_PORT))
            sock.setblocking(False)

    def close(self) -> None:
        for sock in [*self._data, *(s for s, _ in self._rx.values())]:
            sock.close()
        self._data.clear()
        self._rx.clear()

    def run(self, stop: threading.Event | None = None) -> GeneratorRun:
        """Every job's collective, all starting together; returns when all completed, at the
        transport's timeout, or when `stop` is set."""
        return _Loop(self, stop).run()


class _Loop:
    """One run's state: queue pairs, ports, ranks; driven by `run`."""

    def __init__(self, gen: Generator, stop: threading.Event | None) -> None:
        self.gen = gen
        self.stop = stop
        plan = gen.plan
        start = gen.clock()
        config = gen.agent.flow_config()
        config = dataclasses.replace(config, size_bytes=0)
        if not gen.transport.acked:
            config = dataclasses.replace(config, rto_ns=1 << 62)  # nothing acknowledges: never go back
        self.qps = [
            _Qp(q, sport, SenderFlow(config, start), sock)
            for q, sport, sock in zip(plan.qps, gen.sports, gen._data, strict=True)
        ]
        self.ports: dict[tuple[str, int, int], _Port] = {}
        for qp in self.qps:
            key = (qp.qp.src, qp.qp.rail, qp.qp.plane)
            tx_ns = tx_time_ns(gen.frame_bytes, config.line_rate_bps)
            port = self.ports.setdefault(key, _Port(tx_ns, start))
            port.qps.append(qp)
        self.ranks = [RankTimes(p) for p in plan.programs]
        self.posted = [0] * len(self.ranks)  # steps whose sends each rank has posted
        self.waiting: dict[int, list[int]] = {}  # queue pair -> ranks it delivers to
        for i, r in enumerate(self.ranks):
            for step in r.program.steps:
                for qi, _ in step.awaits:
                    if i not in self.waiting.setdefault(qi, []):
                        self.waiting[qi].append(i)
        self.t0 = start

    def run(self) -> GeneratorRun:
        gen = self.gen
        self.t0 = gen.clock()
        deadline = self.t0 + round(gen.transport.timeout_s * 1e9)
        for i in range(len(self.ranks)):
            self._advance(i, self.t0)
        socks = [s for s, _ in gen._rx.values()]
        stopped = False
        while not all(r.done for r in self.ranks):
            if self.stop is not None and self.stop.is_set():
                stopped = True
                break
            now = gen.clock()
            if now >= deadline:
                break
            due = self._send(now)
            wait = max(0, min(due, deadline) - gen.clock())
            ready, _, _ = select.select(socks, [], [], wait / 1e9)
            for sock in ready:
                self._drain(sock)
        end = gen.clock()
        for qp in self.qps:
            qp.counts.retransmits = qp.flow.retransmits
        return GeneratorRun(
            gen.plan, gen.transport, self.ranks, [q.counts for q in self.qps], (end - self.t0) / 1e9, stopped
        )

    # -- sending ----------------------------------------------------------------------
    def _send(self, now: int) -> int:
        """Send what is due on every port; when the next packet is due (clock time)."""
        due = now + IDLE_WAIT_NS
        for port in self.ports.values():
            while True:
                wait = port.wait_ns(now)
                if wait > 0:
                    due = min(due, now + wait)
                    break
                qp, soonest = self._pick(port, now)
                if qp is None:
                    if soonest is not None:
                        due = min(due, now + soonest)
                    break
                self._send_one(qp, now)
                port.sent(now)
        if self.gen.transport.acked:
            for qp in self.qps:
                qp.flow.on_timer(now)
                timer = qp.flow.timer_ns(now)
                if timer is not None:
                    due = min(due, now + timer)
        return due

    def _pick(self, port: _Port, now: int) -> tuple[_Qp | None, int | None]:
        """The next queue pair (round robin) that may send now, else how soon one may."""
        soonest: int | None = None
        count = len(port.qps)
        for j in range(count):
            qp = port.qps[(port.next + j) % count]
            # paced: the port paces; acked: also the queue pair's own rate (HPCC's)
            wait = qp.flow.wait_ns(now) if self.gen.transport.acked else (0 if qp.flow.has_data() else None)
            if wait is None:
                continue
            if wait == 0:
                port.next = (port.next + j + 1) % count
                return qp, None
            soonest = wait if soonest is None else min(soonest, wait)
        return None, soonest

    def _send_one(self, qp: _Qp, now: int) -> None:
        payload = self.gen.plan.payload_bytes
        seq = qp.flow.next_seq(now)
        with contextlib.suppress(OSError):  # a full buffer: a lost packet
            qp.sock.send(qp.template.packet(seq // payload, seq, now))
        qp.counts.sent += 1

    # -- receiving ----------------------------------------------------------------------
    def _drain(self, sock: socket.socket) -> None:
        receiver = self.gen._rx[sock.fileno()][1]
        with contextlib.suppress(BlockingIOError):
            while True:
                payload, (peer, _) = sock.recvfrom(65535)
                now = self.gen.clock()
                if not self.gen.transport.acked:  # only data arrives: read it without its stack
                    peeked = peek_data(payload)
                    if peeked is not None:
                        self._delivered(peeked[0], peeked[1], now)
                    continue
                message = decode_message(payload)
                if isinstance(message, DataPacket):
                    self._on_data(message, peer, receiver, now)
                elif isinstance(message, Ack):
                    self._on_ack(message, now)

    def _qp(self, qpn: int) -> _Qp | None:
        return self.qps[qpn - 1] if 1 <= qpn <= len(self.qps) else None

    def _on_data(self, data: DataPacket, peer: str, receiver: Receiver, now: int) -> None:
        if self._qp(data.qpn) is None:
            return
        ack = receiver.answer(data, peer, now)
        if ack is not None:
            with contextlib.suppress(OSError):
                receiver.sock.sendto(ack.encode(), (peer, ROCEV2_UDP_PORT))
        self._delivered(data.qpn, data.seq, now)

    def _delivered(self, qpn: int, seq: int, now: int) -> None:
        qp = self._qp(qpn)
        if qp is not None and qp.deliver(seq // self.gen.plan.payload_bytes):
            for i in self.waiting.get(qp.qp.index, ()):
                self._advance(i, now)

    def _on_ack(self, ack: Ack, now: int) -> None:
        qp = self._qp(ack.qpn)
        if qp is not None:
            qp.flow.on_ack(ack.ack_seq, nack=ack.kind is AckKind.NACK, stack=ack.stack, now_ns=now)

    def _advance(self, i: int, now: int) -> None:
        """Rank `i` moves on through every step whose packets have all arrived."""
        rank = self.ranks[i]
        steps = rank.program.steps
        while len(rank.step_done_ns) < len(steps):
            k = len(rank.step_done_ns)
            step = steps[k]
            if self.posted[i] == k:  # post step k's sends once
                for qi, count in step.sends:
                    self.qps[qi].post(count, self.gen.plan.payload_bytes)
                self.posted[i] = k + 1
            if any(self.qps[qi].prefix < need for qi, need in step.awaits):
                return
            rank.step_done_ns.append(now - self.t0)

"""Traffic between emulated hosts, sent and received by this very process.

Sockets are opened inside the host namespaces (setns for the opening thread
only; a socket stays in the namespace it was made in), so checks need no
process per flow, nothing forks, and everything has a timeout. Which NIC port
a packet leaves on is the host kernel's choice, as for an RNIC bond (see
hpn.emulation.hosts), unless a flow is pinned to a port with SO_BINDTODEVICE.

- `ping`: ICMP echo between NIC pairs;
- `FlowSet`: paced UDP flows with sequence numbers and send times, optionally
  RoCEv2 packets asking switches for INT (the receiver decodes the stack with
  hpn.telemetry);
- `BackgroundFlows`: the same, in a thread, for as long as a test needs;
- `tcp_transfer`: one TCP connection moving a buffer;
- `Capture`: raw frames seen on switch or host ports.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from types import TracebackType

from hpn.emulation.layout import Layout
from hpn.netlab.netns import entered, raw_socket
from hpn.telemetry import ROCEV2_UDP_PORT, Bth, IntDecodeError, IntStack, decode_int_payload, fill_payload
from hpn.telemetry.packets import internet_checksum

MAGIC = b"HPNT"
HEADER = struct.Struct("!4sIIQ")  # magic, flow id, sequence number, send time (ns, CLOCK_MONOTONIC)
ICMP_ECHO_REQUEST = 8
ICMP_ECHO_REPLY = 0
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
PACKET_OUTGOING = 4


@dataclass(frozen=True)
class EmulatedNic:
    """One NIC of an emulated host, as traffic sees it."""

    host: str
    rail: int
    segment: int
    ip: IPv4Address
    netns: str
    ports: tuple[str, ...]  # interface of NIC port 0, 1 in the host namespace

    def __str__(self) -> str:
        return f"{self.host}/nic{self.rail}"


def fabric_nics(layout: Layout) -> dict[tuple[str, int], EmulatedNic]:
    out = {}
    for host in layout.fabric.hosts:
        ports = layout.host_ports(host)
        for nic in host.nics:
            out[(host.name, nic.rail)] = EmulatedNic(
                host.name,
                nic.rail,
                host.segment,
                nic.ip,
                layout.host_namespace(host.name),
                tuple(ports[(nic.rail, p)] for p in (0, 1) if (nic.rail, p) in ports),
            )
    return out


def same_rail_pairs(
    nics: Iterable[EmulatedNic], rail: int | None = None, cross_segment: bool = False
) -> list[tuple[EmulatedNic, EmulatedNic]]:
    """Ordered pairs of NICs on the same rail (optionally only across segments)."""
    listed = [n for n in nics if rail is None or n.rail == rail]
    return [
        (a, b)
        for a, b in itertools.permutations(listed, 2)
        if a.rail == b.rail and (not cross_segment or a.segment != b.segment)
    ]


def open_socket(netns: str, kind: int, proto: int = 0, device: str | None = None) -> socket.socket:
    """An AF_INET socket created inside `netns` (optionally bound to one interface)."""
    with entered(netns):
        sock = socket.socket(socket.AF_INET, kind, proto)
    if device is not None:
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, device.encode())
    return sock


def _echo(ident: int, seq: int) -> bytes:
    body = struct.pack("!Q", time.monotonic_ns()) + b"hpn-ping"
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, seq)
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, internet_checksum(header + body), ident, seq) + body


def ping(
    pairs: Sequence[tuple[EmulatedNic, EmulatedNic]], timeout: float = 3.0, resend: float = 0.5
) -> dict[tuple[EmulatedNic, EmulatedNic], float | None]:
    """Round-trip time of one ICMP echo per pair (None: no answer within `timeout`).

    Unanswered pairs are asked again every `resend` seconds: the result says
    whether the pair is reachable, not whether a single packet was lost.
    """
    socks: dict[EmulatedNic, socket.socket] = {}
    ident = os.getpid() & 0xFFFF
    result: dict[tuple[EmulatedNic, EmulatedNic], float | None] = {p: None for p in pairs}
    sent_at: dict[int, float] = {}
    by_seq = {seq: pair for seq, pair in enumerate(pairs, start=1)}
    try:
        for src, _ in pairs:
            if src not in socks:
                socks[src] = open_socket(src.netns, socket.SOCK_RAW, socket.IPPROTO_ICMP)
                socks[src].bind((str(src.ip), 0))
                socks[src].setblocking(False)
        deadline = time.monotonic() + timeout
        next_send = time.monotonic()
        while any(v is None for v in result.values()):
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= next_send:
                for seq, (src, dst) in by_seq.items():
                    if result[(src, dst)] is None:
                        sent_at[seq] = time.monotonic()
                        with contextlib.suppress(OSError):  # an unreachable route: try again later
                            socks[src].sendto(_echo(ident, seq), (str(dst.ip), 0))
                next_send = now + resend
            ready, _, _ = select.select(
                list(socks.values()), [], [], max(0.0, min(next_send, deadline) - now)
            )
            for sock in ready:
                with contextlib.suppress(BlockingIOError):
                    while True:
                        data, (addr, _) = sock.recvfrom(2048)
                        ihl = (data[0] & 0xF) * 4
                        kind, _, _, rid, seq = struct.unpack_from("!BBHHH", data, ihl)
                        pair = by_seq.get(seq)
                        matches = (
                            kind == ICMP_ECHO_REPLY and rid == ident and pair and str(pair[1].ip) == addr
                        )
                        if matches and pair and result[pair] is None:
                            result[pair] = time.monotonic() - sent_at[seq]
    finally:
        for sock in socks.values():
            sock.close()
    return result


# -- UDP flows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    """One UDP flow; `port` pins it to a NIC port.

    `int_probe` sends RoCEv2 packets (to UDP port 4791) whose BTH asks switches to fill
    an INT stack.
    """

    src: EmulatedNic
    dst: EmulatedNic
    sport: int
    dport: int = 5001
    port: int | None = None
    int_probe: bool = False

    def __post_init__(self) -> None:
        if self.int_probe and self.dport != ROCEV2_UDP_PORT:
            raise ValueError(f"INT probes are RoCEv2: dport must be {ROCEV2_UDP_PORT}, not {self.dport}")

    def __str__(self) -> str:
        pinned = "" if self.port is None else f" via p{self.port}"
        return f"{self.src}:{self.sport} -> {self.dst}:{self.dport}{pinned}"


@dataclass
class FlowLog:
    """What happened to one flow: send time per sequence number, receive times, INT stacks."""

    flow: Flow
    sent: list[float] = field(default_factory=list)  # index = sequence number
    received: dict[int, float] = field(default_factory=dict)
    stacks: dict[int, IntStack] = field(default_factory=dict)
    latest: int = -1  # highest sequence number received

    @property
    def lost(self) -> list[int]:
        return [seq for seq in range(len(self.sent)) if seq not in self.received]

    def recovery_after(self, t0: float, grace: float, until: float = float("inf")) -> float | None:
        """Seconds from `t0` until this flow delivered again, after an outage that began by `until`.

        The outage is the run of consecutive lost packets starting with the first
        one sent in [t0 - grace, until); later, separate losses are not part of
        it. 0.0 when there was no such loss; None when nothing after the run arrived.
        """
        lost = set(self.lost)
        first = next((s for s in sorted(lost) if t0 - grace <= self.sent[s] < until), None)
        if first is None:
            return 0.0
        seq = first
        while seq in lost:
            seq += 1
        return self.received[seq] - t0 if seq in self.received else None


class FlowSet:
    """Sockets for a set of UDP flows; `run` paces them and collects what arrives."""

    def __init__(self, flows: Sequence[Flow], size: int = 200) -> None:
        if size < HEADER.size:
            raise ValueError(f"packets must hold the {HEADER.size}-byte header")
        self.flows = list(flows)
        self.size = size
        self.logs = [FlowLog(f) for f in self.flows]
        self.cond = threading.Condition()  # notified on every packet received
        self._senders: list[socket.socket] = []
        self._receivers: dict[tuple[EmulatedNic, int], socket.socket] = {}
        try:
            for flow in self.flows:
                device = None if flow.port is None else flow.src.ports[flow.port]
                s = open_socket(flow.src.netns, socket.SOCK_DGRAM, device=device)
                s.bind((str(flow.src.ip), flow.sport))
                s.connect((str(flow.dst.ip), flow.dport))
                s.setblocking(False)
                self._senders.append(s)
                key = (flow.dst, flow.dport)
                if key not in self._receivers:
                    r = open_socket(flow.dst.netns, socket.SOCK_DGRAM)
                    r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
                    r.bind((str(flow.dst.ip), flow.dport))
                    r.setblocking(False)
                    self._receivers[key] = r
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for s in [*self._senders, *self._receivers.values()]:
            s.close()
        self._senders.clear()
        self._receivers.clear()

    def __enter__(self) -> FlowSet:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(self, i: int) -> None:
        log = self.logs[i]
        seq = len(log.sent)
        now = time.monotonic_ns()
        data = HEADER.pack(MAGIC, i, seq, now)
        data += bytes(self.size - len(data))
        if log.flow.int_probe:
            data = fill_payload(Bth(dest_qp=i, psn=seq & 0xFFFFFF), data)
        with self.cond:
            log.sent.append(now / 1e9)
        with contextlib.suppress(OSError):  # no route or a full buffer: that is a lost packet
            self._senders[i].send(data)

    def _drain(self, timeout: float) -> None:
        ready, _, _ = select.select(list(self._receivers.values()), [], [], max(0.0, timeout))
        now = time.monotonic()
        for sock in ready:
            with contextlib.suppress(BlockingIOError):
                while True:
                    self._record(sock.recv(65535), now)

    def _record(self, data: bytes, now: float) -> None:
        stack = None
        if data[:4] != MAGIC:
            try:
                probe = decode_int_payload(data)
            except IntDecodeError:
                return
            stack, data = probe.stack, probe.rest
        if len(data) < HEADER.size:
            return
        magic, i, seq, _ = HEADER.unpack_from(data)
        if magic != MAGIC or i >= len(self.logs):
            return
        log = self.logs[i]
        with self.cond:
            log.received.setdefault(seq, now)
            log.latest = max(log.latest, seq)
            if stack is not None:
                log.stacks[seq] = stack
            self.cond.notify_all()

    def complete(self) -> bool:
        return all(len(log.received) == len(log.sent) for log in self.logs)

    def run(
        self,
        rounds: int,
        interval: float,
        burst: int = 1,
        drain_timeout: float = 2.0,
        stop: threading.Event | None = None,
    ) -> list[FlowLog]:
        """Send `burst` packets of every flow per round, rounds `interval` apart; then wait for the rest.

        Pacing is by the clock (select with a timeout, receiving meanwhile); it
        ends early when `stop` is set. Returns the logs once everything sent
        has arrived or `drain_timeout` passed after the last round.
        """
        next_round = time.monotonic()
        done = 0
        while done < rounds and not (stop is not None and stop.is_set()):
            now = time.monotonic()
            if now >= next_round:
                for _ in range(burst):
                    for i in range(len(self.flows)):
                        self._send(i)
                done += 1
                next_round += interval
                if next_round < now:  # fell behind (a busy machine): do not burst to catch up
                    next_round = now + interval
            self._drain(next_round - time.monotonic())
        deadline = time.monotonic() + drain_timeout
        while not self.complete() and time.monotonic() < deadline:
            self._drain(min(0.05, deadline - time.monotonic()))
        return self.logs


class BackgroundFlows:
    """A FlowSet running in a thread, one packet per flow every `interval`, until stopped."""

    def __init__(self, flows: Sequence[Flow], interval: float, size: int = 200) -> None:
        self.interval = interval
        self.set = FlowSet(flows, size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hpn-background-flows", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.set.run(rounds=1 << 62, interval=self.interval, stop=self._stop, drain_timeout=1.0)
        except BaseException as exc:
            self._error = exc

    def __enter__(self) -> BackgroundFlows:
        self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> list[FlowLog]:
        self._stop.set()
        self._thread.join(timeout=10.0)
        self.set.close()
        if self._error is not None:
            raise self._error
        return self.set.logs

    @property
    def logs(self) -> list[FlowLog]:
        return self.set.logs

    def wait_delivering(self, after: float, timeout: float) -> bool:
        """Wait until every flow delivered a packet sent at or after `after` (False on timeout)."""

        def all_delivering() -> bool:
            return all(log.latest >= 0 and log.sent[log.latest] >= after for log in self.set.logs)

        with self.set.cond:
            return self.set.cond.wait_for(all_delivering, timeout)

    def run_for(self, seconds: float) -> None:
        """Let the traffic run `seconds` longer (a measurement period, not a synchronisation)."""
        self._stop.wait(seconds)


# -- TCP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TcpResult:
    src: EmulatedNic
    dst: EmulatedNic
    sent: int
    received: int
    intact: bool
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.intact and self.received == self.sent


def tcp_transfer(
    src: EmulatedNic, dst: EmulatedNic, nbytes: int = 16384, port: int = 5201, timeout: float = 5.0
) -> TcpResult:
    """Connect src -> dst, send `nbytes` of a known pattern, check every byte arrives intact."""
    pattern = bytes(i % 251 for i in range(nbytes))
    started = time.monotonic()
    got = b""
    listener = open_socket(dst.netns, socket.SOCK_STREAM)
    client = open_socket(src.netns, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((str(dst.ip), port))
        listener.listen(1)
        listener.settimeout(timeout)
        client.settimeout(timeout)
        client.bind((str(src.ip), 0))
        client.connect((str(dst.ip), port))
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(timeout)
            # The whole buffer fits the socket buffers, so one thread can send, then read.
            client.sendall(pattern)
            client.shutdown(socket.SHUT_WR)
            while len(got) < nbytes:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += chunk
        error = None
    except OSError as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
        listener.close()
    return TcpResult(
        src, dst, nbytes, len(got), got == pattern[: len(got)], time.monotonic() - started, error
    )


# -- capture -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    point: str  # label of the capture point
    outgoing: bool  # sent by the port's owner (else received)
    data: bytes
    time: float


class Capture:
    """Frames seen on interfaces (AF_PACKET), collected by a thread while the block runs."""

    def __init__(self, points: dict[str, tuple[str, str]]) -> None:
        """points: label -> (namespace, interface)."""
        self.points = dict(points)
        self.frames: list[Frame] = []
        self._socks: dict[int, tuple[str, socket.socket]] = {}
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="hpn-capture", daemon=True)

    def __enter__(self) -> Capture:
        try:
            for label, (ns, iface) in self.points.items():
                sock = raw_socket(ns, iface)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
                sock.setblocking(False)
                self._socks[sock.fileno()] = (label, sock)
        except BaseException:
            self._close()
            raise
        self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=10.0)
        self._close()

    def _close(self) -> None:
        for _, sock in self._socks.values():
            sock.close()
        self._socks.clear()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _run(self) -> None:
        fds = [*self._socks, self._wake_r]
        while True:
            ready, _, _ = select.select(fds, [], [])
            now = time.monotonic()
            for fd in ready:
                if fd == self._wake_r:
                    self._read_all(now)  # what arrived before the stop
                    return
                self._read(fd, now)

    def _read_all(self, now: float) -> None:
        for fd in self._socks:
            self._read(fd, now)

    def _read(self, fd: int, now: float) -> None:
        label, sock = self._socks[fd]
        with contextlib.suppress(BlockingIOError):
            while True:
                data, addr = sock.recvfrom(65535)
                self.frames.append(Frame(label, addr[2] == PACKET_OUTGOING, data, now))

    def by_point(self) -> Iterator[tuple[str, list[Frame]]]:
        for label in self.points:
            yield label, [f for f in self.frames if f.point == label]

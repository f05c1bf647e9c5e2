"""Sender and receiver on real UDP sockets over loopback (127.0.0.x only), with and without a
relay that fills an INT hop the way a congested switch port would."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from hpn.hpcc.config import AgentSettings
from hpn.hpcc.flow import SenderFlow
from hpn.hpcc.messages import DataPacket, decode_message
from hpn.hpcc.rate_update import UpdateKind
from hpn.hpcc.receiver import Receiver
from hpn.hpcc.sender import Sender, SenderStats
from hpn.telemetry.codec import IntHop

RECEIVER, SENDER, RELAY = "127.0.0.2", "127.0.0.3", "127.0.0.4"
AGENT = [sys.executable, "-m", "hpn.hpcc"]
DEADLINE_S = 20.0
"""Upper bound on a run (a failure, not a synchronisation): flows here need well under a second."""


def udp(ip: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ip, port))
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@contextmanager
def receiving(sock: socket.socket) -> Iterator[Receiver]:
    """A receiver on an already bound socket, ACKing to the same port number."""
    stop = threading.Event()
    with sock:
        receiver = Receiver(sock, ack_port=port_of(sock))
        thread = threading.Thread(target=receiver.serve, args=(stop,), kwargs={"poll_s": 0.01}, daemon=True)
        thread.start()
        try:
            yield receiver
        finally:
            stop.set()
            thread.join(timeout=5)


class CongestedPort:
    """Forwards data to the receiver and ACKs back, writing one INT hop into each data packet:
    a 200 Gb/s port (index 3) with a standing queue of ``qlen`` 80-byte units."""

    def __init__(self, port: int, qlen: int) -> None:
        self.port, self.qlen = port, qlen
        self.sock = udp(RELAY, port)  # the port the receiver holds, on another address
        self.tx_bytes = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.sock.settimeout(0.01)
        while not self.stop.is_set():
            try:
                payload, (peer, _) = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            message = decode_message(payload)
            if isinstance(message, DataPacket):
                hop = IntHop.from_port_state(
                    gbps=200, time_ns=time.monotonic_ns(), tx_bytes=self.tx_bytes, queued_bytes=80 * self.qlen
                )
                payload = replace(message, stack=message.stack.push(hop)).encode()
                self.tx_bytes += len(payload) + 42  # the frame: Ethernet, IPv4, UDP around the payload
                self.sock.sendto(payload, (RECEIVER, self.port))
            elif peer == RECEIVER:
                self.sock.sendto(payload, (SENDER, self.port))

    def __enter__(self) -> CongestedPort:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def run_flow(port: int, settings: AgentSettings, to: str) -> tuple[Sender, SenderStats]:
    with udp(SENDER, port) as ack_sock, udp(SENDER, 0) as data_sock:
        data_sock.connect((to, port))
        sender = Sender(
            SenderFlow(settings.flow_config(), time.monotonic_ns()),
            qpn=5,
            data_sock=data_sock,
            ack_sock=ack_sock,
        )
        stats = sender.run(until_ns=time.monotonic_ns() + int(DEADLINE_S * 1e9))
    return sender, stats


def test_flow_is_delivered_and_acked_without_switches() -> None:
    sock = udp(RECEIVER, 0)
    port = port_of(sock)
    settings = AgentSettings(line_rate_pps=2000, base_rtt_us=5000, size_bytes=30_000)
    with receiving(sock) as receiver:
        sender, stats = run_flow(port, settings, RECEIVER)
    assert sender.flow.finished, stats
    assert stats.acked_bytes == 30_000
    queue = receiver.queues[(SENDER, 5)]
    assert queue.expected == 30_000
    assert stats.packets_sent >= 30 and stats.acks >= 30  # more only if loopback dropped some
    assert [s.kind for s in stats.samples[:1]] == [UpdateKind.FIRST]
    # No switch filled the stack (nhop 0): HPCC has nothing to react to and keeps the line rate.
    assert all(s.rate_bps == settings.flow_config().line_rate_bps for s in stats.samples)
    assert stats.rtts_ns and min(stats.rtts_ns) > 0


def test_congested_hop_drives_the_rate_down_to_the_minimum() -> None:
    sock = udp(RECEIVER, 0)
    port = port_of(sock)
    settings = AgentSettings(line_rate_pps=2000, base_rtt_us=5000, size_bytes=20_000)
    params = settings.hpcc_params()
    with receiving(sock) as receiver, CongestedPort(port, qlen=2000):
        sender, stats = run_flow(port, settings, RELAY)
    assert sender.flow.finished, stats
    assert receiver.queues[(RELAY, 5)].expected == 20_000
    # The queue term alone is 2000 * 80 B / W (10,960 B) = 14.6 on every sample, so U's EWMA
    # climbs from 1.0 towards 14.6 and stays above eta: each update divides the rate by
    # c = U / 0.95 > 1 until it reaches MIN_RATE (100 packets/s) and stays there.
    assert stats.samples[0].kind is UpdateKind.FIRST
    assert {s.kind for s in stats.samples[1:]} <= {UpdateKind.FULL, UpdateKind.FAST}
    rates = [s.rate_bps for s in stats.samples]
    assert rates == sorted(rates, reverse=True), rates
    assert rates[0] == params.max_rate_bps and rates[-1] == params.min_rate_bps
    assert sender.flow.pacer.rate_bps == params.min_rate_bps
    # At 100 packets/s samples are 10 ms > T apart: the last U is that sample's u alone,
    # 14.6 plus a small txRate term (one 1,096-byte packet per 10 ms is 5% of the line).
    last_u = stats.samples[-1].u
    assert last_u is not None and 14.5 < last_u < 14.8


def _bound_port(line: str) -> int:
    """The port of the receiver's "receiving on IP:PORT" line."""
    prefix = f"receiving on {RECEIVER}:"
    assert line.startswith(prefix), line
    return int(line.removeprefix(prefix))


def test_command_line_agents() -> None:
    # The receiver binds a free port itself and says which; the sender's data port is any.
    flow = ["--sport", "0", "--bytes", "20000", "--line-rate-pps", "2000", "--qpn", "3"]
    recv = subprocess.Popen(
        [*AGENT, "receive", "--ip", RECEIVER, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert recv.stderr is not None
        port = _bound_port(recv.stderr.readline())
        assert port != 0
        sent = subprocess.run(
            [*AGENT, "send", "--ip", SENDER, "--to", RECEIVER, "--port", str(port), *flow],
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
            check=True,
        )
    finally:
        recv.terminate()
        out, _ = recv.communicate(timeout=10)
    summary = json.loads(sent.stdout)
    assert summary["acked_bytes"] == 20_000
    assert summary["line_rate_bps"] == 17_536_000
    assert summary["hpcc"]["window_bytes"] == 4_384
    queues = json.loads(out)["queues"]
    assert [(q["peer"], q["qpn"], q["expected"]) for q in queues] == [(SENDER, 3, 20_000)]


def test_command_line_receiver_ends_after_its_duration() -> None:
    receive = [*AGENT, "receive", "--ip", RECEIVER, "--port", "0", "--duration", "0.2"]
    done = subprocess.run(receive, capture_output=True, text=True, timeout=DEADLINE_S, check=True)
    assert json.loads(done.stdout) == {"role": "receive", "queues": [], "started": True, "stopped_by": None}

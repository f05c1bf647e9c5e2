"""The sending end on UDP sockets: paced data packets out, ACKs in, HPCC in between.

``data_sock`` is connected to the receiver's RoCEv2 port (its local port is the flow's UDP
source port, the fabric's ECMP entropy); ``ack_sock`` is bound to this host's RoCEv2 port,
where the receiver sends its ACKs. They may be one socket. All decisions are
hpn.hpcc.flow's; this module only waits, sends, receives and records.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hpn.hpcc.flow import SenderFlow
from hpn.hpcc.messages import Ack, AckKind, DataPacket, decode_message
from hpn.hpcc.rate_update import UpdateKind
from hpn.telemetry.codec import IntStack

IDLE_POLL_NS = 50_000_000
"""How often a sender with nothing to do checks ``stop`` and its deadline."""


@dataclass(frozen=True)
class RateSample:
    """The flow's state right after one ACK."""

    t_ns: int
    ack_seq: int
    nack: bool
    kind: UpdateKind | None
    """None without congestion control."""
    rate_bps: int
    window_bytes: int
    u: float | None
    rtt_ns: int


@dataclass
class SenderStats:
    packets_sent: int = 0
    acks: int = 0
    nacks: int = 0
    retransmits: int = 0
    acked_bytes: int = 0
    started_ns: int = 0
    ended_ns: int = 0
    rtts_ns: list[int] = field(default_factory=list)
    samples: list[RateSample] = field(default_factory=list)
    """Every ACK's sample, when the sender keeps them."""


class Sender:
    def __init__(
        self,
        flow: SenderFlow,
        *,
        qpn: int,
        data_sock: socket.socket,
        ack_sock: socket.socket,
        clock: Callable[[], int] = time.monotonic_ns,
        on_sample: Callable[[RateSample], None] | None = None,
        keep_samples: bool = True,
    ) -> None:
        self.flow = flow
        self.qpn = qpn
        self.data_sock = data_sock
        self.ack_sock = ack_sock
        self.clock = clock
        self.on_sample = on_sample
        self.keep_samples = keep_samples
        self.stats = SenderStats()

    def run(self, *, until_ns: int | None = None, stop: threading.Event | None = None) -> SenderStats:
        """Send until the flow is acknowledged in full, ``until_ns`` (clock time) or ``stop``."""
        for sock in {self.data_sock, self.ack_sock}:
            sock.setblocking(False)
        self.stats.started_ns = self.clock()
        while not self.flow.finished and not (stop is not None and stop.is_set()):
            now = self.clock()
            if until_ns is not None and now >= until_ns:
                break
            self.flow.on_timer(now)
            wait = self.flow.wait_ns(now)
            if wait == 0:
                self._send(now)
                continue
            timer = self.flow.timer_ns(now)
            waits = [w for w in (wait, timer, IDLE_POLL_NS) if w is not None]
            if until_ns is not None:
                waits.append(max(0, until_ns - now))
            ready, _, _ = select.select([self.ack_sock], [], [], min(waits) / 1e9)
            if ready:
                self._drain()
        self.stats.ended_ns = self.clock()
        self.stats.retransmits = self.flow.retransmits
        self.stats.acked_bytes = self.flow.snd_una
        return self.stats

    def _send(self, now: int) -> None:
        seq = self.flow.next_seq(now)
        psn = seq // self.flow.config.payload_bytes
        packet = DataPacket(self.qpn, psn, seq, now, self.flow.config.payload_bytes, IntStack())
        with contextlib.suppress(OSError):  # a full socket buffer or no route: a lost packet
            self.data_sock.send(packet.encode())
        self.stats.packets_sent += 1

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while True:
                message = decode_message(self.ack_sock.recv(65535))
                if isinstance(message, Ack) and message.qpn == self.qpn:
                    self._on_ack(message, self.clock())

    def _on_ack(self, ack: Ack, now: int) -> None:
        nack = ack.kind is AckKind.NACK
        if nack:
            self.stats.nacks += 1
        else:
            self.stats.acks += 1
        update = self.flow.on_ack(ack.ack_seq, nack=nack, stack=ack.stack, now_ns=now)
        sample = RateSample(
            t_ns=now,
            ack_seq=ack.ack_seq,
            nack=nack,
            kind=None if update is None else update.kind,
            rate_bps=self.flow.rate_bps,
            window_bytes=self.flow.window,
            u=None if update is None else update.state.u,
            rtt_ns=now - ack.echo_ns,
        )
        self.stats.rtts_ns.append(sample.rtt_ns)
        if self.keep_samples:
            self.stats.samples.append(sample)
        if self.on_sample is not None:
            self.on_sample(sample)

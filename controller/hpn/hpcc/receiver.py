"""The receiving end: accept data in order, ACK every packet with its INT stack echoed.

As the reference's ``RdmaHw::ReceiveUdp`` and ``ReceiverCheckSeq`` with ``L2_ACK_INTERVAL 1``:
an in-order packet advances the expected sequence and is ACKed; a packet beyond it is NACKed
(go-back-N), at most once per ``nack_interval`` for the same expected sequence; a duplicate
gets no answer. Both ACK and NACK carry the data packet's INT stack back, with the BTH's echo
bit so switches leave it alone, to the sender's RoCEv2 port.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hpn.hpcc.messages import Ack, AckKind, DataPacket, decode_message
from hpn.telemetry.codec import ROCEV2_UDP_PORT, IntStack

NACK_INTERVAL_NS = 500_000
"""The reference's ``NACK Generation Interval`` default: 500 us."""


@dataclass
class ReceiveQueue:
    """One sender's queue pair at the receiver (the reference's ``RdmaRxQueuePair``)."""

    expected: int = 0
    """``ReceiverNextExpectedSeq``: bytes delivered in order."""
    nack_timer_ns: int = 0
    last_nack: int = 0
    packets: int = 0
    out_of_order: int = 0
    duplicates: int = 0

    def receive(self, seq: int, size: int, now_ns: int, nack_interval_ns: int) -> AckKind | None:
        """``ReceiverCheckSeq``: what to answer a packet of ``size`` bytes at ``seq``."""
        self.packets += 1
        if seq == self.expected:
            self.expected += size
            return AckKind.ACK
        if seq > self.expected:
            self.out_of_order += 1
            if now_ns >= self.nack_timer_ns or self.last_nack != self.expected:
                self.nack_timer_ns = now_ns + nack_interval_ns
                self.last_nack = self.expected
                return AckKind.NACK
            return None
        self.duplicates += 1
        return None


@dataclass(frozen=True)
class Arrival:
    """One data packet as it arrived, for logs and the experiment's INT queue timeline."""

    t_ns: int
    peer: str
    qpn: int
    seq: int
    payload_bytes: int
    answer: AckKind | None
    stack: IntStack


class Receiver:
    """Answers data packets arriving on ``sock`` (bound to the RoCEv2 port of this host)."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        ack_port: int = ROCEV2_UDP_PORT,
        nack_interval_ns: int = NACK_INTERVAL_NS,
        clock: Callable[[], int] = time.monotonic_ns,
        on_arrival: Callable[[Arrival], None] | None = None,
    ) -> None:
        self.sock = sock
        self.ack_port = ack_port
        self.nack_interval_ns = nack_interval_ns
        self.clock = clock
        self.on_arrival = on_arrival
        self.queues: dict[tuple[str, int], ReceiveQueue] = {}

    def answer(self, data: DataPacket, peer: str, now_ns: int) -> Ack | None:
        """Account for one data packet and make its ACK or NACK (None: no answer)."""
        queue = self.queues.setdefault((peer, data.qpn), ReceiveQueue())
        kind = queue.receive(data.seq, data.payload_bytes, now_ns, self.nack_interval_ns)
        if self.on_arrival is not None:
            self.on_arrival(Arrival(now_ns, peer, data.qpn, data.seq, data.payload_bytes, kind, data.stack))
        if kind is None:
            return None
        return Ack(data.qpn, data.psn, kind, queue.expected, data.sent_ns, data.stack)

    def serve(self, stop: threading.Event, *, until_ns: int | None = None, poll_s: float = 0.05) -> None:
        """Answer packets until ``stop`` is set or the clock reaches ``until_ns``.

        ``stop`` is checked at least every ``poll_s``.
        """
        self.sock.setblocking(False)
        while not stop.is_set():
            timeout = poll_s
            if until_ns is not None:
                left = until_ns - self.clock()
                if left <= 0:
                    break
                timeout = min(timeout, left / 1e9)
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if ready:
                self._drain()

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while True:
                payload, (peer, _) = self.sock.recvfrom(65535)
                message = decode_message(payload)
                if not isinstance(message, DataPacket):
                    continue
                ack = self.answer(message, peer, self.clock())
                if ack is not None:
                    with contextlib.suppress(OSError):  # a full buffer or no route: a lost ACK
                        self.sock.sendto(ack.encode(), (peer, self.ack_port))

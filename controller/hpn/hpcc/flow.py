"""A sender's queue pair without the sockets: sequence space, window, recovery, HPCC, pacing.

The reference's ``RdmaQueuePair`` and the parts of ``RdmaHw`` around it: ``snd_nxt`` and
``snd_una`` in bytes, the window bound (``IsWinBound``), go-back-N on a NACK
(``RecoverQueue``), HPCC on every ACK and NACK (``HandleAckHp``) and the pacer following the
rate (``ChangeRate``). One addition: a retransmission timeout, because the emulated fabric
drops packets where the reference's lossless (PFC) fabric never does. And ``snd_nxt`` never
falls behind ``snd_una`` (an ACK arriving after a go-back-N moves both). Every method takes
the time it runs at; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpn.hpcc.messages import frame_bytes
from hpn.hpcc.pacing import Pacer
from hpn.hpcc.params import HpccParams
from hpn.hpcc.rate_update import HpccState, HpccUpdate, initial_state, on_ack, window_bytes
from hpn.telemetry.codec import IntStack


@dataclass(frozen=True)
class FlowConfig:
    payload_bytes: int
    """Bytes after the INT stack in every data packet; all packets are this size."""
    line_rate_bps: int
    """The NIC's rate (emulated bit/s): the rate without congestion control, and HPCC's maxRate."""
    hpcc: HpccParams | None
    """None: no congestion control, line rate and no window."""
    size_bytes: int | None = None
    """Stop once this much is acknowledged (rounded up to whole packets); None: never."""
    rto_ns: int = 50_000_000
    """Go back to ``snd_una`` when nothing was acknowledged for this long."""

    def __post_init__(self) -> None:
        if self.hpcc is not None and self.hpcc.max_rate_bps != self.line_rate_bps:
            raise ValueError("HPCC's max_rate_bps is the flow's line rate")
        if self.payload_bytes <= 0 or self.line_rate_bps <= 0 or self.rto_ns <= 0:
            raise ValueError("payload_bytes, line_rate_bps and rto_ns must be positive")


class SenderFlow:
    """One flow's sending state; ``next_seq`` / ``on_ack`` / ``on_timer`` drive it."""

    def __init__(self, config: FlowConfig, now_ns: int) -> None:
        self.config = config
        self.frame_bytes = frame_bytes(config.payload_bytes)
        self.snd_nxt = 0
        self.snd_una = 0
        self.hpcc: HpccState | None = None if config.hpcc is None else initial_state(config.hpcc)
        self.pacer = Pacer(config.line_rate_bps, next_ns=now_ns)
        self.last_progress_ns = now_ns
        self.retransmits = 0
        """Go-back-N events (NACKs and timeouts)."""

    @property
    def rate_bps(self) -> int:
        return self.config.line_rate_bps if self.hpcc is None else self.hpcc.rate_bps

    @property
    def window(self) -> int:
        """Bytes allowed in flight; 0 means no window."""
        if self.config.hpcc is None or self.hpcc is None:
            return 0
        return window_bytes(self.config.hpcc, self.hpcc.rate_bps)

    @property
    def in_flight(self) -> int:
        return self.snd_nxt - self.snd_una

    @property
    def finished(self) -> bool:
        size = self.config.size_bytes
        return size is not None and self.snd_una >= size

    def has_data(self) -> bool:
        size = self.config.size_bytes
        return size is None or self.snd_nxt < size

    def window_bound(self) -> bool:
        """``IsWinBound``: as many bytes in flight as the window allows."""
        window = self.window
        return window != 0 and self.in_flight >= window

    def wait_ns(self, now_ns: int) -> int | None:
        """How long until the next packet may leave; None when only an ACK can unblock it."""
        if not self.has_data() or self.window_bound():
            return None
        return self.pacer.wait_ns(now_ns)

    def next_seq(self, now_ns: int) -> int:
        """Take the next packet's sequence number and pace the one after it."""
        seq = self.snd_nxt
        self.snd_nxt += self.config.payload_bytes
        self.pacer = self.pacer.sent(now_ns, self.frame_bytes)
        return seq

    def on_ack(self, ack_seq: int, *, nack: bool, stack: IntStack, now_ns: int) -> HpccUpdate | None:
        """``ReceiveAck``: acknowledge, go back on a NACK, then run HPCC on the echoed stack."""
        if ack_seq > self.snd_una:
            self.snd_una = ack_seq
            self.last_progress_ns = now_ns
        self.snd_nxt = max(self.snd_nxt, self.snd_una)
        if nack:
            self._go_back(now_ns)
        if self.config.hpcc is None or self.hpcc is None:
            return None
        update = on_ack(self.config.hpcc, self.hpcc, ack_seq=ack_seq, snd_nxt=self.snd_nxt, stack=stack)
        self.hpcc = update.state
        self.pacer = self.pacer.with_rate(update.state.rate_bps)
        return update

    def timer_ns(self, now_ns: int) -> int | None:
        """How long until the retransmission timeout fires; None with nothing in flight."""
        if self.in_flight == 0:
            return None
        return max(0, self.last_progress_ns + self.config.rto_ns - now_ns)

    def on_timer(self, now_ns: int) -> bool:
        """Go back to ``snd_una`` if the timeout expired; True when it did."""
        due = self.timer_ns(now_ns)
        if due is None or due > 0:
            return False
        self._go_back(now_ns)
        return True

    def _go_back(self, now_ns: int) -> None:
        self.snd_nxt = self.snd_una
        self.last_progress_ns = now_ns
        self.retransmits += 1

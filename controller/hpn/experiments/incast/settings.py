"""What an incast run is asked to do: senders, rates, buffer, durations, and how it is measured."""

from __future__ import annotations

from dataclasses import dataclass

from hpn.hpcc.messages import frame_bytes

CC_MODES = ("none", "hpcc")
"""Without congestion control (line rate, no window), and HPCC."""
BMV2_DEFAULT_QUEUE_DEPTH = 64
"""Packets: simple_switch's default egress queue capacity, restored after a run."""


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

    @property
    def duration_s(self) -> float:
        """From the first senders' start to their stop."""
        return self.before_join_s + self.after_join_s

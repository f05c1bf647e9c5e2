"""The reported numbers of one run (docs/hpcc.md defines each), from what it measured."""

from __future__ import annotations

from dataclasses import dataclass, field

from hpn.experiments.incast.reaction import Reaction, read_reactions
from hpn.experiments.incast.run import IncastRun
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
    window_rates,
)


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
    reactions: dict[str, Reaction] | None
    """HPCC's updates per sender, from their ACK logs (None without congestion control)."""
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
        reactions=read_reactions(run),
        rates=[
            RateSample(r.end_ns - start, r.rates) for r in window_rates(times, start, end, bin_ns, bin_ns)
        ],
        int_queue=int_queue,
        bmv2_queue=bmv2_queue,
    )

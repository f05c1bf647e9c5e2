"""Per-hop reports from INT stacks, with HPCC's link-utilisation estimate.

For two consecutive probes on the same path, hop ``i`` of each was written by the same
switch port, so (HPCC, SIGCOMM 2019, Algorithm 1)::

    txRate = delta(tx_bytes) / delta(timestamp)
    U      = min(qlen_prev, qlen_cur) / (B * T) + txRate / B

with ``B`` the link rate and ``T`` the base RTT. The qlen term uses the smaller of the two
samples, as the reference does, so one transient burst does not count as a standing queue.

Units differ between bmv2 and the HPCC reference (docs/int.md), so they are explicit:

- bmv2 timestamps are microseconds, HPCC's are nanoseconds;
- bmv2 qlen counts *packets*, HPCC's counts 80-byte units. Turning packets into bytes needs
  an assumed packet size, so the qlen term on bmv2 is only as good as that assumption;
- ``B`` comes from the rate index the controller configured per port (int_port table). A
  bmv2 port slowed with ``set_queue_rate`` runs far below that nominal rate; pass the real
  rate as ``link_rate_bps`` or the utilisation will look tiny.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from hpn.telemetry.codec import IntHop, IntStack, timestamp_delta, tx_bytes_delta


@dataclass(frozen=True)
class IntUnits:
    """What one timestamp tick and one qlen unit are worth."""

    timestamp_s: float
    qlen_bytes: float


HPCC_UNITS = IntUnits(timestamp_s=1e-9, qlen_bytes=80.0)


def bmv2_units(packet_bytes: float = 1500.0) -> IntUnits:
    """bmv2: microsecond timestamps, qlen in packets of (assumed) ``packet_bytes`` each."""
    return IntUnits(timestamp_s=1e-6, qlen_bytes=packet_bytes)


BMV2_UNITS = bmv2_units()


def tx_rate_bps(prev: IntHop, cur: IntHop, units: IntUnits) -> float | None:
    """Bits per second sent on the hop's egress port between two samples; None if no time passed."""
    dt = timestamp_delta(prev, cur) * units.timestamp_s
    if dt <= 0:
        return None
    return tx_bytes_delta(prev, cur) * 8 / dt


def hop_utilisation(
    prev: IntHop,
    cur: IntHop,
    *,
    units: IntUnits,
    base_rtt_s: float,
    link_rate_bps: float | None = None,
) -> float | None:
    """HPCC's U for one hop; None when the rate is unknown or no time passed between samples."""
    rate = link_rate_bps if link_rate_bps is not None else cur.link_rate_bps
    tx = tx_rate_bps(prev, cur, units)
    if rate is None or rate <= 0 or tx is None:
        return None
    qlen_bits = min(prev.qlen, cur.qlen) * units.qlen_bytes * 8
    return qlen_bits / (rate * base_rtt_s) + tx / rate


@dataclass(frozen=True)
class HopReport:
    """One switch of the path, in path order; rate fields need a previous probe."""

    hop: int
    switch: str | None
    link_rate_gbps: int | None
    timestamp: int
    qlen: int
    tx_bytes: int
    tx_rate_bps: float | None = None
    utilisation: float | None = None


@dataclass(frozen=True)
class PathReport:
    path: Hashable
    hops: tuple[HopReport, ...]
    overflow: bool
    compared: bool
    """True when a previous probe of the same length was there to compute rates from."""

    @property
    def max_utilisation(self) -> float | None:
        """HPCC reacts to the most loaded hop."""
        values = [h.utilisation for h in self.hops if h.utilisation is not None]
        return max(values) if values else None


class IntCollector:
    """Keeps the last stack per path and turns each new one into a PathReport.

    ``path`` is any hashable key the caller uses for one path (e.g. the 5-tuple of a probe
    flow); probes of different paths must not share a key, or deltas mix switches.
    """

    def __init__(
        self,
        *,
        base_rtt_s: float,
        units: IntUnits = BMV2_UNITS,
        link_rate_bps: float | None = None,
    ) -> None:
        self.base_rtt_s = base_rtt_s
        self.units = units
        self.link_rate_bps = link_rate_bps
        self._last: dict[Hashable, IntStack] = {}

    def observe(self, path: Hashable, stack: IntStack, switches: Sequence[str] | None = None) -> PathReport:
        """Report on ``stack``; ``switches`` optionally names the switch of each hop index."""
        prev = self._last.get(path)
        self._last[path] = stack
        compared = prev is not None and prev.nhop == stack.nhop
        reports = []
        for i, cur in enumerate(stack.hops):
            rate: float | None = None
            util: float | None = None
            if prev is not None and compared:
                before = prev.hops[i]
                rate = tx_rate_bps(before, cur, self.units)
                util = hop_utilisation(
                    before,
                    cur,
                    units=self.units,
                    base_rtt_s=self.base_rtt_s,
                    link_rate_bps=self.link_rate_bps,
                )
            reports.append(
                HopReport(
                    hop=i,
                    switch=switches[i] if switches is not None and i < len(switches) else None,
                    link_rate_gbps=cur.link_rate_gbps,
                    timestamp=cur.timestamp,
                    qlen=cur.qlen,
                    tx_bytes=cur.tx_bytes,
                    tx_rate_bps=rate,
                    utilisation=util,
                )
            )
        return PathReport(path=path, hops=tuple(reports), overflow=stack.overflow, compared=compared)

    def forget(self, path: Hashable | None = None) -> None:
        """Drop the history of one path (e.g. after a reroute), or of all paths."""
        if path is None:
            self._last.clear()
        else:
            self._last.pop(path, None)

"""HPCC's parameters, named and defaulted as in the reference implementation.

The names follow the reference's configuration keys (simulation/mix/config.txt and
config_doc.txt of alibaba-edu/High-Precision-Congestion-Control) and the ``RdmaHw``
attributes they set (rdma-hw.cc). Rates are bit/s, times ns, sizes bytes, as there.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpn.telemetry.codec import LINK_RATE_GBPS

REFERENCE_LINE_RATES_BPS: tuple[int, ...] = tuple(g * 1_000_000_000 for g in LINK_RATE_GBPS)
"""``IntHop::lineRateValues``: bit/s by INT rate index (5-7 are 0)."""


def bdp_bytes(rate_bps: int, rtt_ns: int) -> int:
    """Bytes in flight at ``rate_bps`` over ``rtt_ns``, as the reference computes ``maxBdp``.

    third.cc: ``bdp = rtt * bw / 1000000000 / 8`` in integer arithmetic; with ``HAS_WIN 1``
    this is every flow's window ``m_win``.
    """
    return rtt_ns * rate_bps // 1_000_000_000 // 8


@dataclass(frozen=True)
class HpccParams:
    """What ``UpdateRateHp`` reads besides the ACK; defaults from the reference's config.txt."""

    max_rate_bps: int
    """``m_max_rate``: the NIC's line rate; flows start at it and never exceed it."""
    base_rtt_ns: int
    """``m_baseRtt`` (T): the EWMA horizon of U (``GLOBAL_T 1``: the largest base RTT)."""
    window_bytes: int
    """``m_win`` (W at line rate): normally ``bdp_bytes(max_rate_bps, base_rtt_ns)``."""
    target_util: float = 0.95
    """``U_TARGET``: eta, the utilisation HPCC aims at."""
    mi_thresh: int = 0
    """``MI_THRESH``: maxStage, additive-increase steps below target before a multiplicative one."""
    rate_ai_bps: int = 50_000_000
    """``RATE_AI``: W_AI expressed as a rate, added on every update."""
    min_rate_bps: int = 100_000_000
    """``MIN_RATE``: the rate is never set below this."""
    var_win: bool = True
    """``VAR_WIN``: the window follows the rate (``m_win * m_rate / m_max_rate``)."""
    fast_react: bool = True
    """``FAST_REACT``: react to every ACK, not only to the one that ends an RTT."""
    multi_rate: bool = False
    """``MULTI_RATE``: a rate per hop (1) instead of one rate from the most loaded hop (0)."""
    sample_feedback: bool = False
    """``SAMPLE_FEEDBACK``: fast reactions skip hops whose queue is empty."""
    line_rates_bps: tuple[int, ...] = REFERENCE_LINE_RATES_BPS
    """Bit/s by INT rate index; the emulation passes a scaled table (hpn.hpcc.scale)."""

    def __post_init__(self) -> None:
        if self.max_rate_bps <= 0 or self.base_rtt_ns <= 0:
            raise ValueError("max_rate_bps and base_rtt_ns must be positive")
        if self.window_bytes <= 0:
            raise ValueError("HPCC needs a window: its queue term divides by window_bytes (HAS_WIN 1)")
        if self.target_util <= 0:
            raise ValueError(f"target_util must be positive, got {self.target_util}")
        if self.mi_thresh < 0 or self.rate_ai_bps < 0:
            raise ValueError("mi_thresh and rate_ai_bps must not be negative")
        if not 0 < self.min_rate_bps <= self.max_rate_bps:
            raise ValueError(f"min_rate_bps must be in (0, {self.max_rate_bps}], got {self.min_rate_bps}")
        if len(self.line_rates_bps) != len(LINK_RATE_GBPS):
            raise ValueError(f"line_rates_bps needs one rate per INT index ({len(LINK_RATE_GBPS)})")

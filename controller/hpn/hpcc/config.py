"""The agent's settings in the units people think in, and the flow configuration they give.

Rates are given as the reference gives them (nominal Mb/s and Gb/s of the real fabric) plus
one emulation knob, ``line_rate_pps``: how many packets a second the NIC's nominal line
rate becomes on bmv2. hpn.hpcc.scale turns that into one factor for every rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpn.hpcc.flow import FlowConfig
from hpn.hpcc.messages import frame_bytes
from hpn.hpcc.params import HpccParams, bdp_bytes
from hpn.hpcc.scale import RateScale


@dataclass(frozen=True)
class AgentSettings:
    nic_gbps: int = 200
    """The sender NIC's nominal rate (the topology's host link speed; one of the INT table's)."""
    line_rate_pps: float = 2000.0
    """Packets a second that ``nic_gbps`` stands for in the emulation."""
    payload_bytes: int = 1000
    """Bytes after the INT stack in each data packet (the reference's ``PACKET_PAYLOAD_SIZE``)."""
    cc: str = "hpcc"
    """``hpcc``, or ``none`` (line rate, no window)."""
    base_rtt_us: float = 2000.0
    """T: at least the unloaded RTT through the emulated fabric, agent to agent."""
    target_util: float = 0.95
    max_stage: int = 0
    rate_ai_mbps: float | None = None
    """Nominal W_AI; None: the HPCC paper's ``W_init * (1 - eta) / N`` with N = ``expected_flows``."""
    expected_flows: int = 4
    min_rate_mbps: float = 100.0
    """Nominal ``MIN_RATE``; raised to ``min_packets_per_s`` if that is more."""
    min_packets_per_s: float = 100.0
    """A flow keeps sending at least this often, so the 24-bit ns INT time (16.8 ms) never wraps
    between two of its packets at a hop."""
    var_win: bool = True
    fast_react: bool = True
    multi_rate: bool = False
    sample_feedback: bool = False
    size_bytes: int | None = None
    rto_ms: float = 50.0

    def __post_init__(self) -> None:
        if self.cc not in ("hpcc", "none"):
            raise ValueError(f"cc must be 'hpcc' or 'none', not {self.cc!r}")
        if self.expected_flows < 1:
            raise ValueError("expected_flows must be at least 1")

    @property
    def frame_bytes(self) -> int:
        return frame_bytes(self.payload_bytes)

    @property
    def scale(self) -> RateScale:
        return RateScale.line_rate_as_packets(
            nic_gbps=self.nic_gbps, packets_per_s=self.line_rate_pps, frame_bytes=self.frame_bytes
        )

    def hpcc_params(self) -> HpccParams:
        """HPCC's parameters in emulated bit/s and real ns."""
        scale = self.scale
        line = scale.emulated(self.nic_gbps * 1e9)
        base_rtt_ns = round(self.base_rtt_us * 1000)
        ai_mbps = self.rate_ai_mbps
        if ai_mbps is None:
            ai_mbps = self.nic_gbps * 1000 * (1 - self.target_util) / self.expected_flows
        min_rate = max(
            scale.emulated(self.min_rate_mbps * 1e6), round(self.min_packets_per_s * self.frame_bytes * 8)
        )
        return HpccParams(
            max_rate_bps=line,
            base_rtt_ns=base_rtt_ns,
            window_bytes=bdp_bytes(line, base_rtt_ns),
            target_util=self.target_util,
            mi_thresh=self.max_stage,
            rate_ai_bps=scale.emulated(ai_mbps * 1e6),
            min_rate_bps=min(min_rate, line),
            var_win=self.var_win,
            fast_react=self.fast_react,
            multi_rate=self.multi_rate,
            sample_feedback=self.sample_feedback,
            line_rates_bps=scale.line_rates_bps(),
        )

    def flow_config(self) -> FlowConfig:
        line = self.scale.emulated(self.nic_gbps * 1e9)
        return FlowConfig(
            payload_bytes=self.payload_bytes,
            line_rate_bps=line,
            hpcc=self.hpcc_params() if self.cc == "hpcc" else None,
            size_bytes=self.size_bytes,
            rto_ns=round(self.rto_ms * 1e6),
        )

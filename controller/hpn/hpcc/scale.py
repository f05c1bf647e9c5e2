"""One factor between the rates INT reports and the rates the emulated fabric carries.

INT carries nominal link rates (25-400 Gb/s); bmv2 moves a few thousand packets a second.
The agent runs HPCC in emulated bit/s: a configured packet rate stands for the NIC's line
rate, and every other rate (each hop's line rate from its INT index, W_AI, the minimum rate)
is multiplied by the same factor. Bytes and nanoseconds are not scaled: queue lengths,
byte counters and INT timestamps are the real ones, so U keeps its meaning (docs/hpcc.md,
"Scaling to bmv2").
"""

from __future__ import annotations

from dataclasses import dataclass

from hpn.hpcc.params import REFERENCE_LINE_RATES_BPS
from hpn.telemetry.codec import link_rate_index


@dataclass(frozen=True)
class RateScale:
    """``emulated bit/s = nominal bit/s * factor``; factor 1 is the reference's own units."""

    factor: float = 1.0

    def __post_init__(self) -> None:
        if self.factor <= 0:
            raise ValueError(f"a rate scale must be positive, got {self.factor}")

    @classmethod
    def line_rate_as_packets(cls, *, nic_gbps: int, packets_per_s: float, frame_bytes: int) -> RateScale:
        """The scale at which a NIC of ``nic_gbps`` sends ``packets_per_s`` frames of ``frame_bytes``.

        ``nic_gbps`` must be a rate INT can carry (25, 50, 100, 200, 400).
        """
        link_rate_index(nic_gbps)
        if packets_per_s <= 0 or frame_bytes <= 0:
            raise ValueError("packets_per_s and frame_bytes must be positive")
        return cls(packets_per_s * frame_bytes * 8 / (nic_gbps * 1e9))

    def emulated(self, nominal_bps: float) -> int:
        """Nominal bit/s (the reference's units) to emulated bit/s, rounded to whole bit/s."""
        return round(nominal_bps * self.factor)

    def nominal(self, emulated_bps: float) -> float:
        return emulated_bps / self.factor

    def line_rates_bps(self) -> tuple[int, ...]:
        """The INT rate table in emulated bit/s (``HpccParams.line_rates_bps``)."""
        return tuple(self.emulated(rate) for rate in REFERENCE_LINE_RATES_BPS)


def packets_per_s(rate_bps: float, frame_bytes: int) -> float:
    """How many frames of ``frame_bytes`` a second ``rate_bps`` is (what bmv2's queue rate counts)."""
    return rate_bps / (frame_bytes * 8)

"""When the next packet may leave, as the reference's NIC paces a queue pair.

``RdmaHw::UpdateNextAvail``: after a packet of ``b`` bytes, the next may leave ``b * 8 / rate``
later. ``RdmaHw::ChangeRate``: a new rate moves that time by the difference between the last
packet's transmission time at the new rate and at the old one. Times are integer ns from
whatever clock the caller uses; nothing here reads one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


def tx_time_ns(frame_bytes: int, rate_bps: int) -> int:
    """Nanoseconds ``frame_bytes`` take at ``rate_bps`` (``DataRate::CalculateTxTime``)."""
    return frame_bytes * 8 * 1_000_000_000 // rate_bps


@dataclass(frozen=True)
class Pacer:
    rate_bps: int
    next_ns: int = 0
    """The earliest time the next packet may leave (``m_nextAvail``)."""
    last_frame_bytes: int = 0
    """Size of the last packet sent (``lastPktSize``)."""

    def __post_init__(self) -> None:
        if self.rate_bps <= 0:
            raise ValueError(f"a pacing rate must be positive, got {self.rate_bps}")

    def wait_ns(self, now_ns: int) -> int:
        """How long until a packet may leave (0: now)."""
        return max(0, self.next_ns - now_ns)

    def sent(self, now_ns: int, frame_bytes: int) -> Pacer:
        """A packet of ``frame_bytes`` left at ``now_ns``."""
        return replace(
            self, next_ns=now_ns + tx_time_ns(frame_bytes, self.rate_bps), last_frame_bytes=frame_bytes
        )

    def with_rate(self, rate_bps: int) -> Pacer:
        """The rate changed: shift the next departure as ``ChangeRate`` does."""
        if rate_bps == self.rate_bps:
            return self
        shift = tx_time_ns(self.last_frame_bytes, rate_bps) - tx_time_ns(self.last_frame_bytes, self.rate_bps)
        return replace(self, rate_bps=rate_bps, next_ns=self.next_ns + shift)

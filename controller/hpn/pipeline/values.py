"""Conversions from controller values to P4Runtime-ready integers."""

from __future__ import annotations


def mac_to_int(mac: str) -> int:
    """'02:00:00:00:00:01' -> int, with a clear error for anything else."""
    parts = mac.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ValueError(f"not a MAC address: {mac!r}")
    try:
        return int("".join(parts), 16)
    except ValueError:
        raise ValueError(f"not a MAC address: {mac!r}") from None


def pmax_scaled(pmax: float) -> int:
    """Marking probability 0..1 -> the 2^16-scaled integer ecn.p4 expects."""
    if not 0.0 <= pmax <= 1.0:
        raise ValueError(f"ECN pmax must be within 0..1, got {pmax}")
    return round(pmax * 65536)

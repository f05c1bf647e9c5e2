"""Conversions from controller values to P4Runtime-ready integers."""

from __future__ import annotations

PMAX_ONE = 65536
"""A marking probability of 1 as bmv2's ecn_port takes it (ECN_PMAX_ONE in v1model/control/ecn.p4)."""


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
    """Marking probability 0..1 -> the integer bmv2's ecn.p4 expects (1 is PMAX_ONE)."""
    if not 0.0 <= pmax <= 1.0:
        raise ValueError(f"ECN pmax must be within 0..1, got {pmax}")
    return round(pmax * PMAX_ONE)

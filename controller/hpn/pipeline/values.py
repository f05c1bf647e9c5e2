"""Conversions from controller values to P4Runtime-ready integers."""

from __future__ import annotations

from collections.abc import Iterable

from hpn.pipeline.names import PORT_MASK_BITS


def mac_to_int(mac: str) -> int:
    """'02:00:00:00:00:01' -> int, with a clear error for anything else."""
    parts = mac.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ValueError(f"not a MAC address: {mac!r}")
    try:
        return int("".join(parts), 16)
    except ValueError:
        raise ValueError(f"not a MAC address: {mac!r}") from None


def port_mask(ports: Iterable[int]) -> int:
    """Bitmap with bit p set for each port p (ports must be < PORT_MASK_BITS)."""
    mask = 0
    for p in ports:
        if not 0 <= p < PORT_MASK_BITS:
            raise ValueError(f"port {p} cannot be in a port mask (0..{PORT_MASK_BITS - 1})")
        mask |= 1 << p
    return mask


def mask_ports(mask: int) -> frozenset[int]:
    """Inverse of port_mask."""
    return frozenset(p for p in range(PORT_MASK_BITS) if mask >> p & 1)


def pmax_scaled(pmax: float) -> int:
    """Marking probability 0..1 -> the 2^16-scaled integer ecn.p4 expects."""
    if not 0.0 <= pmax <= 1.0:
        raise ValueError(f"ECN pmax must be within 0..1, got {pmax}")
    return round(pmax * 65536)

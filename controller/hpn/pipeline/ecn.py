"""Entities of the ECN control: per-port RED thresholds."""

from __future__ import annotations

import finsy as fy

from hpn.pipeline import names
from hpn.pipeline.values import pmax_scaled
from hpn.routing.state import EcnConfig

_SET_RED = next(iter(names.ECN_PORT.actions))


def ecn_entry(port: int, ecn: EcnConfig) -> fy.P4TableEntry:
    if not 0 <= ecn.kmin < ecn.kmax:
        raise ValueError(f"port {port}: ECN needs 0 <= kmin < kmax, got kmin={ecn.kmin} kmax={ecn.kmax}")
    return fy.P4TableEntry(
        names.ECN_PORT.name,
        match=fy.P4TableMatch(port=port),
        action=fy.P4TableAction(
            _SET_RED, kmin_pkts=ecn.kmin, kmax_pkts=ecn.kmax, pmax_scaled=pmax_scaled(ecn.pmax)
        ),
    )

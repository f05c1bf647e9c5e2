"""Entities of the ECN control: per-port RED marking.

bmv2 computes the ramp from (kmin, kmax, pmax) per port (`ecn_port`). Tofino has no
multiplier: its `ecn_ramp` table holds, per port, depth ranges each with one marking
probability (a 16-bit threshold a random draw must fall below), and depth >= kmax marks
always. Depths are in 80-byte cells on both targets: Tofino's deq_qdepth unit, and on
bmv2 the per-port byte queue the program keeps (queue.p4). kmin == kmax is a step.
"""

from __future__ import annotations

import finsy as fy

from hpn.pipeline import names
from hpn.pipeline.targets import Target
from hpn.pipeline.values import pmax_scaled
from hpn.routing.state import EcnConfig

_SET_RED = next(iter(names.ECN_PORT.actions))
_MARK, _MARK_BELOW = names.ECN_RAMP.actions
RAMP_STEPS = 8
"""Ranges the Tofino ramp between kmin and kmax is split into."""
MAX_DEPTH = (1 << 19) - 1
"""deq_qdepth is 19 bits."""


def _check(port: int, ecn: EcnConfig) -> None:
    if not 0 <= ecn.kmin <= ecn.kmax:
        raise ValueError(f"port {port}: ECN needs 0 <= kmin <= kmax, got kmin={ecn.kmin} kmax={ecn.kmax}")


def ecn_entries(port: int, ecn: EcnConfig, target: Target) -> list[fy.P4TableEntry]:
    _check(port, ecn)
    if target is Target.BMV2:
        return [
            fy.P4TableEntry(
                names.ECN_PORT.name,
                match=fy.P4TableMatch(port=port),
                action=fy.P4TableAction(
                    _SET_RED, kmin_depth=ecn.kmin, kmax_depth=ecn.kmax, pmax_scaled=pmax_scaled(ecn.pmax)
                ),
            )
        ]
    return _ramp_entries(port, ecn, target)


def ramp_ranges(ecn: EcnConfig) -> list[tuple[int, int, float]]:
    """(first depth, last depth, marking probability) of each step above kmin and below
    kmax; the probability at a step is the ramp's value at the step's middle."""
    low, high = ecn.kmin + 1, ecn.kmax - 1
    if low > high:
        return []
    steps = min(RAMP_STEPS, high - low + 1)
    out = []
    for i in range(steps):
        first = low + (high - low + 1) * i // steps
        last = low + (high - low + 1) * (i + 1) // steps - 1
        middle = (first + last) / 2
        out.append((first, last, ecn.pmax * (middle - ecn.kmin) / (ecn.kmax - ecn.kmin)))
    return out


def _ramp_entries(port: int, ecn: EcnConfig, target: Target) -> list[fy.P4TableEntry]:
    table = target.qualify(names.ECN_RAMP.name)
    out = [
        fy.P4TableEntry(
            table,
            match=fy.P4TableMatch(port=port, depth=f"{first}...{last}"),
            action=fy.P4TableAction(target.qualify(_MARK_BELOW), threshold=min(0xFFFF, round(p * 0x10000))),
            priority=1,
        )
        for first, last, p in ramp_ranges(ecn)
    ]
    out.append(
        fy.P4TableEntry(
            table,
            match=fy.P4TableMatch(port=port, depth=f"{ecn.kmax}...{MAX_DEPTH}"),
            action=fy.P4TableAction(target.qualify(_MARK)),
            priority=1,
        )
    )
    return out

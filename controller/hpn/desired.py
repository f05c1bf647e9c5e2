"""Topology + failure view -> what every switch should hold, as P4Runtime entities.

The one path from a `Fabric` to the entities a push writes (routing computes the
per-switch state, pipeline turns it into table entries), shared by `hpnctl
push|diff|link` and the emulation's controller, so both program a fabric alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping

from hpn.pipeline import Entity, Target, switch_entities
from hpn.routing.compute import compute_fabric_state
from hpn.routing.failures import FailureView
from hpn.routing.state import LbMode, SwitchState
from hpn.topology.model import Fabric


def with_lb_mode(states: Mapping[str, SwitchState], mode: LbMode) -> dict[str, SwitchState]:
    """Every group of every switch in `mode` (group ids and members unchanged)."""
    return {
        name: dataclasses.replace(st, groups=tuple(dataclasses.replace(g, mode=mode) for g in st.groups))
        for name, st in states.items()
    }


def desired_states(
    fabric: Fabric, failures: FailureView | None = None, lb_mode: LbMode | None = None
) -> dict[str, SwitchState]:
    """State of every switch that is up under `failures`; `lb_mode` forces one LB mode."""
    states = compute_fabric_state(fabric, failures)
    return with_lb_mode(states, lb_mode) if lb_mode is not None else states


def desired_entities(
    states: Mapping[str, SwitchState], only: Collection[str] = (), target: Target = Target.BMV2
) -> dict[str, list[Entity]]:
    """Entities of every switch in `states` (or of those in `only` when it names any) for
    the P4Info of `target`."""
    return {
        name: switch_entities(state, target) for name, state in states.items() if not only or name in only
    }

"""A failure view change -> the affected switches' writes, and nothing for the others.

`Failover.apply(view)` moves the incremental routing (hpn.routing.incremental) to the new
view and returns, per switch whose desired state changed, a `StateDelta` (the routes and
groups that come and go): that is the decision, and it is what `recomputed` events time.
`EntityBuilder.writes(delta)` turns one delta into the P4Runtime entities to insert,
modify and delete, built for the changed buckets, groups, members and routes only
(hpn.operations.switch_writes); `EntityBuilder.stream` yields them one switch at a time,
so the first switch can be written while the others are built.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpn.operations.switch_writes import EntityBuilder, EntityWrites, StateDelta, diff_entities, entity_key
from hpn.routing.failures import FailureView
from hpn.routing.incremental import IncrementalRouting
from hpn.routing.state import SwitchState
from hpn.topology.model import Fabric

__all__ = [
    "EntityBuilder",
    "EntityWrites",
    "Failover",
    "FailoverPlan",
    "StateDelta",
    "diff_entities",
    "entity_key",
]


@dataclass(frozen=True)
class FailoverPlan:
    view: FailureView
    deltas: dict[str, StateDelta]  # the affected switches only, in the fabric's order
    rederived: int  # switches whose specs were re-derived (>= affected)

    @property
    def touched(self) -> list[str]:
        return list(self.deltas)


class Failover:
    """Desired state of a fabric that follows failure views one change at a time."""

    def __init__(self, fabric: Fabric, failures: FailureView | None = None) -> None:
        self.fabric = fabric
        self.routing = IncrementalRouting(fabric, failures)

    @property
    def view(self) -> FailureView:
        return self.routing.view

    @property
    def states(self) -> dict[str, SwitchState]:
        return self.routing.states

    def apply(self, view: FailureView) -> FailoverPlan:
        """Move to `view`: the delta of every switch whose desired state changed."""
        update = self.routing.update(view)
        deltas = {
            name: StateDelta(name, update.before[name], after) for name, after in update.changed.items()
        }
        return FailoverPlan(view, deltas, update.rederived)

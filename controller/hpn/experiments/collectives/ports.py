"""Each queue pair's UDP source port: at random (what ECMP gets) or planned by hpn.paths.

The source port is the RoCEv2 sender's entropy: the switches hash it with the addresses
and the destination QP. `random_ports` draws them as independent senders would;
`planned_ports` asks hpn.paths' planner for ports whose predicted paths keep every ToR
uplink and agg downlink at its share, given each queue pair's bytes.
"""

from __future__ import annotations

import random

from hpn.experiments.collectives.program import CollectivePlan
from hpn.paths.planner import ROCEV2_SOURCE_PORTS, FlowDemand, Plan, plan_source_ports
from hpn.paths.predict import PathPredictor


def random_ports(plan: CollectivePlan, seed: int) -> tuple[int, ...]:
    """A source port per queue pair, uniformly from RoCEv2's range; `seed` makes a run repeatable."""
    rng = random.Random(seed)
    return tuple(rng.choice(ROCEV2_SOURCE_PORTS) for _ in plan.qps)


def demands(plan: CollectivePlan) -> list[FlowDemand]:
    """The queue pairs as the planner sees them: NICs, bytes, NIC port and QP."""
    return [
        FlowDemand((q.src, q.rail), (q.dst, q.rail), q.bytes(plan.payload_bytes), nic_port=q.plane, qp=q.qpn)
        for q in plan.qps
    ]


def planned_ports(plan: CollectivePlan, predictor: PathPredictor) -> tuple[tuple[int, ...], Plan]:
    """Source ports from hpn.paths' planner, and its plan (predicted paths and link loads)."""
    placed = plan_source_ports(predictor, demands(plan))
    return tuple(f.sport for f in placed.flows), placed

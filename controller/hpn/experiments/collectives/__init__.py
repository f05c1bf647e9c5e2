"""Collective traffic on the emulated fabric: all-reduce jobs rail by rail, and how the
way paths are chosen changes their completion time (docs/collectives.md, "Collective
traffic in the emulation").

One module per concern:

- `schedule`: who sends which chunks to whom at each step (ring, halving-doubling);
- `placement`: jobs on disjoint hosts; `program`: the schedules as queue pairs and
  per-rank steps, rail by rail and plane by plane (`ideal_seconds`: their time at the NIC rate);
- `ports`: each queue pair's source port, random or planned by hpn.paths;
- `metrics`: completion time, algorithm and bus bandwidth, link balance;
- `wire`: hpn.hpcc's data packet at the generator's rate; `generator`: the traffic
  itself, over the hosts' NICs; `shaping`: the switch ports at their links' rates;
- `run`: one run with the links' byte counters; `comparison`: every path mode,
  algorithm and set of jobs, repeated; `report`: the table and the PNG.

The pure parts (schedule, placement, program, ports, metrics, wire) need no emulation.
`report` is imported on its own (matplotlib, for the PNG).
"""

from hpn.experiments.collectives.comparison import Case, CaseResult, Comparison, PathMode, Scenario, compare
from hpn.experiments.collectives.generator import TRANSPORTS, Generator, GeneratorRun, Transport
from hpn.experiments.collectives.metrics import (
    LinkBalance,
    Spread,
    algorithm_bandwidth,
    bus_bandwidth,
    bus_factor,
    reduction,
)
from hpn.experiments.collectives.placement import Job, JobSpec, Placement, place_jobs
from hpn.experiments.collectives.ports import demands, planned_ports, random_ports
from hpn.experiments.collectives.program import (
    CollectivePlan,
    QueuePair,
    RankProgram,
    RankStep,
    build_plan,
    ideal_seconds,
)
from hpn.experiments.collectives.run import CollectiveRun, JobOutcome, run_collectives, uplinks
from hpn.experiments.collectives.schedule import (
    Algorithm,
    Transfer,
    allreduce,
    contributions,
    halving_doubling_allreduce,
    ring_allreduce,
)
from hpn.experiments.collectives.shaping import shaped_fabric

__all__ = [
    "TRANSPORTS",
    "Algorithm",
    "Case",
    "CaseResult",
    "CollectivePlan",
    "CollectiveRun",
    "Comparison",
    "Generator",
    "GeneratorRun",
    "Job",
    "JobOutcome",
    "JobSpec",
    "LinkBalance",
    "PathMode",
    "Placement",
    "QueuePair",
    "RankProgram",
    "RankStep",
    "Scenario",
    "Spread",
    "Transfer",
    "Transport",
    "algorithm_bandwidth",
    "allreduce",
    "build_plan",
    "bus_bandwidth",
    "bus_factor",
    "compare",
    "contributions",
    "demands",
    "halving_doubling_allreduce",
    "ideal_seconds",
    "place_jobs",
    "planned_ports",
    "random_ports",
    "reduction",
    "ring_allreduce",
    "run_collectives",
    "shaped_fabric",
    "uplinks",
]

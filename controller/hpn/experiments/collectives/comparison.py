"""The collectives experiment: the same jobs under each way of choosing paths, repeated.

Path modes: `ecmp` (every group hashes; each queue pair's source port at random, a new
draw each run), `planned` (ECMP groups; source ports from hpn.paths' planner for the
jobs' queue pairs), `spray` (every group sprays packets; random ports) and `adaptive`
(every group picks the least loaded member per flowlet; random ports). For each mode,
algorithm and scenario (a set of jobs run at once) the collectives run `runs` times.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from hpn.emulation.checks.base import Lab
from hpn.experiments.collectives.generator import Transport
from hpn.experiments.collectives.metrics import Spread
from hpn.experiments.collectives.placement import JobSpec, Placement, place_jobs
from hpn.experiments.collectives.ports import planned_ports, random_ports
from hpn.experiments.collectives.program import CollectivePlan, build_plan
from hpn.experiments.collectives.run import CollectiveRun, run_collectives
from hpn.experiments.collectives.schedule import Algorithm
from hpn.paths.load import Balance
from hpn.paths.predict import PathPredictor
from hpn.routing.state import LbMode
from hpn.topology.model import Fabric

DEFAULT_TRANSPORT = Transport()


class PathMode(str, Enum):
    ECMP = "ecmp"
    PLANNED = "planned"
    SPRAY = "spray"
    ADAPTIVE = "adaptive"

    @property
    def lb_mode(self) -> LbMode:
        return {
            PathMode.ECMP: LbMode.ECMP,
            PathMode.PLANNED: LbMode.ECMP,
            PathMode.SPRAY: LbMode.SPRAY,
            PathMode.ADAPTIVE: LbMode.ADAPTIVE,
        }[self]


@dataclass(frozen=True)
class Scenario:
    """Jobs run at once: (name, ranks, size) each; the algorithm is the case's."""

    name: str
    jobs: tuple[tuple[str, int, int], ...]

    def specs(self, algorithm: Algorithm) -> list[JobSpec]:
        return [JobSpec(name, ranks, size, algorithm) for name, ranks, size in self.jobs]


@dataclass(frozen=True)
class Case:
    mode: PathMode
    algorithm: Algorithm
    scenario: str

    def __str__(self) -> str:
        return f"{self.mode.value}/{self.algorithm.value}/{self.scenario}"


@dataclass
class CaseResult:
    case: Case
    plan: CollectivePlan
    runs: list[CollectiveRun] = field(default_factory=list)
    predicted: Balance | None = None  # the planner's own uplink/downlink balance (planned only)

    def completion(self) -> Spread | None:
        """Per run, the last job's completion; median and worst over the complete runs."""
        times = [max(j.seconds for j in r.jobs if j.seconds is not None) for r in self.runs if r.complete]
        return Spread.of(times) if times else None

    def uplink_ratio(self, fabric: Fabric) -> Spread | None:
        """Per run, the uplinks' max/mean; median and worst over the runs."""
        ratios = [r.uplink_balance(fabric).max_over_mean for r in self.runs]
        return Spread.of(ratios) if ratios else None


@dataclass
class Comparison:
    transport: Transport
    placement: Placement
    results: list[CaseResult]

    def result(self, mode: PathMode, algorithm: Algorithm, scenario: str) -> CaseResult | None:
        return next((r for r in self.results if r.case == Case(mode, algorithm, scenario)), None)


def _sports(
    mode: PathMode, plan: CollectivePlan, predictor: PathPredictor | None, seed: int
) -> tuple[tuple[int, ...], Balance | None]:
    if mode is PathMode.PLANNED:
        assert predictor is not None
        sports, placed = planned_ports(plan, predictor)
        return sports, placed.balance()
    return random_ports(plan, seed), None


async def compare(
    lab: Lab,
    scenarios: Sequence[Scenario],
    *,
    modes: Sequence[PathMode] = tuple(PathMode),
    algorithms: Sequence[Algorithm] = tuple(Algorithm),
    runs: int = 5,
    transport: Transport = DEFAULT_TRANSPORT,
    placement: Placement = Placement.SPREAD,
    payload_bytes: int = 1000,
    stop: threading.Event | None = None,
    on_run: Callable[[Case, int, CollectiveRun], None] | None = None,
) -> Comparison:
    """Every case `runs` times; the switches' LB mode is set per path mode and put back after."""
    fabric = lab.fabric
    rails = len({nic.rail for _, nic in fabric.nics()})
    planes = len(fabric.planes)
    hosts = [(h.name, h.segment) for h in fabric.hosts]
    results: list[CaseResult] = []
    try:
        for mode in modes:
            report = await lab.ctl.set_lb_mode(mode.lb_mode)
            if not report.ok:
                raise RuntimeError(f"setting {mode.value}: " + "; ".join(report.errors[:3]))
            predictor = (
                PathPredictor.for_view(fabric, lab.ctl.failures, lb_mode=mode.lb_mode)
                if mode is PathMode.PLANNED
                else None
            )
            for algorithm in algorithms:
                for scenario in scenarios:
                    jobs = place_jobs(hosts, scenario.specs(algorithm), placement)
                    plan = build_plan(jobs, rails, planes, payload_bytes)
                    result = CaseResult(Case(mode, algorithm, scenario.name), plan)
                    results.append(result)
                    for i in range(runs):
                        sports, predicted = _sports(mode, plan, predictor, seed=i)
                        result.predicted = predicted
                        run = await run_collectives(lab, plan, sports, transport, stop)
                        result.runs.append(run)
                        if on_run is not None:
                            on_run(result.case, i, run)
                        if stop is not None and stop.is_set():
                            return Comparison(transport, placement, results)
    finally:
        await lab.ctl.set_lb_mode(None)
    return Comparison(transport, placement, results)

"""Collectives in the demo: several all-reduce jobs at once, under each way of choosing paths.

On a fabric with at least 4 aggs per plane (topologies/hpn-collectives.yaml), every switch
port slowed to its link's rate (hpn.experiments.collectives.shaping), two ring all-reduce
jobs of 4 ranks run together, once per path mode: ECMP with random source ports, planned
source ports from hpn.paths, spray and adaptive (hpn.experiments.collectives.comparison).

The check fails only on behaviour: a job that did not complete, a queue pair that did not
deliver exactly the packets it sent, ToR uplinks or agg downlinks that carried other bytes
than the queue pairs crossing the fabric sent (bytes conserved), or planned source ports
whose uplinks' max/mean load is above 1.1. Completion times depend on how fast the
machine runs bmv2 and the generator: they are reported as ratios to ECMP's, with the
planner's completion-time goal met or not and the machine's load over the check
(hpn.netlab.load), and never fail it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hpn.emulation.checks.base import Lab, Verdict
from hpn.emulation.plotting import PlottingUnavailable
from hpn.experiments.collectives.comparison import CaseResult, Comparison, PathMode, Scenario, compare
from hpn.experiments.collectives.generator import Transport
from hpn.experiments.collectives.metrics import reduction
from hpn.experiments.collectives.program import CollectivePlan, ideal_seconds
from hpn.experiments.collectives.report import COMPLETION_CUT_TARGET, UPLINK_RATIO_TARGET, plot
from hpn.experiments.collectives.run import uplinks
from hpn.experiments.collectives.schedule import Algorithm
from hpn.experiments.collectives.shaping import shaped_fabric
from hpn.hpcc.messages import frame_bytes
from hpn.netlab.load import MachineLoad, Snapshot, between, snapshot
from hpn.topology.model import Fabric, NicPort, Role, SwitchPort

SCENARIO = "several"
MIN_AGGS_PER_PLANE = 4
"""Fewer uplinks per ToR leave random source ports little room to collide, or to be planned."""


@dataclass(frozen=True)
class CollectivesSettings:
    jobs: int = 2
    ranks: int = 4
    size: int = 96_000
    """Bytes per rank: 12 packets a queue pair per ring step, 72 in all."""
    rate_pps: float = 60.0
    """A NIC port's packets/s: low enough that the shaped links, not the machine, set the pace."""
    payload_bytes: int = 1000
    timeout_s: float = 20.0
    """A run not complete by then (a lost packet stalls the paced transport) stops, incomplete."""
    modes: tuple[PathMode, ...] = tuple(PathMode)

    @property
    def scenario(self) -> Scenario:
        return Scenario(SCENARIO, tuple((chr(ord("a") + i), self.ranks, self.size) for i in range(self.jobs)))


DEMO_SETTINGS = CollectivesSettings()
"""Ideal run 1.2 s a mode; with ECMP's collisions and a busy machine, ~30 s for the four modes."""


@dataclass(frozen=True)
class ModeOutcome:
    """One path mode's run: each job's completion time, the uplinks' bytes."""

    mode: PathMode
    jobs: dict[str, float | None]
    """Seconds from the common start; None: the job did not complete."""
    uplink_bytes: dict[str, int]
    """Every ToR uplink: bytes it sent during the run."""
    uplink_ratio: float
    """max/mean over the uplinks of the ToRs that sent anything up."""
    predicted_ratio: float | None = None
    """The planner's own uplink/downlink max/mean (planned only)."""

    @property
    def completion(self) -> float | None:
        """The last job's completion time; None when one did not complete."""
        times = list(self.jobs.values())
        return None if not times or None in times else max(t for t in times if t is not None)


@dataclass
class CollectivesResult(Verdict):
    fabric: str
    settings: CollectivesSettings
    outcomes: list[ModeOutcome]
    ideal_s: float | None
    """The plan's time at the NIC rate with no link shared (`ideal_seconds`)."""
    load: MachineLoad | None
    """The machine's load over the runs (None: not measured)."""
    png: Path | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def outcome(self, mode: PathMode) -> ModeOutcome | None:
        return next((o for o in self.outcomes if o.mode is mode), None)

    def ratio_to_ecmp(self, mode: PathMode) -> float | None:
        """`mode`'s completion time over ECMP's (None: either did not complete)."""
        ecmp, other = self.outcome(PathMode.ECMP), self.outcome(mode)
        if ecmp is None or other is None or ecmp.completion is None or other.completion is None:
            return None
        return other.completion / ecmp.completion

    def speed_line(self) -> str:
        """Planned against ECMP's completion time, next to the goal; with the load when missed."""
        ratio = self.ratio_to_ecmp(PathMode.PLANNED)
        if ratio is None:
            return "planned against ECMP: not measured"
        cut = reduction(1.0, ratio)
        text = (
            f"planned/ECMP completion {ratio:.2f} (cut {cut:.0%}; goal >= {COMPLETION_CUT_TARGET:.0%}: "
            f"{'met' if cut >= COMPLETION_CUT_TARGET else 'not met'}"
        )
        if cut >= COMPLETION_CUT_TARGET:
            return text + ")"
        if self.load is None:
            return text + ", reported, not checked; machine load not measured)"
        state = "machine loaded" if self.load.loaded else "machine not loaded"
        return text + f", reported, not checked; {state})"

    def summary(self) -> str:
        if not self.outcomes:
            return "not measured"
        s = self.settings
        ratios = ", ".join(f"{o.mode.value} {o.uplink_ratio:.2f}" for o in self.outcomes)
        return (
            f"{s.jobs} ring jobs x {s.ranks} ranks at once, {len(self.outcomes)} path modes: "
            f"uplink max/mean {ratios}; {self.speed_line()}"
        )

    def render(self, console: Console) -> None:
        """The table of path modes, then the goal, the machine's load, the PNG."""
        if not self.outcomes:
            return
        s = self.settings
        ideal = "" if self.ideal_s is None else f" ({self.ideal_s:.2f} s with no link shared)"
        console.print(
            f"collectives on {self.fabric}: {s.jobs} ring all-reduce jobs x {s.ranks} ranks at once, "
            f"{s.size:,} B per rank, NIC ports at {s.rate_pps:g} pkt/s{ideal}",
            highlight=False,
        )
        t = Table(
            "mode",
            "completion s (last job)",
            "per job s",
            "/ ECMP",
            "uplink max/mean",
            "planner's",
            "uplink KB min-max",
            title="Collectives: one run per path mode",
        )
        for o in self.outcomes:
            ratio = self.ratio_to_ecmp(o.mode)
            values = o.uplink_bytes.values()
            t.add_row(
                o.mode.value,
                _seconds(o.completion),
                " ".join(f"{name} {_seconds(v)}" for name, v in o.jobs.items()),
                "-" if ratio is None else f"{ratio:.2f}",
                f"{o.uplink_ratio:.2f}",
                "" if o.predicted_ratio is None else f"{o.predicted_ratio:.2f}",
                f"{min(values, default=0) / 1000:.1f}-{max(values, default=0) / 1000:.1f}",
            )
        console.print(t)
        console.print(f"collectives: {self.speed_line()}", highlight=False)
        if self.load is not None:
            console.print(f"machine load over the collectives: {self.load.describe()}", highlight=False)
        for note in self.notes:
            console.print(f"note: {note}", highlight=False)
        if self.png is not None:
            console.print(f"plot: {self.png} (collectives)", highlight=False)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def unsuitable(fabric: Fabric, settings: CollectivesSettings = DEMO_SETTINGS) -> str | None:
    """Why `fabric` cannot hold the demo's collectives (None: it can)."""
    fewest = min((len(fabric.aggs(p)) for p in fabric.planes), default=0)
    if fewest < MIN_AGGS_PER_PLANE:
        return (
            f"{fabric.name} has {fewest} aggs per plane; the collectives need at least "
            f"{MIN_AGGS_PER_PLANE} (uplinks per ToR for source ports to collide on, or to be planned on)"
        )
    needed = settings.jobs * settings.ranks
    if len(fabric.hosts) < needed:
        return (
            f"{fabric.name} has {len(fabric.hosts)} hosts; {settings.jobs} jobs of "
            f"{settings.ranks} ranks need {needed}"
        )
    if len({h.segment for h in fabric.hosts}) < 2:
        return f"{fabric.name} has one segment: no collective traffic would cross the aggs"
    return None


def agg_downlinks(fabric: Fabric) -> list[SwitchPort]:
    """Every agg port cabled to a ToR."""
    out = []
    for agg in fabric.aggs():
        for port, peer in fabric.peers(agg.name).items():
            if isinstance(peer, SwitchPort) and fabric.switch(peer.switch).role is Role.TOR:
                out.append(SwitchPort(agg.name, port))
    return out


def crossing_packets(plan: CollectivePlan, fabric: Fabric) -> int:
    """Packets of the queue pairs whose two ends hang off different ToRs: each crosses one
    uplink and one agg downlink."""
    total = 0
    for q in plan.qps:
        src = fabric.nic_switch_port(NicPort(q.src, q.rail, q.plane))
        dst = fabric.nic_switch_port(NicPort(q.dst, q.rail, q.plane))
        if src is None or dst is None or src.switch != dst.switch:
            total += q.packets
    return total


def _mode_problems(result: CaseResult, fabric: Fabric) -> list[str]:
    """What went wrong in one mode's run: incomplete, a queue pair's count, bytes not conserved."""
    mode = result.case.mode.value
    if not result.runs:
        return [f"{mode}: did not run"]
    problems = []
    plan = result.plan
    packets, frame = crossing_packets(plan, fabric), frame_bytes(plan.payload_bytes)
    for run in result.runs:
        if not run.complete:
            waiting = run.run.stalls()
            problems.append(
                f"{mode}: jobs {', '.join(j.name for j in run.jobs if j.seconds is None)} did not complete "
                f"in {run.run.seconds:.1f} s; waiting: {'; '.join(waiting[:2]) or '-'}"
            )
            continue
        off = [c for c in run.run.qps if c.delivered != c.qp.packets or c.duplicates]
        if off:
            shown = ", ".join(
                f"qp {c.qp.qpn} {c.delivered}/{c.qp.packets} (+{c.duplicates} twice)" for c in off[:3]
            )
            problems.append(f"{mode}: {len(off)} queue pairs delivered other than their packets: {shown}")
        for name, ports in (("ToR uplinks", uplinks(fabric)), ("agg downlinks", agg_downlinks(fabric))):
            carried = sum(run.link_bytes.get(p, 0) for p in ports)
            if carried != packets * frame:
                problems.append(
                    f"{mode}: the {name} carried {carried:,} B; the queue pairs crossing the fabric "
                    f"sent {packets * frame:,} B ({packets} packets x {frame} B)"
                )
    return problems


def outcome(result: CaseResult, fabric: Fabric) -> ModeOutcome:
    """The mode's (first) run as the report shows it."""
    run = result.runs[0]
    return ModeOutcome(
        result.case.mode,
        {j.name: j.seconds for j in run.jobs},
        {str(p): n for p, n in run.uplink_bytes(fabric).items()},
        run.uplink_balance(fabric).max_over_mean,
        None if result.predicted is None else result.predicted.max_over_mean,
    )


def verdict(
    comparison: Comparison,
    fabric: Fabric,
    settings: CollectivesSettings,
    load: MachineLoad | None,
    seconds: float,
) -> CollectivesResult:
    """The check's result: every mode's behaviour problems, and planned ports' balance."""
    problems: list[str] = []
    outcomes = []
    for mode in settings.modes:
        result = comparison.result(mode, Algorithm.RING, SCENARIO)
        if result is None:
            problems.append(f"{mode.value}: not measured")
            continue
        problems += _mode_problems(result, fabric)
        if result.runs:
            outcomes.append(outcome(result, fabric))
    planned = next((o for o in outcomes if o.mode is PathMode.PLANNED), None)
    if planned is not None and not planned.uplink_ratio <= UPLINK_RATIO_TARGET:
        predicted = "-" if planned.predicted_ratio is None else f"{planned.predicted_ratio:.2f}"
        problems.append(
            f"planned: uplink max/mean {planned.uplink_ratio:.2f}, above {UPLINK_RATIO_TARGET} "
            f"(the planner predicted {predicted})"
        )
    plan = comparison.results[0].plan if comparison.results else None
    ideal = None if plan is None else ideal_seconds(plan, comparison.transport.line_rate_pps)
    return CollectivesResult(fabric.name, settings, outcomes, ideal, load, problems=problems, seconds=seconds)


def _snapshot() -> Snapshot | None:
    try:
        return snapshot()
    except OSError:  # no /proc/stat: the load is not measured
        return None


def _nic_gbps(fabric: Fabric) -> int:
    return min(link.gbps for link in fabric.links if NicPort in (type(link.a), type(link.b)))


async def collective_jobs(
    lab: Lab, png: Path, settings: CollectivesSettings = DEMO_SETTINGS
) -> CollectivesResult:
    """The check: the fabric shaped, every mode run once, the verdict; the PNG at `png`."""
    started = time.monotonic()
    fabric = lab.fabric
    why = unsuitable(fabric, settings)
    if why is not None:
        return CollectivesResult(fabric.name, settings, [], None, None, problems=[why])
    nic_gbps = _nic_gbps(fabric)
    transport = Transport(line_rate_pps=settings.rate_pps, nic_gbps=nic_gbps, timeout_s=settings.timeout_s)
    before = _snapshot()
    try:
        with shaped_fabric(lab.emulation, settings.rate_pps, nic_gbps):
            comparison = await compare(
                lab,
                [settings.scenario],
                modes=settings.modes,
                algorithms=(Algorithm.RING,),
                runs=1,
                transport=transport,
                payload_bytes=settings.payload_bytes,
            )
    except (RuntimeError, OSError, ValueError) as exc:  # Bmv2Error (shaping) is a RuntimeError
        problems = [f"the collectives did not run: {exc}"]
        return CollectivesResult(
            fabric.name, settings, [], None, None, problems=problems, seconds=time.monotonic() - started
        )
    after = _snapshot()
    load = None if before is None or after is None else between(before, after)
    result = verdict(comparison, fabric, settings, load, time.monotonic() - started)
    try:
        result.png = plot(comparison, fabric, png, SCENARIO)
    except PlottingUnavailable as exc:
        result.notes.append(str(exc))
    return result

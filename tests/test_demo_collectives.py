"""The demo's collectives check on made-up runs: it fails on behaviour (a job not completed, a
queue pair's packets, bytes not conserved on the uplinks and downlinks, planned ports' uplink
balance), reports completion-time ratios with the machine's load without failing on them, and
renders its table. No emulation: the runs' port counters are laid out from the plan here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from hpn.experiments.collectives.comparison import Case, CaseResult, Comparison, PathMode
from hpn.experiments.collectives.generator import GeneratorRun, QpCounts, Transport
from hpn.experiments.collectives.placement import Placement, place_jobs
from hpn.experiments.collectives.program import CollectivePlan, QueuePair, build_plan, ideal_seconds
from hpn.experiments.collectives.run import CollectiveRun, JobOutcome, uplinks
from hpn.experiments.collectives.schedule import Algorithm
from hpn.experiments.demo.collectives_check import (
    DEMO_SETTINGS,
    SCENARIO,
    CollectivesResult,
    CollectivesSettings,
    agg_downlinks,
    crossing_packets,
    unsuitable,
    verdict,
)
from hpn.hpcc.messages import frame_bytes
from hpn.netlab.load import MachineLoad
from hpn.paths.load import Balance
from hpn.topology.loader import load_fabric
from hpn.topology.model import NicPort, SwitchPort

TOPOLOGIES = Path(__file__).resolve().parents[1] / "topologies"
FABRIC = load_fabric(TOPOLOGIES / "hpn-collectives.yaml")
FRAME = frame_bytes(DEMO_SETTINGS.payload_bytes)
UplinkChoice = Callable[[int], int]
"""The k-th queue pair leaving a ToR -> the index of the uplink it takes."""
EVEN: UplinkChoice = lambda k: k  # noqa: E731
TWO_ON_ONE: UplinkChoice = lambda k: [0, 0, 1, 2][k]  # noqa: E731
"""Two of a ToR's four queue pairs share an uplink, one is idle: max/mean 2.0."""


def demo_plan() -> CollectivePlan:
    hosts = [(h.name, h.segment) for h in FABRIC.hosts]
    specs = DEMO_SETTINGS.scenario.specs(Algorithm.RING)
    return build_plan(place_jobs(hosts, specs, Placement.SPREAD), 1, 2, DEMO_SETTINGS.payload_bytes)


def tor_of(q: QueuePair, end: str) -> str:
    port = FABRIC.nic_switch_port(NicPort(end, q.rail, q.plane))
    assert port is not None
    return port.switch


def carried(plan: CollectivePlan, spread: UplinkChoice) -> dict[SwitchPort, int]:
    """Every uplink and agg downlink: the bytes of the queue pairs sent over it, each queue pair
    up the uplink `spread` gives it and down the agg's port to the destination ToR."""
    out = dict.fromkeys([*uplinks(FABRIC), *agg_downlinks(FABRIC)], 0)
    leaving: dict[str, int] = {}
    for q in plan.qps:
        src, dst = tor_of(q, q.src), tor_of(q, q.dst)
        if src == dst:
            continue
        k = leaving[src] = leaving.get(src, -1) + 1
        up = [p for p in uplinks(FABRIC) if p.switch == src][spread(k)]
        agg = FABRIC.peer(up.switch, up.port)
        assert isinstance(agg, SwitchPort)
        (down,) = [p for p, peer in FABRIC.peers(agg.switch).items() if getattr(peer, "switch", None) == dst]
        out[up] += q.packets * FRAME
        out[SwitchPort(agg.switch, down)] += q.packets * FRAME
    return out


def collective_run(
    plan: CollectivePlan,
    seconds: dict[str, float | None],
    spread: UplinkChoice = EVEN,
    counts: Callable[[QueuePair], QpCounts] | None = None,
) -> CollectiveRun:
    qps = [counts(q) if counts else QpCounts(q, 50_000, q.packets, q.packets) for q in plan.qps]
    generated = GeneratorRun(plan, Transport(), [], qps, max(s or 20.0 for s in seconds.values()), False)
    jobs = [JobOutcome(j.name, "ring", 4, j.spec.size, seconds[j.name], None, None) for j in plan.jobs]
    return CollectiveRun(generated, jobs, carried(plan, spread))


def comparison(*runs: tuple[PathMode, CollectiveRun]) -> Comparison:
    results = []
    for mode, run in runs:
        result = CaseResult(Case(mode, Algorithm.RING, SCENARIO), run.run.plan, [run])
        if mode is PathMode.PLANNED:
            result.predicted = Balance(16, 72_000, 72_000.0, 1.0)
        results.append(result)
    return Comparison(Transport(line_rate_pps=DEMO_SETTINGS.rate_pps), Placement.SPREAD, results)


def machine(others: float) -> MachineLoad:
    return MachineLoad(25.0, 2, others, 0.6, 0.0, 0.0, 0.8)


def four_modes(plan: CollectivePlan, planned: dict[str, float | None]) -> Comparison:
    """ECMP 3.0 s with two queue pairs on an uplink, planned at `planned`, spray and adaptive."""
    return comparison(
        (PathMode.ECMP, collective_run(plan, {"a": 3.0, "b": 2.5}, TWO_ON_ONE)),
        (PathMode.PLANNED, collective_run(plan, planned)),
        (PathMode.SPRAY, collective_run(plan, {"a": 1.6, "b": 1.5})),
        (PathMode.ADAPTIVE, collective_run(plan, {"a": 2.1, "b": 1.8})),
    )


def test_the_demo_plan_takes_its_ring_steps_one_after_the_other_at_the_nic_rate() -> None:
    plan = demo_plan()
    # 96,000 B a rank in 4 chunks over 2 planes: 12 packets a queue pair per step, 6 steps
    assert {q.packets for q in plan.qps} == {72}
    assert ideal_seconds(plan, DEMO_SETTINGS.rate_pps) == pytest.approx(72 / 60)
    assert crossing_packets(plan, FABRIC) == 16 * 72  # spread: every ring neighbour in the other segment
    with pytest.raises(ValueError, match="rate must be positive"):
        ideal_seconds(plan, 0)


def test_even_planned_ports_pass_and_the_slower_ecmp_is_reported_as_a_ratio() -> None:
    plan = demo_plan()
    result = verdict(four_modes(plan, {"a": 1.4, "b": 1.5}), FABRIC, DEMO_SETTINGS, machine(0.05), 30.0)
    assert result.ok, result.problems
    assert [o.uplink_ratio for o in result.outcomes] == [2.0, 1.0, 1.0, 1.0]
    assert result.ratio_to_ecmp(PathMode.PLANNED) == pytest.approx(0.5)
    assert result.ideal_s == pytest.approx(1.2)
    summary = result.summary()
    assert "uplink max/mean ecmp 2.00, planned 1.00, spray 1.00, adaptive 1.00" in summary
    assert "planned/ECMP completion 0.50 (cut 50%; goal >= 30%: met)" in summary


def test_planned_ports_slower_than_ecmp_on_a_loaded_machine_pass_with_the_load_named() -> None:
    plan = demo_plan()
    result = verdict(four_modes(plan, {"a": 4.5, "b": 4.0}), FABRIC, DEMO_SETTINGS, machine(0.45), 30.0)
    assert result.ok, result.problems
    assert (
        "planned/ECMP completion 1.50 (cut -50%; goal >= 30%: not met, reported, not checked; machine loaded)"
        in result.summary()
    )
    idle = verdict(four_modes(plan, {"a": 4.5, "b": 4.0}), FABRIC, DEMO_SETTINGS, machine(0.02), 30.0)
    assert "not met, reported, not checked; machine not loaded)" in idle.summary()
    unmeasured = verdict(four_modes(plan, {"a": 4.5, "b": 4.0}), FABRIC, DEMO_SETTINGS, None, 30.0)
    assert "not met, reported, not checked; machine load not measured)" in unmeasured.summary()


def test_planned_ports_sharing_an_uplink_fail_naming_the_balance_and_the_prediction() -> None:
    plan = demo_plan()
    c = comparison(
        (PathMode.ECMP, collective_run(plan, {"a": 3.0, "b": 2.5}, TWO_ON_ONE)),
        (PathMode.PLANNED, collective_run(plan, {"a": 3.0, "b": 2.5}, TWO_ON_ONE)),
    )
    settings = dataclasses.replace(DEMO_SETTINGS, modes=(PathMode.ECMP, PathMode.PLANNED))
    result = verdict(c, FABRIC, settings, None, 10.0)
    assert result.problems == ["planned: uplink max/mean 2.00, above 1.1 (the planner predicted 1.00)"]


def test_a_job_that_did_not_complete_fails_naming_the_mode_and_the_job() -> None:
    plan = demo_plan()
    c = comparison(
        (PathMode.ECMP, collective_run(plan, {"a": None, "b": 2.5}, TWO_ON_ONE)),
        (PathMode.PLANNED, collective_run(plan, {"a": 1.4, "b": 1.5})),
    )
    settings = dataclasses.replace(DEMO_SETTINGS, modes=(PathMode.ECMP, PathMode.PLANNED))
    result = verdict(c, FABRIC, settings, machine(0.0), 25.0)
    assert not result.ok
    (problem,) = result.problems
    assert problem.startswith("ecmp: jobs a did not complete in 20.0 s")
    assert result.ratio_to_ecmp(PathMode.PLANNED) is None
    assert "planned against ECMP: not measured" in result.summary()


def test_a_mode_that_never_ran_fails() -> None:
    plan = demo_plan()
    c = comparison((PathMode.ECMP, collective_run(plan, {"a": 3.0, "b": 2.5})))
    settings = dataclasses.replace(DEMO_SETTINGS, modes=(PathMode.ECMP, PathMode.PLANNED))
    assert verdict(c, FABRIC, settings, None, 5.0).problems == ["planned: not measured"]


def test_bytes_not_conserved_on_the_uplinks_fail_naming_both_counts() -> None:
    plan = demo_plan()
    run = collective_run(plan, {"a": 1.4, "b": 1.5})
    first = uplinks(FABRIC)[0]
    run.link_bytes[first] += FRAME  # a frame up that no queue pair sent
    c = comparison((PathMode.PLANNED, run))
    settings = dataclasses.replace(DEMO_SETTINGS, modes=(PathMode.PLANNED,))
    sent = 16 * 72 * FRAME
    assert verdict(c, FABRIC, settings, None, 5.0).problems == [
        f"planned: the ToR uplinks carried {sent + FRAME:,} B; the queue pairs crossing the fabric "
        f"sent {sent:,} B (1152 packets x {FRAME} B)"
    ]


def test_a_frame_lost_between_agg_and_tor_fails_on_the_downlinks() -> None:
    plan = demo_plan()
    run = collective_run(plan, {"a": 1.4, "b": 1.5})
    busy = next(p for p in agg_downlinks(FABRIC) if run.link_bytes[p])
    run.link_bytes[busy] -= FRAME
    settings = dataclasses.replace(DEMO_SETTINGS, modes=(PathMode.SPRAY,))
    (problem,) = verdict(comparison((PathMode.SPRAY, run)), FABRIC, settings, None, 5.0).problems
    assert problem.startswith("spray: the agg downlinks carried")


def test_a_queue_pair_delivering_a_packet_twice_fails() -> None:
    plan = demo_plan()

    def twice(q: QueuePair) -> QpCounts:
        return QpCounts(q, 50_000, q.packets, q.packets, duplicates=1 if q.qpn == 3 else 0)

    run = collective_run(plan, {"a": 1.4, "b": 1.5}, counts=twice)
    settings = dataclasses.replace(DEMO_SETTINGS, modes=(PathMode.ADAPTIVE,))
    assert verdict(comparison((PathMode.ADAPTIVE, run)), FABRIC, settings, None, 5.0).problems == [
        "adaptive: 1 queue pairs delivered other than their packets: qp 3 72/72 (+1 twice)"
    ]


def test_the_report_shows_every_mode_the_goal_the_load_and_the_plot() -> None:
    plan = demo_plan()
    result = verdict(four_modes(plan, {"a": 1.4, "b": 1.5}), FABRIC, DEMO_SETTINGS, machine(0.3), 30.0)
    result.png = Path("/run/x/reports/collectives-1.png")
    console = Console(record=True, width=250)
    result.render(console)
    text = console.export_text()
    assert (
        "collectives on hpn-collectives: 2 ring all-reduce jobs x 4 ranks at once, 96,000 B per rank, "
        "NIC ports at 60 pkt/s (1.20 s with no link shared)"
    ) in text
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") > 5}
    assert set(rows) >= {"ecmp", "planned", "spray", "adaptive"}
    assert "3.00" in rows["ecmp"] and "a 3.00 b 2.50" in rows["ecmp"] and "2.00" in rows["ecmp"]
    assert "a 1.40 b 1.50" in rows["planned"] and "0.50" in rows["planned"] and "1.00" in rows["planned"]
    assert f"0.0-{2 * 72 * FRAME / 1000:.1f}" in rows["ecmp"]  # an uplink idle, one with two queue pairs
    assert "collectives: planned/ECMP completion 0.50 (cut 50%; goal >= 30%: met)" in text
    assert "machine load over the collectives: other processes 30% of 2 CPUs" in text
    assert "plot: /run/x/reports/collectives-1.png (collectives)" in text


def test_nothing_measured_renders_nothing_and_says_so() -> None:
    result = CollectivesResult("hpn-collectives", DEMO_SETTINGS, [], None, None, problems=["x"])
    console = Console(record=True)
    result.render(console)
    assert console.export_text() == ""
    assert result.summary() == "not measured" and not result.ok


@pytest.mark.parametrize(
    ("topology", "settings", "why"),
    [
        ("hpn-collectives.yaml", DEMO_SETTINGS, None),
        ("hpn-mini.yaml", DEMO_SETTINGS, "hpn-mini has 2 aggs per plane; the collectives need at least 4"),
        (
            "hpn-collectives.yaml",
            CollectivesSettings(jobs=3),
            "hpn-collectives has 8 hosts; 3 jobs of 4 ranks need 12",
        ),
    ],
)
def test_a_fabric_that_cannot_hold_the_collectives_is_named_with_why(
    topology: str, settings: CollectivesSettings, why: str | None
) -> None:
    found = unsuitable(load_fabric(TOPOLOGIES / topology), settings)
    assert found == why if why is None else (found or "").startswith(why)


def test_hpnctl_demo_refuses_a_collectives_fabric_with_too_few_aggs_before_bringing_anything_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from hpn.cli import app, emulate_cmds

    monkeypatch.setattr(emulate_cmds, "_missing_or_exit", lambda: None)  # no Mininet needed to refuse
    mini = str(TOPOLOGIES / "hpn-mini.yaml")
    argv = ["demo", mini, "--no-merged", "--no-hpcc", "--collectives-topology", mini]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert "hpn-mini has 2 aggs per plane; the collectives need at least 4" in result.output
    assert "--no-collectives skips them" in result.output

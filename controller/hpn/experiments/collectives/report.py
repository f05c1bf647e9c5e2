"""The collectives comparison as a table of lines and a PNG (matplotlib, the `plot` extra).

The table has one row per case: completion time (the last job's, median and worst of
the runs), each job's median algorithm and bus bandwidth as a share of one NIC's rate
(both ports of every rail), the uplinks' max/mean load (median of the runs) and, for
planned source ports, the balance the planner predicted. `targets` puts the issue's
two numbers next to what was measured: planned against ECMP for several jobs at once.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from hpn.emulation.plotting import pyplot
from hpn.experiments.collectives.comparison import CaseResult, Comparison, PathMode
from hpn.experiments.collectives.metrics import reduction
from hpn.experiments.collectives.run import uplinks
from hpn.topology.model import Fabric

COMPLETION_CUT_TARGET = 0.30
"""Planned source ports cut the several-jobs completion time by at least this against ECMP."""
UPLINK_RATIO_TARGET = 1.1
"""... and bring the uplinks' max/mean load to at most this."""


def nic_rate_bytes(comparison: Comparison, fabric: Fabric) -> float:
    """Bytes/s one host can send: packets/s x payload of every port of every rail."""
    t = comparison.transport
    ports = len({nic.rail for _, nic in fabric.nics()}) * len(fabric.planes)
    payload = comparison.results[0].plan.payload_bytes if comparison.results else 0
    return t.line_rate_pps * payload * ports


def _busbw_share(result: CaseResult, rate: float) -> str:
    shares = []
    for job in result.plan.jobs:
        values = [j.busbw for r in result.runs for j in r.jobs if j.name == job.name and j.busbw is not None]
        shares.append(f"{statistics.median(values) / rate:.2f}" if values and rate > 0 else "-")
    return "/".join(shares)


def table(comparison: Comparison, fabric: Fabric) -> list[str]:
    rate = nic_rate_bytes(comparison, fabric)
    head = (
        f"{'mode':9} {'alg':5} {'jobs':8} {'runs':>4} {'median s':>9} {'worst s':>8} "
        f"{'busbw/NIC':>10} {'up max/mean':>11} {'planned':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in comparison.results:
        c = r.completion()
        ratio = r.uplink_ratio(fabric)
        predicted = "" if r.predicted is None else f"{r.predicted.max_over_mean:.2f}"
        complete = sum(run.complete for run in r.runs)
        median = "-" if c is None else f"{c.median:.3f}"
        worst = "-" if c is None else f"{c.worst:.3f}"
        up = "-" if ratio is None else f"{ratio.median:.2f}"
        lines.append(
            f"{r.case.mode.value:9} {r.case.algorithm.value:5} {r.case.scenario:8} "
            f"{complete:>2}/{len(r.runs):<1} {median:>9} {worst:>8} "
            f"{_busbw_share(r, rate):>10} {up:>11} {predicted:>8}"
        )
    return lines


def targets(comparison: Comparison, fabric: Fabric, scenario: str) -> list[str]:
    """Planned against ECMP in `scenario`, per algorithm, next to the targets."""
    lines = []
    algorithms = sorted({r.case.algorithm for r in comparison.results}, key=lambda a: a.value)
    for algorithm in algorithms:
        ecmp = comparison.result(PathMode.ECMP, algorithm, scenario)
        planned = comparison.result(PathMode.PLANNED, algorithm, scenario)
        if ecmp is None or planned is None:
            continue
        e, p = ecmp.completion(), planned.completion()
        ratio = planned.uplink_ratio(fabric)
        if e is None or p is None or ratio is None:
            lines.append(f"{algorithm.value}/{scenario}: not every run completed; no comparison")
            continue
        cut = reduction(e.median, p.median)
        cut_met = "met" if cut >= COMPLETION_CUT_TARGET else "not met"
        ratio_met = "met" if ratio.median <= UPLINK_RATIO_TARGET else "not met"
        lines.append(
            f"{algorithm.value}/{scenario}: planned cuts the median completion time by {cut:.0%} "
            f"against ECMP (target >= {COMPLETION_CUT_TARGET:.0%}: {cut_met}); "
            f"worst {reduction(e.worst, p.worst):.0%}; uplink max/mean {ratio.median:.2f} "
            f"(target <= {UPLINK_RATIO_TARGET}: {ratio_met})"
        )
    return lines


def plot(comparison: Comparison, fabric: Fabric, path: Path, scenario: str) -> Path:
    """Completion times of every case (median bar, worst marker), and the bytes on every
    uplink in `scenario` per mode (first algorithm, median run)."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5.5))
    labels, medians, worsts = [], [], []
    for r in comparison.results:
        c = r.completion()
        labels.append(str(r.case))
        medians.append(c.median if c else 0.0)
        worsts.append(c.worst if c else 0.0)
    xs = range(len(labels))
    left.bar(xs, medians, color="tab:blue", label="median")
    left.scatter(xs, worsts, color="tab:red", marker="_", s=200, label="worst", zorder=3)
    left.set_xticks(list(xs), labels, rotation=75, fontsize=7)
    left.set_ylabel("completion time of the last job (s)")
    left.set_title("collective completion time")
    left.legend()

    ups = uplinks(fabric)
    cases = [r for r in comparison.results if r.case.scenario == scenario]
    first = cases[0].case.algorithm if cases else None
    cases = [r for r in cases if r.case.algorithm is first and r.runs]
    width = 0.8 / max(1, len(cases))
    for k, r in enumerate(cases):
        runs = sorted(r.runs, key=lambda run: run.uplink_balance(fabric).max_over_mean)
        run = runs[len(runs) // 2]
        carried = run.uplink_bytes(fabric)
        right.bar(
            [i + k * width for i in range(len(ups))],
            [carried.get(p, 0) / 1e6 for p in ups],
            width,
            label=r.case.mode.value,
        )
    ticks = [i + 0.4 - width / 2 for i in range(len(ups))]
    right.set_xticks(ticks, [str(p) for p in ups], rotation=75, fontsize=7)
    right.set_ylabel("MB sent")
    right.set_title(f"per-uplink load, {scenario}, {first.value if first else '-'} (median run)")
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

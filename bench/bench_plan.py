"""Time and memory of `hpnctl plan` on the full HPN pod: load + compute + plan.

    python bench/bench_plan.py [topologies/hpn-pod.yaml] [--repeat 3] [--failure SWITCH:PORT] [--reach]

Phases, each timed on its own: load (YAML -> Fabric), compute (Fabric -> every
SwitchState), plan (summary table and the JSON of every switch). The best of
`--repeat` runs is compared with the 10 s budget for the whole pipeline. Peak
memory is reported twice: the process's max RSS after the timed runs, and the
Python allocations of one more run under tracemalloc (slower, so not timed).
With `--failure` the compute phase also runs for that failure view, to show a
recomputation costs what a first computation does; `--reach` times the
all-pairs reachability check the tests run. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hpn.routing.compute import compute_fabric_state
from hpn.routing.failures import FailureView
from hpn.routing.plan import plan_json, summarize, summary_text
from hpn.routing.reach import reachability
from hpn.topology import load_fabric

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 10.0
T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _pipeline(path: Path) -> dict[str, float]:
    fabric, t_load = _timed(lambda: load_fabric(path))
    states, t_compute = _timed(lambda: compute_fabric_state(fabric))
    _, t_plan = _timed(lambda: (summary_text(summarize(fabric, states)), plan_json(states, indent=None)))
    return {"load": t_load, "compute": t_compute, "plan": t_plan}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topology", nargs="?", default=str(ROOT / "topologies" / "hpn-pod.yaml"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--failure", action="append", default=[], help="link down, as switch:port")
    parser.add_argument("--reach", action="store_true", help="also time the all-pairs reachability walk")
    args = parser.parse_args(argv)
    path = Path(args.topology)

    runs = []
    for _ in range(args.repeat):
        runs.append(_pipeline(path))
        gc.collect()
    best = min(runs, key=lambda r: sum(r.values()))
    total = sum(best.values())
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    tracemalloc.start()
    _pipeline(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    fabric = load_fabric(path)
    states = compute_fabric_state(fabric)
    summary = summarize(fabric, states)
    print(f"{path.name}: {fabric.gpu_count} GPUs, {len(fabric.switches)} switches, {len(fabric.links)} links")
    print(f"  state: {summary.routes} routes, {summary.groups} groups, {summary.ports} ports")
    for phase, seconds in best.items():
        print(f"  {phase:<8} {seconds:7.3f} s")
    print(
        f"  total    {total:7.3f} s  (best of {args.repeat}; "
        f"{total / TARGET_S:.2f}x of the {TARGET_S:.0f} s budget)"
    )
    print(f"  memory   {rss_mb:7.1f} MB max RSS, {peak / 2**20:.1f} MB peak Python allocations (tracemalloc)")

    if args.failure:
        failures = FailureView.parse(fabric, links=args.failure)
        _, t_fail = _timed(lambda: compute_fabric_state(fabric, failures))
        print(
            f"  recompute with {failures.describe()}: {t_fail:.3f} s "
            f"({t_fail / best['compute']:.2f}x the intact compute)"
        )
    if args.reach:
        report, t_reach = _timed(lambda: reachability(fabric, states=states))
        print(
            f"  reachability of {report.pairs} ordered NIC pairs ({report.classes} destination classes): "
            f"{t_reach:.3f} s, {'ok' if report.ok else 'NOT OK'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

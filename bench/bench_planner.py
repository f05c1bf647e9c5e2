"""The source-port planner on the full HPN pod: a job of every GPU in a ring per rail.

    python bench/bench_planner.py [topologies/hpn-pod.yaml] [--target bmv2|tofino] [--order striding|hosts]

Each GPU sends to the next GPU of its rail's ring, half of it on each NIC port (one
flow per plane). `striding` orders each ring so that consecutive GPUs sit in different
segments (every flow crosses the fabric: the load the planner has to spread); `hosts`
takes the hosts in order (a ring crosses segments once per segment). For the planned
source ports and for random ones (what ECMP gets), prints the uplink and downlink
max/mean and max/share (1.0: even), the largest number of flows on one link, and the
time of each step: CPU seconds of this process, and wall seconds (which on a busy
machine include the time other processes had the CPU). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hpn.paths.load import Direction
from hpn.paths.planner import FlowDemand, Plan, plan_source_ports, random_source_ports
from hpn.paths.predict import PathPredictor
from hpn.pipeline import Target
from hpn.topology import load_fabric
from hpn.topology.model import Fabric, Host, SwitchPort

ROOT = Path(__file__).resolve().parent.parent
STEP_BYTES = 64 << 20
"""What each GPU sends its ring neighbour (split over its two NIC ports)."""
T = TypeVar("T")


def _timed(label: str, fn: Callable[[], T]) -> T:
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    print(f"  {label:<34} {time.process_time() - cpu:8.2f} s CPU {time.perf_counter() - wall:8.2f} s wall")
    return result


def ring_job(fabric: Fabric, order: str) -> list[FlowDemand]:
    segments: dict[int, list[Host]] = {}
    for host in fabric.hosts:
        segments.setdefault(host.segment, []).append(host)
    if order == "hosts":
        ring = [h for s in sorted(segments) for h in segments[s]]
    else:
        per = max(len(hs) for hs in segments.values())
        ring = [segments[s][i] for i in range(per) for s in sorted(segments) if i < len(segments[s])]
    rails = sorted({n.rail for h in fabric.hosts for n in h.nics})
    demands = []
    for rail in rails:
        for k, host in enumerate(ring):
            nxt = ring[(k + 1) % len(ring)]
            for port in (0, 1):
                demands.append(FlowDemand((host.name, rail), (nxt.name, rail), STEP_BYTES // 2, port, qp=k))
    return demands


def _report(name: str, plan: Plan) -> None:
    flows_on: Counter[SwitchPort] = Counter(link for f in plan.flows for link in f.path.links())
    fabric_links = {r.link for r in plan.links}
    most = max((n for link, n in flows_on.items() if link in fabric_links), default=0)
    parts = []
    for d in Direction:
        b = plan.balance(d)
        parts.append(f"{d.value} max/mean {b.max_over_mean:.3f} max/share {b.max_over_share:.3f}")
    lost = len(plan.undelivered)
    print(f"  {name:<22} {'; '.join(parts)}; at most {most} flows on a link; {lost} undelivered")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topology", nargs="?", default=str(ROOT / "topologies" / "hpn-pod.yaml"))
    parser.add_argument("--target", choices=[t.value for t in Target], default=Target.BMV2.value)
    parser.add_argument("--order", choices=["striding", "hosts"], default="striding")
    parser.add_argument("--seed", type=int, default=0, help="random source ports' seed")
    args = parser.parse_args(argv)

    print(f"{Path(args.topology).name}, {args.target}, ring order {args.order}:")
    fabric = _timed("load the topology", lambda: load_fabric(args.topology))
    predictor = _timed(
        "compute every switch's state", lambda: PathPredictor.for_view(fabric, target=Target(args.target))
    )
    demands = ring_job(fabric, args.order)
    print(f"  {fabric.gpu_count} GPUs, {len(demands)} flows")
    ecmp = _timed(
        "random source ports (predict each)", lambda: random_source_ports(predictor, demands, seed=args.seed)
    )
    planned = _timed("planned source ports", lambda: plan_source_ports(predictor, demands))
    _report("random (ECMP)", ecmp)
    _report("planned", planned)
    return 0


if __name__ == "__main__":
    sys.exit(main())

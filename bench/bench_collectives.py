#!/usr/bin/env python3
"""Collectives on the emulated fabric: how choosing paths changes all-reduce completion time.

Brings up topologies/hpn-collectives.yaml (2 segments of 4 hosts, 2 planes of 4 aggs:
12 bmv2 switches; links as fast as the NICs), programs it, and slows every switch port to
its link's emulated rate with deep queues (a lossless fabric). Then, for each path mode
(ECMP with random source ports, planned source ports from hpn.paths on ECMP groups,
per-packet spray, adaptive), each algorithm (ring, halving-doubling) and each scenario
(one job of 4 ranks; two such jobs at once, on disjoint hosts), the generator of
hpn.experiments.collectives runs the all-reduce `--runs` times over the hosts' NICs.

Printed: per case the completion time of the last job (median and worst of the runs), the
jobs' bus bandwidth as a share of a host's NIC rate, and the ToR uplinks' max/mean load
from the switches' port counters; then planned against ECMP for several jobs, next to the
targets (completion time cut by >= 30%, uplink max/mean <= 1.1). A PNG shows completion
times and the bytes on every uplink; results.json has every run.

Needs root, Mininet, bmv2 (simple_switch_grpc, simple_switch_CLI) and the compiled program;
without them it says what is missing and exits 4. A benchmark, not a test: it prints
ratios from one run of the comparison and asserts nothing; it exits 1 only when the
experiment itself did not work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "controller"))

from hpn.cli.common import run_dir  # noqa: E402
from hpn.emulation.checks.base import Lab  # noqa: E402
from hpn.emulation.emulation import Emulation, EmulationError, interrupts_deferred, missing_prerequisites  # noqa: E402
from hpn.emulation.emulation_controller import EmulationController  # noqa: E402
from hpn.emulation.plotting import PlottingUnavailable  # noqa: E402
from hpn.experiments.collectives import (  # noqa: E402
    TRANSPORTS,
    Algorithm,
    Case,
    CollectiveRun,
    Comparison,
    PathMode,
    Placement,
    Scenario,
    Transport,
    compare,
    shaped_fabric,
)
from hpn.experiments.collectives import report as collectives_report  # noqa: E402
from hpn.netlab.bmv2 import cli_missing  # noqa: E402
from hpn.topology.errors import TopologyError  # noqa: E402
from hpn.topology.loader import load_fabric  # noqa: E402
from hpn.topology.model import Fabric, NicPort  # noqa: E402

TOPOLOGY = ROOT / "topologies" / "hpn-collectives.yaml"
MISSING, FAILED, INTERRUPTED = 4, 1, 130
SEVERAL = "several"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench_collectives.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--size", type=int, default=400_000, help="all-reduce buffer per rank, bytes [400000]")
    p.add_argument("--ranks", type=int, default=4, help="ranks of each job [4]")
    p.add_argument("--jobs", type=int, default=2, help="jobs at once in the 'several' scenario [2]")
    p.add_argument("--runs", type=int, default=5, help="runs of every case [5]")
    p.add_argument("--rate-pps", type=float, default=300.0, help="a NIC port's rate, packets/s [300]")
    p.add_argument("--payload-bytes", type=int, default=1000, help="data bytes a packet [1000]")
    p.add_argument("--cc", choices=TRANSPORTS, default="paced", help="transport [paced: no ACKs, lossless]")
    p.add_argument("--modes", default=",".join(m.value for m in PathMode), help="path modes [all]")
    p.add_argument("--algorithms", default=",".join(a.value for a in Algorithm), help="[ring,hd]")
    p.add_argument("--placement", choices=[p.value for p in Placement], default=Placement.SPREAD.value)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds a run may take at most [120]")
    p.add_argument("--topology", type=Path, default=TOPOLOGY, help="[topologies/hpn-collectives.yaml]")
    p.add_argument(
        "--out", type=Path, help="output directory [$HPN_RUN_DIR or run/, <fabric>/bench-collectives-<time>]"
    )
    p.add_argument("--png", type=Path, help="the plot [<out>/collectives.png]")
    p.add_argument("--log-level", default="warn", help="bmv2 log level [warn]")
    return p


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    def job(name: str) -> tuple[str, int, int]:
        return (name, args.ranks, args.size)

    return [
        Scenario("one", (job("a"),)),
        Scenario(SEVERAL, tuple(job(chr(ord("a") + i)) for i in range(args.jobs))),
    ]


def results_json(comparison: Comparison, fabric: Fabric) -> dict[str, Any]:
    cases = []
    for r in comparison.results:
        c = r.completion()
        cases.append(
            {
                "case": str(r.case),
                "jobs": {j.name: list(j.hosts) for j in r.plan.jobs},
                "completion_s": None if c is None else {"median": c.median, "worst": c.worst},
                "predicted_max_over_mean": None if r.predicted is None else r.predicted.max_over_mean,
                "runs": [
                    {
                        "jobs": [j.__dict__ for j in run.jobs],
                        "uplink_max_over_mean": run.uplink_balance(fabric).max_over_mean,
                        "uplink_bytes": {str(p): n for p, n in run.uplink_bytes(fabric).items()},
                        "stalls": run.run.stalls(),
                    }
                    for run in r.runs
                ],
            }
        )
    return {
        "transport": comparison.transport.__dict__,
        "placement": comparison.placement.value,
        "cases": cases,
    }


async def experiment(
    emu: Emulation, args: argparse.Namespace, modes: list[PathMode], algorithms: list[Algorithm]
) -> Comparison:
    nic_gbps = min(link.gbps for link in emu.fabric.links if NicPort in (type(link.a), type(link.b)))
    transport = Transport(line_rate_pps=args.rate_pps, nic_gbps=nic_gbps, cc=args.cc, timeout_s=args.timeout)

    def progress(case: Case, i: int, run: CollectiveRun) -> None:
        times = ", ".join(f"{j.name} {'-' if j.seconds is None else f'{j.seconds:.2f}s'}" for j in run.jobs)
        print(f"  {case} run {i + 1}: {times}", flush=True)

    async with EmulationController(emu) as ctl:
        await ctl.wait_connected()
        report = await ctl.push()
        if not report.ok:
            raise EmulationError("programming the fabric failed: " + "; ".join(report.errors[:3]))
        with shaped_fabric(emu, args.rate_pps, transport.nic_gbps):
            return await compare(
                Lab(emu, ctl),
                scenarios(args),
                modes=modes,
                algorithms=algorithms,
                runs=args.runs,
                transport=transport,
                placement=Placement(args.placement),
                payload_bytes=args.payload_bytes,
                on_run=progress,
            )


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        modes = [PathMode(m.strip()) for m in args.modes.split(",") if m.strip()]
        algorithms = [Algorithm(a.strip()) for a in args.algorithms.split(",") if a.strip()]
    except ValueError as exc:
        p.error(str(exc))
    if args.runs < 1 or args.size < 1 or args.ranks < 1 or args.jobs < 1:
        p.error("--runs, --size, --ranks and --jobs must be positive")
    try:
        fabric = load_fabric(args.topology)
    except (TopologyError, OSError) as exc:
        p.error(f"--topology: {exc}")
    if args.ranks * args.jobs > len(fabric.hosts):
        p.error(
            f"{args.jobs} jobs of {args.ranks} ranks need more hosts than {fabric.name} has "
            f"({len(fabric.hosts)})"
        )
    missing = missing_prerequisites()
    why = cli_missing()
    if why:
        missing.append(why)
    if missing:
        print("bench_collectives: cannot run:", "; ".join(missing))
        return MISSING

    runs = run_dir(fabric)
    emu = Emulation(fabric, args.topology, runs, args.log_level)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = (args.out or runs / f"bench-collectives-{stamp}").resolve()
    png = (args.png or out / "collectives.png").resolve()
    if emu.is_up():
        print(
            f"bench_collectives: {fabric.name} is already up; the bench brings up its own "
            "(`hpnctl emulate down` first)"
        )
        return FAILED
    try:
        try:
            if emu.leftovers():
                print(f"{fabric.name}: removing leftovers of an earlier run ({emu.leftovers().describe()})")
                emu.down()
            seconds = emu.up()
            print(f"{fabric.name}: up in {seconds:.1f}s; output in {out}", flush=True)
            comparison = asyncio.run(experiment(emu, args, modes, algorithms))
        finally:
            with interrupts_deferred():
                emu.down()
            print(f"{fabric.name}: taken down")
    except KeyboardInterrupt:
        print("interrupted: the fabric was taken down")
        return INTERRUPTED
    except (EmulationError, RuntimeError, ValueError) as exc:
        print(f"bench_collectives: {exc}")
        return FAILED

    print(
        f"\n{args.jobs} jobs x {args.ranks} ranks ({args.placement}), {args.size:,} B per rank, "
        f"NIC ports at {args.rate_pps:g} pkt/s, transport {args.cc}, {args.runs} runs per case"
    )
    for line in collectives_report.table(comparison, fabric):
        print(line)
    print()
    for line in collectives_report.targets(comparison, fabric, SEVERAL):
        print(line)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results_json(comparison, fabric), indent=1, default=str))
    try:
        print(f"plot: {collectives_report.plot(comparison, fabric, png, SEVERAL)}")
    except PlottingUnavailable as exc:
        print(str(exc))
    print(f"results: {out / 'results.json'}")
    incomplete = [str(r.case) for r in comparison.results if not all(run.complete for run in r.runs)]
    if incomplete:
        print("incomplete runs (a lost packet stalls the paced transport): " + ", ".join(incomplete))
    return FAILED if not comparison.results else 0


if __name__ == "__main__":
    sys.exit(main())

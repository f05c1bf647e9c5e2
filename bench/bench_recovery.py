#!/usr/bin/env python3
"""Recovery under `hpnctl run` on the emulated fabric, with no command.

    sudo .venv/bin/python bench/bench_recovery.py [topologies/hpn-mini.yaml] [--repeat 5]
        [--interval-ms 20] [--flows-per-pair 3] [--cpu-seconds 5] [--no-probe-cost] [--no-wiring]

The fabric is brought up under a name of its own (`<name>-bench`, so a fabric brought up by
hand is never touched) and `hpnctl run` is started on it as a process of its own, with its
default timers (probes every 100 ms, a cable down after 3 misses). Nobody else is told of
any failure: no `hpnctl link`, no failure view, the hosts' routes are left alone. For each
kind, `--repeat` times (hpn.experiments.recovery):

- a ToR-agg cable pulled in the patch panel (a different cable each time);
- a host cable on the receiver's side (a different NIC port each time);
- an agg's bmv2 killed, then started again empty (the runner re-programs it);

with paced UDP flows between the host pairs the cut affects (hpn.emulation.traffic), it
prints the time from the cut until every flow it hit delivers again (from the receivers'
sequence numbers) and the flows that never did while the failure lasted, and, once the
cut is undone, whether the fabric came back to the intact state (the runner's failure view
empty, no switch's entries differing from the intact fabric's). Then the median and the
worst per kind against the targets (< 1 s, 0 lost flows), the machine's load over each
kind (hpn.netlab.load), the runner's own metrics, and a PNG of every cut's timeline from
the runner's events (matplotlib, optional).

Then the probe load's CPU cost: CPU seconds per second of the runner process and of the
bmv2 processes with probes every 100 ms and with one probe round an hour, alternated, as
a ratio from this run. Then the swapped cables: the fabric again with two ToR-agg cables
crossed at an agg in the patch panel, pushed, and `hpnctl wiring` checking it live.

Needs root, Mininet, bmv2 and the compiled program; without them it says what is missing
and exits 4. It is a benchmark: it exits 0 whether or not the targets are met (1 when the
run itself failed); the numbers move with the machine's load, printed next to them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "controller"))

from hpn.cli.common import run_dir  # noqa: E402
from hpn.emulation.cut_run import CutOutcome  # noqa: E402
from hpn.emulation.emulation import Emulation, EmulationError, missing_prerequisites  # noqa: E402
from hpn.emulation.plotting import PlottingUnavailable  # noqa: E402
from hpn.emulation.runner_process import RunnerError  # noqa: E402
from hpn.experiments.recovery import (  # noqa: E402
    ProbeCost,
    RecoveryRun,
    WiringRun,
    measure_probe_cost,
    run_campaign,
    swapped_wiring,
)
from hpn.experiments.recovery.report import cut_line, lines, plot  # noqa: E402
from hpn.topology.errors import TopologyError  # noqa: E402
from hpn.topology.loader import load_fabric  # noqa: E402

TOPOLOGY = ROOT / "topologies" / "hpn-mini.yaml"
FAILED, MISSING = 1, 4


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench_recovery.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("topology", nargs="?", type=Path, default=TOPOLOGY)
    p.add_argument("--repeat", type=int, default=5, help="cuts per kind (default 5)")
    p.add_argument("--interval-ms", type=int, default=20, help="packet interval of each flow (default 20)")
    p.add_argument("--flows-per-pair", type=int, default=3, help="flows per host pair (default 3)")
    p.add_argument("--cpu-seconds", type=float, default=5.0, help="each probe-cost phase (default 5)")
    p.add_argument("--no-probe-cost", action="store_true", help="skip the probe load's CPU cost")
    p.add_argument("--no-wiring", action="store_true", help="skip the swapped-cables run")
    return p


def renamed(topology: Path, name: str, into: Path) -> Path:
    """A copy of `topology` whose fabric is called `name` (its own namespaces and run dir)."""
    lines = topology.read_text().splitlines()
    into.mkdir(parents=True, exist_ok=True)
    copy = into / f"{name}.yaml"
    copy.write_text("\n".join(f"name: {name}" if ln.startswith("name:") else ln for ln in lines) + "\n")
    return copy


def progress(kind: str, outcome: CutOutcome) -> None:
    print("  " + cut_line(kind, outcome), flush=True)


async def measure(emu: Emulation, args: argparse.Namespace) -> tuple[RecoveryRun, ProbeCost | None]:
    run = await run_campaign(
        emu, args.repeat, args.interval_ms / 1000, args.flows_per_pair, progress=progress
    )
    cost = None
    if not args.no_probe_cost:
        print("probe load: alternating the runner's probe interval ...", flush=True)
        cost = await measure_probe_cost(emu, args.cpu_seconds)
    return run, cost


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for name in ("repeat", "interval_ms", "flows_per_pair"):
        if getattr(args, name) < 1:
            parser().error(f"--{name.replace('_', '-')} must be at least 1")
    missing = missing_prerequisites()
    if missing:
        print("cannot emulate here:\n  - " + "\n  - ".join(missing), file=sys.stderr)
        return MISSING
    try:
        base = load_fabric(args.topology).name
    except TopologyError as exc:
        print(f"{args.topology}: {exc}", file=sys.stderr)
        return 2
    name = f"{base}-bench"
    where = run_dir(load_fabric(args.topology)).parent / name
    topology = renamed(args.topology, name, where)
    fabric = load_fabric(topology)
    emu = Emulation(fabric, topology, where)
    if emu.leftovers():
        emu.down()
    logging.basicConfig(
        filename=where / "bench.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    print(
        f"{name}: bringing the fabric up, then hpnctl run on it (log: {where / 'bench.log'}) ...", flush=True
    )
    try:
        emu.up()
        run, cost = asyncio.run(measure(emu, args))
    except (EmulationError, RunnerError, RuntimeError) as exc:
        print(f"the run failed: {exc}", file=sys.stderr)
        return FAILED
    finally:
        emu.down()
    wiring: WiringRun | None = None
    if not args.no_wiring:
        wiring_name = f"{base}-crossed"
        print(f"{wiring_name}: two cables crossed, pushed, hpnctl wiring on the switches ...", flush=True)
        where_crossed = where.parent / wiring_name
        wiring = swapped_wiring(renamed(args.topology, wiring_name, where_crossed), where_crossed)
    print()
    for line in lines(run, cost, wiring):
        print(line)
    png = where / "reports" / f"recovery-{datetime.now():%Y%m%d-%H%M%S}.png"
    try:
        print(f"timeline: {plot(run, png)}")
    except PlottingUnavailable as exc:
        print(f"note: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

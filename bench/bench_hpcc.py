#!/usr/bin/env python3
"""HPCC closed-loop on the emulated fabric: an N:1 incast without congestion control and with HPCC.

Brings up topologies/hpcc-incast.yaml (3 bmv2 switches, one rail, one plane), programs it
with the controller, and slows the receiver's ToR port (the bottleneck) to the NICs' scaled
line rate with bmv2's queue controls. Then, once per mode, N senders in the other segment
send to one receiver with the agents of hpn.hpcc (`python -m hpn.hpcc send|receive`, one
process each in its host's namespace): N - 1 start together, the last joins later. First a
single slow flow measures the agents' RTT, which sets HPCC's T (unless --base-rtt-us).

Printed side by side: the bottleneck queue (median, p99) from INT (the last hop's qlen in
every data packet) and from bmv2 (the port's byte-queue register read over Thrift), goodput
as a share of the bottleneck, Jain's fairness after the join, the time to converge after the
join, packet counts, and HPCC's p99 over no CC's. A PNG shows the queue and the per-sender
rates over time; the logs of every agent stay in the output directory, with results.json.
docs/hpcc.md ("The incast experiment") defines every number and lists the limits.

Needs root, Mininet, bmv2 (simple_switch_grpc, simple_switch_CLI) and the compiled program;
without them it says what is missing and exits 4. This is a benchmark, not a test: absolute
numbers move with the machine's load; it exits 0 whether or not the goals are met, 1 when
the experiment itself did not work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "controller"))


from hpn.cli.common import CliConsole, run_dir  # noqa: E402
from hpn.emulation.emulation import Emulation, EmulationError, interrupts_deferred, missing_prerequisites  # noqa: E402
from hpn.emulation.emulation_controller import EmulationController  # noqa: E402
from hpn.emulation.plotting import PlottingUnavailable  # noqa: E402
from hpn.experiments.incast import (  # noqa: E402
    Comparison,
    IncastError,
    IncastSettings,
    compare,
    goals,
    incast_setup,
)
from hpn.experiments.incast import report as incast_report  # noqa: E402
from hpn.netlab.bmv2 import cli_missing  # noqa: E402
from hpn.topology.errors import TopologyError  # noqa: E402
from hpn.topology.loader import load_fabric  # noqa: E402

TOPOLOGY = ROOT / "topologies" / "hpcc-incast.yaml"
MISSING, FAILED, BAD_ARGS, INTERRUPTED = 4, 1, 2, 130


def _positive(kind: type[float] | type[int]) -> Any:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0 or (isinstance(value, float) and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    d = IncastSettings()
    p = argparse.ArgumentParser(
        prog="bench_hpcc.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--senders", "-n", type=_positive(int), default=d.senders, help="N (>= 3; the last joins later)"
    )
    p.add_argument(
        "--rate-pps",
        type=_positive(float),
        default=d.line_rate_pps,
        help="bottleneck rate = the NICs' line rate, packets/s (bmv2 set_queue_rate)",
    )
    p.add_argument(
        "--queue-depth",
        type=_positive(int),
        default=d.queue_depth,
        help="bottleneck buffer, packets (set_queue_depth)",
    )
    p.add_argument(
        "--before-join", type=_positive(float), default=3.0, help="seconds the first N-1 senders run alone"
    )
    p.add_argument("--after-join", type=_positive(float), default=6.0, help="seconds all N run")
    p.add_argument(
        "--base-rtt-us", type=_positive(float), help="HPCC's T [default: measured, the p90 of one flow's RTT]"
    )
    p.add_argument(
        "--modes",
        default="none,hpcc",
        help="comma-separated congestion-control modes: none, hpcc [none,hpcc]",
    )
    p.add_argument("--topology", type=Path, default=TOPOLOGY, help="[topologies/hpcc-incast.yaml]")
    p.add_argument(
        "--out", type=Path, help="output directory [$HPN_RUN_DIR or run/, then <fabric>/bench-hpcc-<time>]"
    )
    p.add_argument("--png", type=Path, help="the plot [<out>/hpcc-incast.png]")
    p.add_argument("--log-level", default="warn", help="bmv2 log level [warn]")
    return p


def settings_from(args: argparse.Namespace) -> IncastSettings:
    kwargs: dict[str, Any] = {
        "senders": args.senders,
        "line_rate_pps": args.rate_pps,
        "queue_depth": args.queue_depth,
        "before_join_s": args.before_join,
        "after_join_s": args.after_join,
    }
    if args.base_rtt_us is not None:
        kwargs["base_rtt_us"] = args.base_rtt_us
    return IncastSettings(**kwargs)


def results_json(comparison: Comparison) -> dict[str, Any]:
    outcomes = {}
    for mode, o in comparison.outcomes.items():
        outcomes[mode] = {
            "seconds": o.seconds,
            "join_s": o.join_s,
            "buffer_bytes": o.buffer_bytes,
            "queue_int": None if o.queue_int is None else asdict(o.queue_int),
            "queue_bmv2": None if o.queue_bmv2 is None else asdict(o.queue_bmv2),
            "goodput_share": o.goodput_share,
            "busy_share": o.busy_share,
            "fairness": o.fairness,
            "fairness_before": o.fairness_before,
            "windowed_fairness": o.windowed_fairness,
            "convergence_s": o.convergence_s,
            "senders": {k: asdict(c) for k, c in o.senders.items()},
        }
    setup = comparison.setup
    return {
        "settings": asdict(comparison.settings),
        "receiver": str(setup.receiver.ip),
        "senders": [str(n.ip) for n in setup.senders],
        "bottleneck": setup.bottleneck,
        "rtt": None if comparison.rtt is None else asdict(comparison.rtt),
        "outcomes": outcomes,
        "goals": [asdict(g) for g in goals(comparison)],
    }


async def program(emu: Emulation) -> list[str]:
    async with EmulationController(emu) as ctl:
        await ctl.wait_connected()
        report = await ctl.push()
    return list(report.errors)


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if args.senders < 3:
        p.error(f"--senders: an incast needs at least 3 senders, not {args.senders}")
    if not modes or any(m not in ("none", "hpcc") for m in modes) or len(set(modes)) != len(modes):
        p.error(f"--modes: a comma-separated list of distinct modes out of none, hpcc; not {args.modes!r}")
    try:
        settings = settings_from(args)
    except ValueError as exc:
        p.error(str(exc))
    try:
        fabric = load_fabric(args.topology)
    except (TopologyError, OSError) as exc:
        p.error(f"--topology: {exc}")
    runs = run_dir(fabric)
    try:
        emu = Emulation(fabric, args.topology, runs, args.log_level)
        incast_setup(emu, settings.senders)  # a fabric that cannot give this incast: before anything starts
    except ValueError as exc:
        p.error(f"--topology: {exc}")
    # bad arguments are named first, on any machine; then what this one lacks
    missing = missing_prerequisites()
    why = cli_missing()
    if why:
        missing.append(why)
    if missing:
        print("bench_hpcc: cannot run:", "; ".join(missing))
        return MISSING

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = (args.out or runs / f"bench-hpcc-{stamp}").resolve()
    png = (args.png or out / "hpcc-incast.png").resolve()
    console = CliConsole(soft_wrap=True, highlight=False)
    if emu.is_up():
        print(
            f"bench_hpcc: {fabric.name} is already up; the bench brings up its own "
            "(`hpnctl emulate down` first)"
        )
        return FAILED
    try:
        try:
            if emu.leftovers():
                console.print(
                    f"{fabric.name}: removing leftovers of an earlier run ({emu.leftovers().describe()})"
                )
                emu.down()
            seconds = emu.up()
            errors = asyncio.run(program(emu))
            if errors:
                raise EmulationError("programming the fabric failed: " + "; ".join(errors[:3]))
            console.print(f"{fabric.name}: up and programmed in {seconds:.1f}s; output in {out}")
            comparison = compare(
                emu,
                settings,
                out,
                modes=modes,
                measure_base_rtt=args.base_rtt_us is None,
                on_run=lambda step: console.print(f"  {'measuring the RTT' if step == 'rtt' else step} ..."),
            )
        finally:
            with interrupts_deferred():
                emu.down()
            console.print(f"{fabric.name}: taken down")
    except KeyboardInterrupt:
        console.print("interrupted: the fabric was taken down")
        return INTERRUPTED
    except (EmulationError, IncastError, ValueError) as exc:
        console.print(f"bench_hpcc: {exc}")
        return FAILED

    console.print(incast_report.table(comparison))
    console.print(incast_report.senders_table(comparison))
    for line in incast_report.notes(comparison):
        console.print(line)
    (out / "results.json").write_text(json.dumps(results_json(comparison), indent=1))
    try:
        console.print(f"plot: {incast_report.plot(comparison, png)}")
    except PlottingUnavailable as exc:
        console.print(str(exc))
    console.print(f"results: {out / 'results.json'}; agent logs: {out}/<mode>/")
    problems = comparison.problems()
    for problem in problems:
        console.print(f"[red]problem:[/red] {problem}")
    return FAILED if problems else 0


if __name__ == "__main__":
    sys.exit(main())

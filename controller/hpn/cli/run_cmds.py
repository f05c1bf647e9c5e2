"""hpnctl wiring | run: the fabric's cables compared with the topology; the fabric kept."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from hpn.cli.common import Exit, console, fail, load, pipeline_schema
from hpn.cli.targets import switch_targets
from hpn.operations.events import JsonLines
from hpn.operations.hosts import HostTimers
from hpn.operations.liveness import Timers
from hpn.operations.metrics import OperationsMetrics, start_exporter
from hpn.operations.runner import FabricRunner
from hpn.operations.wiring import ObservedError, Verdict, check_wiring, observed_from_json
from hpn.runtime import SessionOptions

MS = 1_000_000

Topology = Annotated[Path, typer.Argument(help="topology YAML (topologies/*.yaml)", show_default=False)]


def wiring(
    topology: Topology,
    observed: Annotated[
        Path | None,
        typer.Option(
            "--observed",
            help='JSON of what the ports saw: {"neighbours": [{"switch", "port", "heard": "SW:PORT"}], '
            '"hosts": [{"switch", "port", "mac"}]}',
        ),
    ] = None,
) -> None:
    """Check every cable against the topology; name each one that differs (exit 1 when any does)."""
    fabric = load(topology)
    if observed is None:
        fail(
            Exit.BAD_INPUT,
            "--observed FILE is needed: a live check on the switches is not built yet "
            '(docs/operations.md, "Still to come")',
        )
    try:
        data = json.loads(observed.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(Exit.BAD_INPUT, f"{observed}: no such file")
    except (OSError, UnicodeDecodeError) as exc:
        fail(Exit.BAD_INPUT, f"{observed}: cannot read: {exc}")
    except json.JSONDecodeError as exc:
        fail(Exit.BAD_INPUT, f"{observed}: not JSON: {exc.msg} (line {exc.lineno})")
    try:
        report = check_wiring(fabric, observed_from_json(data, str(observed)))
    except ObservedError as exc:
        fail(Exit.BAD_INPUT, str(exc))
    for finding in report.problems:
        console.print(f"{finding.verdict.value}: {finding}")
    counts = report.counts()
    summary = ", ".join(f"{n} {verdict.value}" for verdict, n in counts.items() if n or verdict is Verdict.OK)
    console.print(f"{fabric.name}: {len(report.findings)} ports checked: {summary}")
    if not report.ok:
        raise typer.Exit(int(Exit.FAILED))


def run(
    topology: Topology,
    host: Annotated[
        str | None,
        typer.Option(help="reach every switch at HOST:<grpc_port from the topology> [default: 127.0.0.1]"),
    ] = None,
    targets_file: Annotated[
        Path | None, typer.Option("--targets", help="JSON {switch: address}; default: the emulation's")
    ] = None,
    interval_ms: Annotated[int, typer.Option("--interval-ms", help="probe interval per fabric port")] = 100,
    misses: Annotated[int, typer.Option(help="probe intervals missed before a cable is down")] = 3,
    hold_down_ms: Annotated[
        int, typer.Option("--hold-down-ms", help="a returning cable's wait (doubles per fall)")
    ] = 1000,
    counters_interval_ms: Annotated[
        int, typer.Option("--counters-interval-ms", help="how often the switches' counters are read")
    ] = 1000,
    host_interval_ms: Annotated[
        int, typer.Option("--host-interval-ms", help="ARP request interval per ToR host port")
    ] = 1000,
    host_misses: Annotated[
        int, typer.Option("--host-misses", help="host intervals missed before a host port is not seen")
    ] = 3,
    election_id: Annotated[int, typer.Option("--election-id", help="P4Runtime election id")] = 10,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="serve Prometheus metrics on this port")
    ] = None,
    metrics_address: Annotated[str, typer.Option("--metrics-address")] = "127.0.0.1",
    events: Annotated[
        Path | None, typer.Option("--events", help="write the events as JSON lines here [default: stdout]")
    ] = None,
) -> None:
    """Keep the fabric: push it, probe every cable, and on a failure write only the switches
    it affects, with no command; until interrupted (Ctrl-C, SIGTERM)."""
    fabric = load(topology)
    for option, value, least in (
        ("--interval-ms", interval_ms, 1),
        ("--misses", misses, 1),
        ("--hold-down-ms", hold_down_ms, 0),
        ("--counters-interval-ms", counters_interval_ms, 1),
        ("--host-interval-ms", host_interval_ms, 1),
        ("--host-misses", host_misses, 1),
    ):
        if value < least:
            fail(Exit.BAD_INPUT, f"{option} must be at least {least}, not {value}")
    timers = Timers(
        interval_ns=interval_ms * MS,
        misses=misses,
        hold_down_ns=hold_down_ms * MS,
        max_hold_down_ns=max(hold_down_ms, 30_000) * MS,
    )
    if election_id < 1:
        fail(Exit.BAD_INPUT, f"--election-id must be at least 1, not {election_id}")
    pipeline_schema()
    targets = switch_targets(fabric, host, targets_file, [s.name for s in fabric.switches])
    options = SessionOptions(own_all_tables=True, election_id=election_id)
    metrics = OperationsMetrics()
    if metrics_port is not None:
        try:
            start_exporter(metrics, metrics_port, metrics_address)
        except OSError as exc:
            fail(Exit.BAD_INPUT, f"--metrics-port {metrics_port}: cannot serve metrics there: {exc}")
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(events.open("a", encoding="utf-8")) if events else sys.stdout
        runner = FabricRunner(
            fabric,
            targets,
            options,
            emit=JsonLines(stream),
            metrics=metrics,
            timers=timers,
            counters_interval_ns=counters_interval_ms * MS,
            host_timers=HostTimers(interval_ns=host_interval_ms * MS, misses=host_misses),
        )
        asyncio.run(_run_until_signalled(runner))
    if runner.not_primary:
        fail(Exit.NOT_PRIMARY, "; ".join(runner.not_primary))


async def _run_until_signalled(runner: FabricRunner) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runner.run(stop)

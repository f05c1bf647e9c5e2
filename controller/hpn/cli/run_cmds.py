"""hpnctl wiring | run: the fabric's cables compared with the topology; the fabric kept."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from hpn.cli.common import Exit, console, err_console, fail, load, note, pipeline_schema
from hpn.cli.options import ConnectTimeout, Host, TargetsFile, Topology
from hpn.cli.targets import switch_targets
from hpn.operations.events import JsonLines
from hpn.operations.hosts import HostTimers
from hpn.operations.liveness import Timers
from hpn.operations.metrics import OperationsMetrics, start_exporter
from hpn.operations.runner import FabricRunner
from hpn.operations.wiring import ObservedError, Verdict, WiringReport, check_wiring, observed_from_json
from hpn.operations.wiring_probe import LiveWiring, ProbeSettings, probe_wiring
from hpn.runtime import Backoff, SessionOptions
from hpn.topology.model import Fabric

MS = 1_000_000
MAX_REFUSED_SHOWN = 5
"""Punted frames the live check refused, shown one a line at most (then how many more)."""


def wiring(
    topology: Topology,
    observed: Annotated[
        Path | None,
        typer.Option(
            "--observed",
            help='check this JSON of what the ports saw instead of the switches: {"neighbours": '
            '[{"switch", "port", "heard": "SW:PORT"}], "hosts": [{"switch", "port", "mac"}]}',
        ),
    ] = None,
    host: Host = None,
    targets_file: TargetsFile = None,
    election_id: Annotated[
        int,
        typer.Option(
            "--election-id",
            help="P4Runtime election id; below a running hpnctl run's (10), so the check never takes "
            "the switches' packet-ins from it",
        ),
    ] = 1,
    connect_timeout: ConnectTimeout = 10.0,
    collect_ms: Annotated[
        int,
        typer.Option("--collect-ms", help="how long the probes' and host requests' answers are collected"),
    ] = 2000,
    rounds: Annotated[
        int,
        typer.Option(
            help=f"probe rounds within --collect-ms; a silent host port is asked for "
            f"{ProbeSettings().search} other NICs it could be each round after the first"
        ),
    ] = 3,
) -> None:
    """Check every cable against the topology; name each one that differs (exit 1 when any does).

    Without --observed, on the switches: probes out of every fabric port and ARP requests
    out of every ToR host port, a few rounds, their answers collected for --collect-ms.
    Nothing is written: the switches must be programmed already (hpnctl push or run), their
    cpu_punt entries punt the probes (0x88B5) and, on the ToRs, the hosts' ARP replies."""
    fabric = load(topology)
    if observed is None:
        live = _live_wiring(fabric, host, targets_file, election_id, connect_timeout, collect_ms, rounds)
        _not_primary(live, election_id)
        _print_wiring(fabric, live.report, unchecked=len(live.unchecked))
        _exit_live(live)
        return
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
    _print_wiring(fabric, report)
    if not report.ok:
        raise typer.Exit(int(Exit.FAILED))


def _live_wiring(
    fabric: Fabric,
    host: str | None,
    targets_file: Path | None,
    election_id: int,
    connect_timeout: float,
    collect_ms: int,
    rounds: int,
) -> LiveWiring:
    for option, value in (("--collect-ms", collect_ms), ("--rounds", rounds), ("--election-id", election_id)):
        if value < 1:
            fail(Exit.BAD_INPUT, f"{option} must be at least 1, not {value}")
    if not (math.isfinite(connect_timeout) and connect_timeout > 0):
        fail(Exit.BAD_INPUT, f"--connect-timeout must be a positive number of seconds, not {connect_timeout}")
    if collect_ms < rounds:
        fail(Exit.BAD_INPUT, f"--collect-ms {collect_ms} leaves less than 1 ms to each of --rounds {rounds}")
    pipeline_schema()
    targets = switch_targets(fabric, host, targets_file, [s.name for s in fabric.switches])
    options = SessionOptions(election_id=election_id, connect_timeout=connect_timeout)
    settings = ProbeSettings(collect_ns=collect_ms * MS, rounds=rounds)
    return asyncio.run(probe_wiring(fabric, targets, options, settings, announce=note))


def _print_wiring(fabric: Fabric, report: WiringReport, unchecked: int = 0) -> None:
    for finding in report.problems:
        console.print(f"{finding.verdict.value}: {finding}")
    counts = report.counts()
    summary = ", ".join(f"{n} {verdict.value}" for verdict, n in counts.items() if n or verdict is Verdict.OK)
    not_checked = f"; {unchecked} not checked" if unchecked else ""
    console.print(f"{fabric.name}: {len(report.findings)} ports checked: {summary}{not_checked}")


def _not_primary(live: LiveWiring, election_id: int) -> None:
    """Another controller holds a switch: nothing was probed (exit 5)."""
    if live.not_primary:
        fail(
            Exit.NOT_PRIMARY,
            f"another controller is primary on {', '.join(live.not_primary)} (ours is election id "
            f"{election_id}): the switches' packet-ins go to it, so nothing was probed. Read its "
            "wiring state instead (hpnctl run: the metric hpn_cable_wiring_ok, the host_seen and "
            "refused events), or stop it and check again",
        )


def _exit_live(live: LiveWiring) -> None:
    """The live check's errors, each named, and its exit code: a switch unreachable (3), a
    switch not programmed or a cable wrong (1)."""
    for event in live.refused[:MAX_REFUSED_SHOWN]:
        note(f"refused at {event.subject}: {event.detail.get('why')}")
    if len(live.refused) > MAX_REFUSED_SHOWN:
        note(f"... and {len(live.refused) - MAX_REFUSED_SHOWN} more refused")
    problems = [
        f"{why}: its ports and the ports facing it are not checked" for why in live.unreachable.values()
    ]
    by_reason: dict[str, list[str]] = {}
    for name, why in sorted(live.unprogrammed.items()):
        by_reason.setdefault(why, []).append(name)
    problems += [
        f"not programmed: {', '.join(switches)}: {why}; their own ports are not checked "
        "(hpnctl push programs them)"
        for why, switches in by_reason.items()
    ]
    for line in problems[:-1]:
        err_console.print(f"[red]error:[/red] {line}")
    if live.unreachable:
        fail(Exit.UNREACHABLE, problems[-1])
    if live.unprogrammed:
        fail(Exit.FAILED, problems[-1])
    if not live.report.ok:
        raise typer.Exit(int(Exit.FAILED))


def run(
    topology: Topology,
    host: Host = None,
    targets_file: TargetsFile = None,
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
    # A switch that restarts is back in the failure view once its session returns: retry
    # every second at most, not the one-shot commands' 10 s (a restarted agg waited 9.6 s).
    options = SessionOptions(own_all_tables=True, election_id=election_id, backoff=Backoff(maximum=1.0))
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

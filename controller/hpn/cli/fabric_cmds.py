"""hpnctl validate | plan | push | diff | status | link: the fabric over P4Runtime."""

from __future__ import annotations

import asyncio
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hpn.cli.common import Exit, console, fail, failure_file, failure_view, load, run_dir, targets
from hpn.emulation import control as emulation
from hpn.pipeline import Entity, PipelineMismatch, load_schema, switch_entities
from hpn.routing.compute import compute_fabric_state
from hpn.routing.failures import FailureView
from hpn.routing.plan import plan_json, state_text, summarize, summary_text
from hpn.routing.reach import reachability
from hpn.routing.state import SwitchState
from hpn.runtime import (
    Diff,
    FabricSession,
    ProgressEvent,
    PushReport,
    SessionOptions,
    SwitchStatus,
    SwitchTarget,
)
from hpn.topology.model import Fabric

Topology = Annotated[Path, typer.Argument(help="topology YAML (topologies/*.yaml)", show_default=False)]
FailedLinks = Annotated[
    list[str], typer.Option("--failed-link", help="treat a link as down: SWITCH:PORT or HOST/nicR/pP")
]
FailedSwitches = Annotated[list[str], typer.Option("--failed-switch", help="treat a switch as down")]
Host = Annotated[str | None, typer.Option(help="reach every switch at HOST:<grpc_port from the topology>")]
TargetsFile = Annotated[
    Path | None, typer.Option("--targets", help="JSON {switch: address}; default: the emulation's")
]
Only = Annotated[list[str], typer.Option("--switch", help="only these switches (repeatable)")]
ConnectTimeout = Annotated[
    float, typer.Option("--connect-timeout", help="seconds to wait for each switch before giving up on it")
]


def session_options(connect_timeout: float) -> SessionOptions:
    if connect_timeout <= 0:
        fail(Exit.BAD_INPUT, f"--connect-timeout must be positive, not {connect_timeout}")
    return SessionOptions(own_all_tables=True, connect_timeout=connect_timeout)


def desired_states(fabric: Fabric, failures: FailureView) -> dict[str, SwitchState]:
    return compute_fabric_state(fabric, failures)


def validate(topology: Topology) -> None:
    """Check a topology file; print what it describes."""
    fabric = load(topology)
    states = desired_states(fabric, FailureView())
    summary = summarize(fabric, states)
    console.print(
        f"{topology}: ok: {len(fabric.switches)} switches "
        f"({len(fabric.tors())} ToRs, {len(fabric.aggs())} aggs), {len(fabric.hosts)} hosts, "
        f"{sum(len(h.nics) for h in fabric.hosts)} NICs, planes {list(fabric.planes)}"
    )
    if not summary.fits():
        fail(Exit.BAD_INPUT, "the computed tables do not fit the switch program's table sizes")


def plan(
    topology: Topology,
    entries: Annotated[str | None, typer.Option(help="also print entries: json or text")] = None,
    switch: Only = [],  # noqa: B006 - typer needs a literal default
    failed_link: FailedLinks = [],  # noqa: B006
    failed_switch: FailedSwitches = [],  # noqa: B006
    check: Annotated[bool, typer.Option(help="also check every NIC pair is reachable")] = False,
) -> None:
    """Per-switch entry counts (and the entries) the controller would install."""
    fabric = load(topology)
    failures = failure_view(fabric, failed_link, failed_switch)
    states = desired_states(fabric, failures)
    unknown = [s for s in switch if s not in states]
    if unknown:
        fail(Exit.BAD_INPUT, f"no such switch (or it is down): {', '.join(unknown)}")
    if entries is None:
        console.print(summary_text(summarize(fabric, states)), highlight=False)
    elif entries == "json":
        print(plan_json(states, switch or None))
    elif entries == "text":
        for name in switch or list(states):
            print(state_text(states[name]))
    else:
        fail(Exit.BAD_INPUT, f"--entries must be json or text, not {entries!r}")
    if check:
        report = reachability(fabric, failures, states)
        console.print(
            f"reachability: {report.pairs - report.unreachable}/{report.pairs} NIC pairs, "
            f"{len(report.plane_crossings)} plane crossings ({failures.describe()})"
        )
        if not report.ok:
            for line in (*report.examples, *report.plane_crossings, *report.faults):
                console.print(f"  {line}")
            raise typer.Exit(int(Exit.FAILED))


def _schema_or_fail() -> None:
    try:
        load_schema()
    except PipelineMismatch as exc:
        fail(Exit.BAD_INPUT, str(exc))


def _desired_and_targets(
    fabric: Fabric, failures: FailureView, host: str | None, targets_file: Path | None, only: list[str]
) -> tuple[dict[str, list[Entity]], list[SwitchTarget]]:
    """Entities of every up switch (or only those named) and where those switches are."""
    states = desired_states(fabric, failures)
    desired = {n: switch_entities(s) for n, s in states.items() if not only or n in only}
    return desired, [t for t in targets(fabric, host, targets_file) if t.name in desired]


async def _push(
    fabric: Fabric,
    failures: FailureView,
    host: str | None,
    targets_file: Path | None,
    only: list[str],
    options: SessionOptions,
) -> PushReport:
    desired, selected = _desired_and_targets(fabric, failures, host, targets_file, only)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("push", total=len(desired))
        done: set[str] = set()

        def progress(event: ProgressEvent) -> None:
            if event.stage in ("done", "failed") and event.switch not in done:
                done.add(event.switch)
                bar.update(task, completed=len(done), description=f"push {event.switch}")

        async with FabricSession(selected, options) as session:
            return await session.push(desired, progress)


def _report_exit(report: PushReport) -> None:
    table = Table("switch", "pipeline", "+", "~", "-", "=", "seconds", "result")
    for name, r in sorted(report.switches.items()):
        table.add_row(
            name,
            "pushed" if r.pipeline_pushed else "kept",
            str(r.inserted),
            str(r.modified),
            str(r.deleted),
            str(r.unchanged),
            f"{r.seconds:.2f}",
            "ok" if r.ok else ("[red]unreachable[/red]" if not r.reachable else "[red]errors[/red]"),
        )
    console.print(table)
    for err in report.errors:
        console.print(f"[red]{err}[/red]", highlight=False)
    console.print(f"{report.updates} updates in {report.seconds:.2f}s")
    if any(not r.reachable for r in report.switches.values()):
        raise typer.Exit(int(Exit.UNREACHABLE))
    if not report.ok:
        raise typer.Exit(int(Exit.FAILED))


def push(
    topology: Topology,
    host: Host = None,
    targets_file: TargetsFile = None,
    switch: Only = [],  # noqa: B006
    failed_link: FailedLinks = [],  # noqa: B006
    failed_switch: FailedSwitches = [],  # noqa: B006
    connect_timeout: ConnectTimeout = 10.0,
) -> None:
    """Program the fabric: pipeline where it differs, then only the entries that differ."""
    fabric = load(topology)
    _schema_or_fail()
    failures = failure_view(fabric, failed_link, failed_switch)
    options = session_options(connect_timeout)
    _report_exit(asyncio.run(_push(fabric, failures, host, targets_file, switch, options)))


def diff(
    topology: Topology,
    host: Host = None,
    targets_file: TargetsFile = None,
    switch: Only = [],  # noqa: B006
    failed_link: FailedLinks = [],  # noqa: B006
    failed_switch: FailedSwitches = [],  # noqa: B006
    verbose: Annotated[bool, typer.Option("-v", help="list every differing entry")] = False,
    connect_timeout: ConnectTimeout = 10.0,
) -> None:
    """What a push would change, per switch (exit 1 when anything differs)."""
    fabric = load(topology)
    schema = load_schema()
    failures = failure_view(fabric, failed_link, failed_switch)
    desired, selected = _desired_and_targets(fabric, failures, host, targets_file, switch)

    options = session_options(connect_timeout)

    async def run() -> dict[str, Diff]:
        async with FabricSession(selected, options) as session:
            return await session.diff(desired)

    changed = False
    unreachable = False
    for name, d in sorted(asyncio.run(run()).items()):
        console.print(f"{name}: {d.summary()}", highlight=False)
        if d.error is not None:
            unreachable = True
        elif not d.is_empty:
            changed = True
            if verbose:
                for line in d.lines(schema):
                    console.print(f"  {line}", highlight=False)
    if unreachable:
        raise typer.Exit(int(Exit.UNREACHABLE))
    if changed:
        raise typer.Exit(int(Exit.FAILED))


def status(
    topology: Topology,
    host: Host = None,
    targets_file: TargetsFile = None,
    connect_timeout: ConnectTimeout = 10.0,
) -> None:
    """Reachability, pipeline and entry counts of every switch."""
    fabric = load(topology)
    options = session_options(connect_timeout)

    async def run() -> dict[str, SwitchStatus]:
        async with FabricSession(targets(fabric, host, targets_file), options) as session:
            return await session.status()

    table = Table("switch", "reachable", "primary", "pipeline", "entries")
    down = False
    for name, st in sorted(asyncio.run(run()).items()):
        down |= not st.reachable
        pipeline = {True: "ok", False: "[yellow]differs[/yellow]", None: "?"}[st.pipeline_cookie_matches]
        table.add_row(
            name,
            "yes" if st.reachable else f"[red]no[/red] {st.error or ''}",
            "yes" if st.primary else "no",
            pipeline,
            str(st.total_entries),
        )
    console.print(table)
    if down:
        raise typer.Exit(int(Exit.UNREACHABLE))


def _link_change(
    topology: Path,
    what: str,
    down: bool,
    is_switch: bool,
    host: str | None,
    targets_file: Path | None,
    apply: bool,
    connect_timeout: float,
) -> None:
    fabric = load(topology)
    store = failure_file(fabric)
    links, switches = store.read()
    bucket = switches if is_switch else links
    if down and what not in bucket:
        bucket.append(what)
    elif not down and what in bucket:
        bucket.remove(what)
    try:
        failures = FailureView.parse(fabric, links, switches)
    except ValueError as exc:
        fail(Exit.BAD_INPUT, str(exc))
    store.write(links, switches)
    console.print(f"failure view: {failures.describe()}")
    if apply:
        _schema_or_fail()
        options = session_options(connect_timeout)
        # A running emulation: the cable goes (or comes back) first, its hosts follow the switches.
        _emulation_follows(fabric, links, switches, cables=True, hosts=down)
        _report_exit(asyncio.run(_push(fabric, failures, host, targets_file, [], options)))
        if not down:
            _emulation_follows(fabric, links, switches, cables=False, hosts=True)


def _emulation_follows(
    fabric: Fabric, links: list[str], switches: list[str], cables: bool, hosts: bool
) -> None:
    """A running emulation of this fabric sets its cables and/or hosts' routes to the failure view."""
    try:
        changes = emulation.apply_failures(run_dir(fabric), links, switches, cables, hosts)
    except emulation.ControlError as exc:
        fail(Exit.FAILED, f"the running emulation did not follow: {exc}")
    if changes is not None:
        console.print(f"emulation: {'; '.join(changes) or 'nothing to change'}", highlight=False)


class LinkState(str, Enum):
    DOWN = "down"
    UP = "up"


def link(
    state: Annotated[LinkState, typer.Argument(help="down: mark it failed; up: mark it working again")],
    topology: Topology,
    what: Annotated[str, typer.Argument(help="SWITCH:PORT, HOST/nicR/pP, or a switch name with --switch")],
    is_switch: Annotated[bool, typer.Option("--switch", help="WHAT is a whole switch")] = False,
    host: Host = None,
    targets_file: TargetsFile = None,
    apply: Annotated[bool, typer.Option(help="push the new state to the fabric")] = True,
    connect_timeout: ConnectTimeout = 10.0,
) -> None:
    """Take a link (or switch) down or up: record the failure view, recompute and push."""
    down = state is LinkState.DOWN
    _link_change(topology, what, down, is_switch, host, targets_file, apply, connect_timeout)

"""hpnctl validate | plan | push | diff | status | link: the fabric over P4Runtime."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hpn.cli.common import (
    Exit,
    console,
    err_console,
    fail,
    load,
    note,
    pipeline_files,
    pipeline_schema,
    run_dir,
)
from hpn.cli.failure_state import failure_file, failure_view, recorded_view
from hpn.cli.options import ConnectTimeout, Host, TargetsFile, Topology
from hpn.cli.p4rt_json import p4rt_json
from hpn.cli.targets import switch_targets
from hpn.desired import desired_entities, desired_states
from hpn.emulation import control_socket
from hpn.emulation.failure_steps import Step, failure_steps
from hpn.operations.counters import read_drops
from hpn.pipeline import Entity, Target
from hpn.pipeline.drop_reasons import DropReason
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
    SwitchReport,
    SwitchStatus,
    SwitchTarget,
)
from hpn.runtime import Progress as ProgressCallback
from hpn.topology.model import Fabric

FailedLinks = Annotated[
    list[str], typer.Option("--failed-link", help="treat a link as down: SWITCH:PORT or HOST/nicR/pP")
]
FailedSwitches = Annotated[list[str], typer.Option("--failed-switch", help="treat a switch as down")]
Only = Annotated[list[str], typer.Option("--switch", help="only these switches (repeatable)")]

Desired = dict[str, list[Entity]]


def session_options(connect_timeout: float) -> SessionOptions:
    if not (math.isfinite(connect_timeout) and connect_timeout > 0):
        fail(Exit.BAD_INPUT, f"--connect-timeout must be a positive number of seconds, not {connect_timeout}")
    return SessionOptions(own_all_tables=True, connect_timeout=connect_timeout)


def _check_selection(fabric: Fabric, states: Mapping[str, SwitchState], only: Sequence[str]) -> None:
    """Every `--switch` names a switch of the fabric that is up in the failure view."""
    unknown = [name for name in only if not fabric.has_switch(name)]
    if unknown:
        fail(Exit.BAD_INPUT, f"--switch: no such switch in {fabric.name}: {', '.join(unknown)}")
    down = [name for name in only if name not in states]
    if down:
        fail(Exit.BAD_INPUT, f"--switch: {', '.join(down)} is down in the failure view: it holds no tables")


def validate(topology: Topology) -> None:
    """Check a topology file; print what it describes."""
    fabric = load(topology)
    summary = summarize(fabric, desired_states(fabric, FailureView()))
    console.print(
        f"{topology}: ok: {len(fabric.switches)} switches "
        f"({len(fabric.tors())} ToRs, {len(fabric.aggs())} aggs), {len(fabric.hosts)} hosts, "
        f"{sum(len(h.nics) for h in fabric.hosts)} NICs, planes {list(fabric.planes)}"
    )
    if not summary.fits():
        fail(Exit.BAD_INPUT, "the computed tables do not fit the switch program's table sizes")


TargetOption = Annotated[
    Target, typer.Option("--target", help="the switch program the entries are for: bmv2 or tofino")
]
DeviceConfig = Annotated[
    Path | None,
    typer.Option(
        "--device-config", help="--target tofino: the pipeline file the switches load (bf-p4c's output)"
    ),
]


def plan(
    topology: Topology,
    entries: Annotated[
        str | None,
        typer.Option(
            help="also print entries: json or text (the routing view), or p4rt (P4Runtime entities)"
        ),
    ] = None,
    target: TargetOption = Target.BMV2,
    switch: Only = [],  # noqa: B006 - typer needs a literal default
    failed_link: FailedLinks = [],  # noqa: B006
    failed_switch: FailedSwitches = [],  # noqa: B006
    check: Annotated[bool, typer.Option(help="also check every NIC pair is reachable")] = False,
) -> None:
    """Per-switch entry counts (and the entries) the controller would install.

    With --entries only the entries go to stdout (the reachability check to stderr).
    """
    if entries not in (None, "json", "text", "p4rt"):
        fail(Exit.BAD_INPUT, f"--entries must be json, text or p4rt, not {entries!r}")
    fabric = load(topology)
    failures = failure_view(fabric, failed_link, failed_switch)
    states = desired_states(fabric, failures)
    _check_selection(fabric, states, switch)
    if entries is None:
        summary = summarize(fabric, states)
        if switch:
            rows = tuple(s for s in summary.switches if s.name in switch)
            summary = dataclasses.replace(summary, switches=rows, down=())
        console.print(summary_text(summary))
    elif entries == "json":
        print(plan_json(states, switch or None))
    elif entries == "p4rt":
        schema = pipeline_schema(target)
        print(p4rt_json(desired_entities(states, switch, target), schema))
    else:
        for name in dict.fromkeys(switch) or states:
            print(state_text(states[name]))
    if check:
        out = console if entries is None else err_console
        report = reachability(fabric, failures, states)
        out.print(
            f"reachability: {report.pairs - report.unreachable}/{report.pairs} NIC pairs, "
            f"{len(report.plane_crossings)} plane crossings ({failures.describe()})"
        )
        if not report.ok:
            for line in (*report.examples, *report.plane_crossings, *report.faults):
                out.print(f"  {line}")
            raise typer.Exit(int(Exit.FAILED))


@contextmanager
def _progress(total: int) -> Iterator[ProgressCallback]:
    """A progress bar on stderr while switches are pushed (only on a terminal, then erased)."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    with bar:
        task = bar.add_task("push", total=total)
        done: set[str] = set()

        def progress(event: ProgressEvent) -> None:
            if event.stage in ("done", "failed") and event.switch not in done:
                done.add(event.switch)
                bar.update(task, completed=len(done), description=f"push {event.switch}")

        yield progress


def _desired(
    fabric: Fabric,
    failures: FailureView,
    only: Sequence[str],
    host: str | None,
    targets_file: Path | None,
    target: Target,
    pipeline: tuple[Path, Path],
) -> tuple[Desired, list[SwitchTarget]]:
    """Entities of every up switch (or only those named) for `target`, and where those
    switches are."""
    states = desired_states(fabric, failures)
    _check_selection(fabric, states, only)
    desired = desired_entities(states, only, target)
    return desired, switch_targets(fabric, host, targets_file, desired, pipeline)


async def _push(targets: list[SwitchTarget], desired: Desired, options: SessionOptions) -> PushReport:
    with _progress(len(desired)) as progress:
        async with FabricSession(targets, options) as session:
            return await session.push(desired, progress)


def _cell(report: SwitchReport, value: object) -> str:
    """A column of the push table: nothing to say about a switch that was not reached."""
    return str(value) if report.reachable else "-"


def _report_exit(report: PushReport) -> None:
    table = Table("switch", "pipeline", "+", "~", "-", "=", "seconds", "result")
    for name, r in sorted(report.switches.items()):
        table.add_row(
            name,
            _cell(r, "pushed" if r.pipeline_pushed else "kept"),
            _cell(r, r.inserted),
            _cell(r, r.modified),
            _cell(r, r.deleted),
            _cell(r, r.unchanged),
            f"{r.seconds:.2f}",
            "ok" if r.ok else ("[red]unreachable[/red]" if not r.reachable else "[red]errors[/red]"),
        )
    console.print(table)
    for err in report.errors:
        console.print(f"[red]{err}[/red]")
    console.print(f"{report.updates} updates in {report.seconds:.2f}s")
    if any(not r.reachable for r in report.switches.values()):
        raise typer.Exit(int(Exit.UNREACHABLE))
    if any(not r.primary for r in report.switches.values()):
        raise typer.Exit(int(Exit.NOT_PRIMARY))  # lost arbitration: not a rejected entry
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
    target: TargetOption = Target.BMV2,
    device_config: DeviceConfig = None,
) -> None:
    """Program the fabric: pipeline where it differs, then only the entries that differ."""
    fabric = load(topology)
    options = session_options(connect_timeout)
    pipeline = pipeline_files(target, device_config)
    pipeline_schema(target)
    failures = failure_view(fabric, failed_link, failed_switch)
    desired, targets = _desired(fabric, failures, switch, host, targets_file, target, pipeline)
    _report_exit(asyncio.run(_push(targets, desired, options)))


def diff(
    topology: Topology,
    host: Host = None,
    targets_file: TargetsFile = None,
    switch: Only = [],  # noqa: B006
    failed_link: FailedLinks = [],  # noqa: B006
    failed_switch: FailedSwitches = [],  # noqa: B006
    verbose: Annotated[bool, typer.Option("-v", help="list every differing entry")] = False,
    connect_timeout: ConnectTimeout = 10.0,
    target: TargetOption = Target.BMV2,
    device_config: DeviceConfig = None,
) -> None:
    """What a push would change, per switch (exit 1 when anything differs)."""
    fabric = load(topology)
    options = session_options(connect_timeout)
    pipeline = pipeline_files(target, device_config)
    schema = pipeline_schema(target)
    failures = failure_view(fabric, failed_link, failed_switch)
    desired, targets = _desired(fabric, failures, switch, host, targets_file, target, pipeline)

    async def run() -> dict[str, Diff]:
        async with FabricSession(targets, options) as session:
            return await session.diff(desired)

    changed = False
    unreachable = False
    for name, d in sorted(asyncio.run(run()).items()):
        console.print(f"{name}: {d.summary()}")
        if d.error is not None:
            unreachable = True
        elif not d.is_empty:
            changed = True
            if verbose:
                for line in d.lines(schema):
                    console.print(f"  {line}")
    if unreachable:
        raise typer.Exit(int(Exit.UNREACHABLE))
    if changed:
        raise typer.Exit(int(Exit.FAILED))


def status(
    topology: Topology,
    host: Host = None,
    targets_file: TargetsFile = None,
    switch: Only = [],  # noqa: B006
    connect_timeout: ConnectTimeout = 10.0,
    target: TargetOption = Target.BMV2,
) -> None:
    """Reachability, pipeline, entry counts and drops by reason of every switch (or those
    named)."""
    fabric = load(topology)
    options = session_options(connect_timeout)
    pipeline_schema(target)
    unknown = [name for name in switch if not fabric.has_switch(name)]
    if unknown:
        fail(Exit.BAD_INPUT, f"--switch: no such switch in {fabric.name}: {', '.join(unknown)}")
    targets = switch_targets(fabric, host, targets_file, switch or [s.name for s in fabric.switches])

    async def run() -> tuple[dict[str, SwitchStatus], dict[str, dict[DropReason, int]]]:
        async with FabricSession(targets, options) as session:
            found = await session.status()
            drops = await read_drops(session, target)
        return found, drops

    table = Table("switch", "reachable", "primary", "pipeline", "entries", "drops")
    statuses, drops = asyncio.run(run())
    found = sorted(statuses.items())
    for name, st in found:
        if not st.reachable:
            table.add_row(name, "[red]no[/red]", "-", "-", "-", "-")
            continue
        pipeline = {True: "ok", False: "[yellow]differs[/yellow]", None: "?"}[st.pipeline_cookie_matches]
        entries = "?" if st.error else str(st.total_entries)
        table.add_row(
            name, "yes", "yes" if st.primary else "no", pipeline, entries, _drops_cell(drops.get(name))
        )
    console.print(table)
    for _, st in found:
        if st.error:
            console.print(f"[red]{st.error}[/red]")
    if any(not st.reachable for _, st in found):
        raise typer.Exit(int(Exit.UNREACHABLE))


def _drops_cell(drops: Mapping[DropReason, int] | None) -> str:
    """`NO_ROUTE 3, TTL_EXPIRED 1` (reasons that counted any), `0`, or `?` (unread)."""
    if drops is None:
        return "?"
    seen = [f"{reason.name} {count}" for reason, count in drops.items() if count]
    return ", ".join(seen) or "0"


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
    """Take a link (or switch) down or up: record the failure view, recompute and push.

    Nothing is recorded when no switch can be reached (the view would not be the fabric's).
    """
    down = state is LinkState.DOWN
    fabric = load(topology)
    store = failure_file(fabric)
    old_links, old_switches = store.read()
    links = [n for n in old_links if is_switch or n != what]
    switches = [n for n in old_switches if not is_switch or n != what]
    recorded_view(fabric, store, links, switches)  # what else is recorded still fits the fabric
    if down:
        (switches if is_switch else links).append(what)
    try:
        view = FailureView.parse(fabric, links, switches)
    except ValueError as exc:
        fail(Exit.BAD_INPUT, f"{what}: {exc}")
    if not apply:
        store.write(links, switches)
        console.print(f"failure view: {view.describe()}")
        return
    options = session_options(connect_timeout)
    pipeline_schema()
    involved = [s.name for s in fabric.switches if s.name not in set(old_switches) & set(switches)]
    targets = switch_targets(fabric, host, targets_file, involved)
    steps = failure_steps(old_links, old_switches, links, switches)

    async def run() -> PushReport | None:
        report = PushReport()
        async with FabricSession(targets, options) as session:
            if not await session.reachable():
                for name in session.names:
                    note(f"{session.switch(name).target}: {session.switch(name).last_error}")
                return None
            store.write(links, switches)
            console.print(f"failure view: {view.describe()}")
            for step in steps:
                if step.target == "emulation":
                    await asyncio.to_thread(_emulation_follows, fabric, step)
                else:
                    step_view = FailureView.parse(fabric, step.links, step.switches)
                    desired = desired_entities(desired_states(fabric, step_view))
                    with _progress(len(desired)) as progress:
                        report = await session.push(desired, progress)
        return report

    report = asyncio.run(run())
    if report is None:
        fail(
            Exit.UNREACHABLE,
            f"no switch of {fabric.name} is reachable: nothing changed, the failure view is not recorded",
        )
    _report_exit(report)


def _emulation_follows(fabric: Fabric, step: Step) -> None:
    """A running emulation of this fabric sets its cables and/or hosts' routes to the step's view."""
    try:
        changes = control_socket.apply_failures(
            run_dir(fabric), step.links, step.switches, step.cables, step.hosts
        )
    except control_socket.ControlError as exc:
        fail(Exit.FAILED, f"the running emulation did not follow: {exc}")
    if changes is not None:
        console.print(f"emulation: {'; '.join(changes) or 'nothing to change'}")

"""hpnctl emulate up|down|status and hpnctl demo: the fabric on Mininet + bmv2, end to end."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from hpn.cli.common import Exit, console, fail, load, run_dir
from hpn.cli.failure_state import failure_file
from hpn.cli.options import Topology
from hpn.emulation.emulation import (
    AlreadyUp,
    Emulation,
    EmulationError,
    MissingPrerequisites,
    StaleEmulation,
    interrupts_deferred,
    missing_prerequisites,
)
from hpn.emulation.emulation_controller import EmulationController
from hpn.emulation.runner_process import (
    RunnerError,
    RunnerRecord,
    running_runner,
    start_runner,
    stop_runner,
    switch_cables,
    wait_learnt,
)
from hpn.netlab.bmv2 import cli_missing
from hpn.runtime import PushReport
from hpn.topology.model import Fabric

if TYPE_CHECKING:  # the demo's modules (scapy, matplotlib) load only when the demo runs
    from hpn.emulation import checks
    from hpn.experiments.demo.report import DemoReport

LogLevel = Annotated[str, typer.Option(help="bmv2 log level: trace, debug, info, warn, error, off")]
INTERRUPTED = 130
HPCC_TOPOLOGY = "hpcc-incast.yaml"
COLLECTIVES_TOPOLOGY = "hpn-collectives.yaml"

emulate_app = typer.Typer(
    help="Emulated fabric: Mininet hosts with dual-port NICs, one bmv2 per switch, programmed by hpnctl.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _emulation(topology: Path, log_level: str = "warn") -> tuple[Fabric, Emulation]:
    fabric = load(topology)
    try:
        return fabric, Emulation(fabric, topology, run_dir(fabric), log_level)
    except ValueError as exc:
        fail(Exit.BAD_INPUT, str(exc))


def _log_to_file(path: Path) -> None:
    """Log records (e.g. a restarted switch being retried) go to a file, not over the report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _missing_or_exit() -> None:
    missing = missing_prerequisites()
    if missing:
        fail(Exit.MISSING_TOOL, "cannot emulate here:\n  - " + "\n  - ".join(missing))


async def _program(emu: Emulation) -> PushReport:
    async with EmulationController(emu) as ctl:
        await ctl.wait_connected()
        return await ctl.push()


def _push_summary(report: PushReport) -> str:
    return (
        f"programmed {len(report.switches)} switches: {report.updates} updates in {report.seconds:.1f}s"
        + ("" if report.ok else f", [red]{len(report.errors)} error(s)[/red]")
    )


def _start_runner(fabric: Fabric, emu: Emulation, metrics_port: int | None) -> None:
    """`hpnctl run` on the fabric, as a process of its own; returns once it learnt every cable."""
    started = time.monotonic()
    try:
        record = start_runner(emu.layout, emu.topology, metrics_port)
        console.print(f"hpnctl run started (pid {record.proc.pid}); waiting for it to push the fabric ...")
        wait_learnt(record, fabric)
    except RunnerError as exc:
        fail(Exit.FAILED, f"{exc}\nthe fabric stays up; `hpnctl emulate down` removes it")
    console.print(
        f"hpnctl run keeps {fabric.name}: pushed it and learnt its {len(switch_cables(fabric))} "
        f"switch cables from probes in {time.monotonic() - started:.1f}s",
        highlight=False,
    )
    _runner_lines(record)


def _runner_lines(record: RunnerRecord) -> None:
    console.print(
        f"  pid {record.proc.pid}; metrics {record.metrics_url}\n  events {record.events}; log {record.log}",
        highlight=False,
    )


@emulate_app.command("up")
def up(
    topology: Topology,
    log_level: LogLevel = "warn",
    run: Annotated[
        bool,
        typer.Option(
            "--run",
            help="instead of a one-shot push, start `hpnctl run` on the fabric (a process of its own, "
            "stopped by `emulate down`): it pushes, probes every cable and heals failures",
        ),
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            help="with --run: the runner's Prometheus port on 127.0.0.1 [default: a free one]",
        ),
    ] = None,
) -> None:
    """Start the fabric (namespaces, hosts, switches, cables), program it, leave it running."""
    if metrics_port is not None and not run:
        fail(Exit.BAD_INPUT, "--metrics-port is the runner's: it needs --run")
    if metrics_port is not None and not 1 <= metrics_port <= 65535:
        fail(Exit.BAD_INPUT, f"--metrics-port must be a TCP port (1-65535), not {metrics_port}")
    fabric, emu = _emulation(topology, log_level)
    _log_to_file(emu.layout.run_dir / "hpnctl.log")
    store = failure_file(fabric)
    try:
        if emu.is_up():
            console.print(
                f"{fabric.name} is already up ({emu.layout.run_dir}); `hpnctl emulate down` stops it"
            )
            runner = running_runner(emu.layout)
            if runner is not None:
                console.print("hpnctl run keeps it:")
                _runner_lines(runner)
            elif run:
                try:
                    _start_runner(fabric, emu, metrics_port)
                except KeyboardInterrupt:
                    with interrupts_deferred():
                        stop_runner(emu.layout)
                    console.print("interrupted: the runner is stopped, the fabric stays up")
                    raise typer.Exit(INTERRUPTED) from None
            return
        if store.path.exists() and not emu.leftovers():
            store.path.unlink()
            console.print(
                f"cleared the recorded failure view ({store.path}): a new fabric has every cable in"
            )
        seconds = emu.up()
        console.print(
            f"{fabric.name} is up in {seconds:.1f}s: {len(fabric.switches)} bmv2 switches, "
            f"{len(fabric.hosts)} hosts in namespace {emu.layout.namespace}(-<host>)",
            highlight=False,
        )
        if run:
            _start_runner(fabric, emu, metrics_port)
            report = None
        else:
            report = asyncio.run(_program(emu))
    except AlreadyUp as exc:
        console.print(str(exc))
        return
    except MissingPrerequisites as exc:
        fail(Exit.MISSING_TOOL, "cannot emulate here:\n  - " + "\n  - ".join(exc.missing))
    except StaleEmulation as exc:
        fail(Exit.FAILED, str(exc))
    except EmulationError as exc:
        fail(Exit.FAILED, str(exc))
    except KeyboardInterrupt:
        with interrupts_deferred():
            emu.down()
        console.print("interrupted: everything `up` had created is removed")
        raise typer.Exit(INTERRUPTED) from None
    if report is not None:
        console.print(_push_summary(report), highlight=False)
        for line in report.errors:
            console.print(f"[red]{line}[/red]", highlight=False)
    console.print(
        f"logs: {emu.layout.daemon_log}, {emu.layout.switch_dir}/<switch>.log; "
        f"hosts: ip netns exec {emu.layout.host_namespace(fabric.hosts[0].name)} ...",
        highlight=False,
    )
    if report is not None and not report.ok:
        fail(Exit.FAILED, "the fabric is up but not fully programmed (`hpnctl push` retries)")


@emulate_app.command("down")
def down(topology: Topology) -> None:
    """Stop the fabric and remove everything `up` created (also after a crash)."""
    _, emu = _emulation(topology)
    try:
        with interrupts_deferred():
            removed = emu.down()
    except EmulationError as exc:
        fail(Exit.FAILED, str(exc))
    except KeyboardInterrupt:  # arrived during the cleanup, which finished first
        console.print("interrupted (after the cleanup had finished)")
        raise typer.Exit(INTERRUPTED) from None
    if not removed:
        console.print("nothing to remove: no emulation of this fabric, no leftovers")
    for line in removed:
        console.print(f"removed {line}", highlight=False)


@emulate_app.command("status")
def status(topology: Topology) -> None:
    """Is the fabric up? Its processes, failures, unplugged cables, leftovers (exit 1 when not up)."""
    fabric, emu = _emulation(topology)
    st = emu.status()
    if st.up:
        alive = sum(st.switches.values())
        console.print(
            f"{fabric.name}: up; {alive}/{len(fabric.switches)} switches running, "
            f"{sum(st.hosts.values())}/{len(fabric.hosts)} hosts; run dir {emu.layout.run_dir}",
            highlight=False,
        )
        table = Table("switch", "process", "gRPC address")
        for name, ok in sorted(st.switches.items()):
            table.add_row(name, "running" if ok else "[red]dead[/red]", emu.layout.grpc_address(name))
        console.print(table)
        failed = [*st.failures.get("links", []), *st.failures.get("switches", [])]
        console.print(f"failure view: {', '.join(failed) or 'none'}", highlight=False)
        console.print(f"unplugged cables: {', '.join(st.unplugged) or 'none'}", highlight=False)
        runner = running_runner(emu.layout)
        console.print(
            "hpnctl run: " + ("keeps it" if runner else "not running (`emulate up --run` starts it)")
        )
        if runner is not None:
            _runner_lines(runner)
        return
    if st.leftovers:
        console.print(f"{fabric.name}: not up, but leftovers of a run exist: {st.leftovers.describe()}")
        console.print(f"`hpnctl emulate down {topology}` removes them", highlight=False)
        if st.error:
            console.print(f"last error: {st.error}", highlight=False)
    else:
        console.print(f"{fabric.name}: not up")
    raise typer.Exit(int(Exit.FAILED))


# -- demo ------------------------------------------------------------------------------------


@asynccontextmanager
async def _running(topology: Path, log_level: str, report: DemoReport | None) -> AsyncIterator[checks.Lab]:
    """Up, programmed, yielded as a Lab; always taken down afterwards."""
    from hpn.emulation import checks

    fabric, emu = _emulation(topology, log_level)
    if emu.is_up():
        fail(
            Exit.FAILED,
            f"{fabric.name} is already up; the demo brings up its own (`hpnctl emulate down` first)",
        )
    if emu.leftovers():
        console.print(f"{fabric.name}: removing leftovers of an earlier run ({emu.leftovers().describe()})")
        emu.down()
    console.print(f"[bold]{fabric.name}[/bold]: bringing the fabric up ...")
    seconds = emu.up()
    try:
        async with EmulationController(emu) as ctl:
            started = time.monotonic()
            await ctl.wait_connected()
            pushed = await ctl.push()
            console.print(f"{fabric.name}: up in {seconds:.1f}s; {_push_summary(pushed)}", highlight=False)
            if report is not None:
                report.up_seconds, report.push_seconds = seconds, time.monotonic() - started
                report.push_updates = pushed.updates
            if not pushed.ok:
                raise EmulationError("programming the fabric failed: " + "; ".join(pushed.errors[:3]))
            yield checks.Lab(emu, ctl)
    finally:
        with interrupts_deferred():
            emu.down()
        console.print(f"{fabric.name}: taken down")


R = TypeVar("R", bound="checks.CheckResult")


async def _step(name: str, check: Awaitable[R]) -> R:
    console.print(f"  {name} ...", end="")
    result = await check
    verdict = "[green]pass[/green]" if result.ok else "[red]FAIL[/red]"
    console.print(f" {verdict}: {result.summary()}", highlight=False)
    return result


async def _demo(
    topology: Path,
    merged: Path | None,
    hpcc: Path | None,
    log_level: str,
    report: DemoReport,
    *,
    collectives: Path | None = None,
) -> None:
    from hpn.emulation import checks
    from hpn.experiments.demo.hpcc_check import hpcc_incast
    from hpn.experiments.demo.operations_check import cut_and_heal

    async with _running(topology, log_level, report) as lab:
        dual_planes = len(lab.fabric.planes) > 1 and not lab.fabric.planes_merged
        report.connectivity = await _step("reachability", checks.connectivity(lab))
        if dual_planes:
            report.isolation = await _step("plane isolation", checks.plane_isolation(lab))
        report.int_telemetry = await _step("INT", checks.int_telemetry(lab))
        report.load_balancing = await _step("load balancing", checks.load_balancing(lab))
        report.polarization.append(await _step("hash polarization", checks.polarization(lab)))
        report.restart = await _step("switch restart", checks.restart(lab))
        report.failover = await _step("failures with traffic", checks.failover(lab))
        png = lab.emulation.layout.reports_dir / f"operations-{datetime.now():%Y%m%d-%H%M%S}.png"
        report.operations = await _step("hpnctl run: a cable cut, no command", cut_and_heal(lab, png))
    if merged is not None:
        async with _running(merged, log_level, None) as lab:
            report.polarization.append(await _step("hash polarization", checks.polarization(lab)))
    if hpcc is not None:
        async with _running(hpcc, log_level, None) as lab:
            work_dir = lab.emulation.layout.run_dir / "incast"
            report.hpcc = await _step("HPCC incast (no CC, then HPCC)", hpcc_incast(lab, work_dir))
    if collectives is not None:
        from hpn.experiments.demo.collectives_check import collective_jobs

        async with _running(collectives, log_level, None) as lab:
            png = report.run_dir / "reports" / f"collectives-{datetime.now():%Y%m%d-%H%M%S}.png"
            report.collectives = await _step("collectives, several jobs", collective_jobs(lab, png))


def _sibling(topology: Path, name: str) -> Path | None:
    """`name` next to `topology`, if it exists."""
    path = topology.with_name(name)
    return path if path.exists() else None


def _collectives_topology(topology: Path, given: Path | None) -> Path | None:
    """The collectives' fabric, given or next to `topology`; one that cannot hold them exits now."""
    from hpn.experiments.demo.collectives_check import unsuitable

    path = given if given is not None else _sibling(topology, COLLECTIVES_TOPOLOGY)
    if path is None:
        return None
    why = unsuitable(load(path))
    if why:
        fail(Exit.BAD_INPUT, f"the collectives' fabric {path}: {why} (--no-collectives skips them)")
    missing = cli_missing()
    if missing:
        fail(Exit.MISSING_TOOL, f"cannot run the collectives here: {missing} (--no-collectives skips them)")
    return path


def demo(
    topology: Topology,
    merged: Annotated[
        Path | None,
        typer.Option(
            help="planes-merged variant for the polarization comparison [default: <topology>-merged.yaml]"
        ),
    ] = None,
    no_merged: Annotated[bool, typer.Option("--no-merged", help="skip the planes-merged comparison")] = False,
    hpcc_topology: Annotated[
        Path | None,
        typer.Option(help=f"fabric for the HPCC incast (default: {HPCC_TOPOLOGY} next to <topology>)"),
    ] = None,
    no_hpcc: Annotated[bool, typer.Option("--no-hpcc", help="skip the HPCC incast (saves ~25 s)")] = False,
    collectives_topology: Annotated[
        Path | None,
        typer.Option(
            help=f"fabric for the collectives, >= 4 aggs per plane (default: {COLLECTIVES_TOPOLOGY} "
            "next to <topology>)"
        ),
    ] = None,
    no_collectives: Annotated[
        bool, typer.Option("--no-collectives", help="skip the collectives (saves ~30 s)")
    ] = False,
    log_level: LogLevel = "warn",
) -> None:
    """Bring the fabric up, check it end to end, report (tables + PNGs), take it down.

    Then a short HPCC incast on a fabric of its own, without and with HPCC (docs/hpcc.md), and
    collectives on another: several jobs under ECMP, planned ports, spray, adaptive
    (docs/collectives.md).
    """
    from hpn.experiments.demo.report import DemoReport, PlottingUnavailable, plot, render
    from hpn.experiments.incast import report as incast_report

    _missing_or_exit()
    fabric = load(topology)
    if merged is None and not no_merged:
        merged = _sibling(topology, f"{topology.stem}-merged{topology.suffix}")
    if no_merged:
        merged = None
    if hpcc_topology is None and not no_hpcc:
        hpcc_topology = _sibling(topology, HPCC_TOPOLOGY)
    if hpcc_topology is not None and not no_hpcc:
        load(hpcc_topology)  # a bad file is exit 2 now, not after the other checks
        why = cli_missing()
        if why:
            fail(Exit.MISSING_TOOL, f"cannot run the HPCC incast here: {why} (--no-hpcc skips it)")
    if no_hpcc:
        hpcc_topology = None
    collectives = None if no_collectives else _collectives_topology(topology, collectives_topology)
    out_dir = run_dir(fabric).resolve()
    _log_to_file(out_dir / "hpnctl.log")
    report = DemoReport(fabric.name, out_dir)
    if merged is None:
        report.notes.append(
            "no planes-merged topology given: polarization is measured on the dual-plane fabric only"
        )
    if hpcc_topology is None:
        report.notes.append(
            "the HPCC incast was not run (--no-hpcc, or no hpcc-incast.yaml next to the topology)"
        )
    if collectives is None:
        report.notes.append(
            f"the collectives were not run (--no-collectives, or no {COLLECTIVES_TOPOLOGY} next to "
            "the topology)"
        )
    try:
        asyncio.run(_demo(topology, merged, hpcc_topology, log_level, report, collectives=collectives))
    except KeyboardInterrupt:
        console.print("interrupted: the fabric was taken down")
        raise typer.Exit(INTERRUPTED) from None
    except (EmulationError, MissingPrerequisites) as exc:
        code = Exit.MISSING_TOOL if isinstance(exc, MissingPrerequisites) else Exit.FAILED
        fail(code, str(exc))
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        report.plot = plot(report, out_dir / "reports" / f"demo-{stamp}.png")
        if report.hpcc is not None and report.hpcc.comparison is not None:
            png = out_dir / "reports" / f"hpcc-{stamp}.png"
            report.hpcc_plot = incast_report.plot(report.hpcc.comparison, png)
    except PlottingUnavailable as exc:
        report.notes.append(str(exc))
    render(console, report)
    if not report.ok:
        raise typer.Exit(int(Exit.FAILED))

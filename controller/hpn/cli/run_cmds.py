"""hpnctl wiring: the fabric's cables compared with the topology."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hpn.cli.common import Exit, console, fail, load
from hpn.operations.wiring import ObservedError, Verdict, check_wiring, observed_from_json

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
            "--observed FILE is needed: reading the cables from the switches' probes needs the "
            "CPU path (docs/operations.md)",
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

"""What every hpnctl command shares: exit codes, loading input, run-state files."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from hpn.pipeline import BMV2_JSON_PATH, P4INFO_PATH
from hpn.routing.failures import FailureView
from hpn.runtime import SwitchTarget
from hpn.topology.errors import TopologyError
from hpn.topology.loader import load_fabric
from hpn.topology.model import Fabric

console = Console()
err_console = Console(stderr=True)


class Exit(IntEnum):
    """Exit codes scripts can rely on (documented in `hpnctl --help`)."""

    OK = 0
    FAILED = 1  # a switch rejected entries; `diff`: differences found
    BAD_INPUT = 2  # topology or arguments are wrong
    UNREACHABLE = 3  # a switch could not be reached
    MISSING_TOOL = 4  # bmv2, Mininet or root needed and absent


def fail(code: Exit, message: str) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(int(code))


def load(path: Path) -> Fabric:
    try:
        return load_fabric(path)
    except TopologyError as exc:
        fail(Exit.BAD_INPUT, f"invalid topology\n{exc}")


def run_dir(fabric: Fabric) -> Path:
    """Where the emulation and `hpnctl link` keep their state for this fabric."""
    return Path(os.environ.get("HPN_RUN_DIR", "run")) / fabric.name


@dataclass(frozen=True)
class FailureFile:
    """The failure view `hpnctl link down|up` maintains, as names."""

    path: Path

    def read(self) -> tuple[list[str], list[str]]:
        if not self.path.exists():
            return [], []
        try:
            data = json.loads(self.path.read_text())
            return list(data.get("links", [])), list(data.get("switches", []))
        except (ValueError, AttributeError) as exc:
            fail(Exit.BAD_INPUT, f"{self.path}: not a failure-view file ({exc}); remove it to start clean")

    def write(self, links: list[str], switches: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"links": sorted(links), "switches": sorted(switches)}, indent=1))
        tmp.replace(self.path)


def failure_file(fabric: Fabric) -> FailureFile:
    return FailureFile(run_dir(fabric) / "failures.json")


def failure_view(fabric: Fabric, links: list[str], switches: list[str]) -> FailureView:
    """Failures from the command line plus those recorded by `hpnctl link down`."""
    saved_links, saved_switches = failure_file(fabric).read()
    try:
        return FailureView.parse(fabric, [*saved_links, *links], [*saved_switches, *switches])
    except ValueError as exc:
        fail(Exit.BAD_INPUT, str(exc))


def targets(fabric: Fabric, host: str | None, targets_file: Path | None) -> list[SwitchTarget]:
    """Where each switch is: a targets file (an emulation writes one), else host:grpc_port."""
    file = targets_file or run_dir(fabric) / "targets.json"
    addresses: dict[str, str] = {}
    if host is None and file.exists():
        try:
            addresses = {str(k): str(v) for k, v in json.loads(file.read_text()).items()}
        except (ValueError, AttributeError) as exc:
            fail(Exit.BAD_INPUT, f"{file}: not a targets file ({exc})")
    elif targets_file is not None:
        fail(Exit.BAD_INPUT, f"{targets_file}: no such targets file")
    out = []
    for sw in fabric.switches:
        address = addresses.get(sw.name, f"{host or '127.0.0.1'}:{sw.grpc_port}")
        out.append(SwitchTarget(sw.name, address, sw.device_id, P4INFO_PATH, BMV2_JSON_PATH))
    return out

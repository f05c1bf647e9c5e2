"""What every hpnctl command shares: exit codes, output, loading the topology and the pipeline."""

from __future__ import annotations

import logging
import os
from enum import IntEnum
from pathlib import Path
from typing import NoReturn

import finsy as fy
import typer
from google.protobuf import text_format
from rich.console import Console, ConsoleDimensions

from hpn.pipeline import BMV2_JSON_PATH as BMV2_JSON_PATH  # the program every command uses;
from hpn.pipeline import P4INFO_PATH as P4INFO_PATH  # read from here at each use (tests repoint them)
from hpn.pipeline import PipelineMismatch, load_schema
from hpn.topology.errors import TopologyError
from hpn.topology.loader import load_fabric
from hpn.topology.model import Fabric

UNWRAPPED = 1 << 16
"""Line width when the output is not a terminal: wide enough that nothing is wrapped."""


class CliConsole(Console):
    """A console that wraps at the terminal's width, and not at all into a pipe or file:
    rich would otherwise break every line at 80 columns there, and scripts would read
    half messages and half table rows."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(UNWRAPPED, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


console = CliConsole(soft_wrap=True, highlight=False)
err_console = CliConsole(stderr=True, soft_wrap=True, highlight=False)


class Exit(IntEnum):
    """Exit codes scripts can rely on (documented in `hpnctl --help`)."""

    OK = 0
    FAILED = 1  # a switch rejected entries; `diff`: differences found
    BAD_INPUT = 2  # topology or arguments are wrong
    UNREACHABLE = 3  # a switch could not be reached
    MISSING_TOOL = 4  # bmv2, Mininet or root needed and absent


def fail(code: Exit, message: str) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(int(code))


def note(message: str) -> None:
    """Something the user should know that is not the command's output (on stderr)."""
    err_console.print(message)


def quiet_logs() -> None:
    """hpnctl prints every outcome itself, once; without a handler of its own Python would
    print the library's log records (connection retries, per-switch errors) on stderr too."""
    root = logging.getLogger()
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())


def load(path: Path) -> Fabric:
    try:
        return load_fabric(path)
    except TopologyError as exc:
        fail(Exit.BAD_INPUT, f"invalid topology\n{exc}")


def pipeline_schema() -> fy.P4Schema:
    """The compiled program's P4Info, checked against hpn.pipeline (exit 2 when it cannot be)."""
    if not BMV2_JSON_PATH.exists():
        fail(Exit.BAD_INPUT, f"{BMV2_JSON_PATH} not found: run `make p4` to compile the P4 program")
    try:
        return load_schema(P4INFO_PATH, BMV2_JSON_PATH)
    except PipelineMismatch as exc:
        fail(Exit.BAD_INPUT, str(exc))
    except (OSError, text_format.ParseError) as exc:
        fail(Exit.BAD_INPUT, f"{P4INFO_PATH}: not a P4Info file ({exc})")


def run_dir(fabric: Fabric) -> Path:
    """Where the emulation and `hpnctl link` keep their state for this fabric."""
    return Path(os.environ.get("HPN_RUN_DIR", "run")) / fabric.name

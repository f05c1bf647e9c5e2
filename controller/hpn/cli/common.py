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
from rich.align import AlignMethod
from rich.console import Console, ConsoleDimensions
from rich.rule import Rule
from rich.style import Style
from rich.text import TextType

from hpn.pipeline import BMV2_JSON_PATH as BMV2_JSON_PATH  # the program every command uses;
from hpn.pipeline import P4INFO_PATH as P4INFO_PATH  # read from here at each use (tests repoint them)
from hpn.pipeline import TOFINO_P4INFO_PATH as TOFINO_P4INFO_PATH
from hpn.pipeline import PipelineMismatch, Target, load_schema
from hpn.pipeline.p4info import not_found
from hpn.topology.errors import TopologyError
from hpn.topology.loader import load_fabric
from hpn.topology.model import Fabric

UNWRAPPED = 1 << 16
"""Line width when the output is not a terminal: wide enough that nothing is wrapped."""
PIPED_RULE_WIDTH = 80
"""Width of a rule (a heading line) when the output is not a terminal: a rule fills the
console's width, which there is UNWRAPPED."""


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

    def rule(
        self,
        title: TextType = "",
        *,
        characters: str = "─",
        style: str | Style = "rule.line",
        align: AlignMethod = "center",
    ) -> None:
        if self.is_terminal:
            super().rule(title, characters=characters, style=style, align=align)
        else:
            self.print(Rule(title, characters=characters, style=style, align=align), width=PIPED_RULE_WIDTH)


console = CliConsole(soft_wrap=True, highlight=False)
err_console = CliConsole(stderr=True, soft_wrap=True, highlight=False)


class Exit(IntEnum):
    """Exit codes scripts can rely on (documented in `hpnctl --help`)."""

    OK = 0
    FAILED = 1  # a switch rejected entries; `diff`: differences found
    BAD_INPUT = 2  # topology or arguments are wrong
    UNREACHABLE = 3  # a switch could not be reached
    MISSING_TOOL = 4  # bmv2, Mininet or root needed and absent
    NOT_PRIMARY = 5  # another controller is primary (higher election id): this one may not write


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


def pipeline_files(target: Target = Target.BMV2, device_config: Path | None = None) -> tuple[Path, Path]:
    """(P4Info, device config) a push to `target` uses. bmv2's are the committed ones; a
    Tofino switch needs the device config its P4Runtime server loads (bf-p4c's output,
    packed as that server wants it), which is not committed: `--device-config`."""
    if target is Target.BMV2:
        return P4INFO_PATH, device_config or BMV2_JSON_PATH
    if device_config is None:
        fail(Exit.BAD_INPUT, "--target tofino needs --device-config FILE (the pipeline the switch loads)")
    if not device_config.is_file():
        fail(Exit.BAD_INPUT, f"{device_config}: no such device config file")
    return TOFINO_P4INFO_PATH, device_config


def pipeline_schema(target: Target = Target.BMV2) -> fy.P4Schema:
    """The compiled program's P4Info for `target`, checked against hpn.pipeline (exit 2
    when it cannot be)."""
    p4info = P4INFO_PATH if target is Target.BMV2 else TOFINO_P4INFO_PATH
    if target is Target.BMV2 and not BMV2_JSON_PATH.exists():
        fail(Exit.BAD_INPUT, not_found(BMV2_JSON_PATH, target))
    try:
        return load_schema(p4info, BMV2_JSON_PATH if target is Target.BMV2 else None, target)
    except PipelineMismatch as exc:
        fail(Exit.BAD_INPUT, str(exc))
    except (OSError, text_format.ParseError) as exc:
        fail(Exit.BAD_INPUT, f"{p4info}: not a P4Info file ({exc})")


def run_dir(fabric: Fabric) -> Path:
    """Where the emulation and `hpnctl link` keep their state for this fabric."""
    return Path(os.environ.get("HPN_RUN_DIR", "run")) / fabric.name

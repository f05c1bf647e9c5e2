"""Command-line options more than one command takes, each written once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Topology = Annotated[Path, typer.Argument(help="topology YAML (topologies/*.yaml)", show_default=False)]
Host = Annotated[
    str | None,
    typer.Option(help="reach every switch at HOST:<grpc_port from the topology> [default: 127.0.0.1]"),
]
TargetsFile = Annotated[
    Path | None, typer.Option("--targets", help="JSON {switch: address}; default: the emulation's")
]
ConnectTimeout = Annotated[
    float, typer.Option("--connect-timeout", help="seconds to wait for each switch before giving up on it")
]

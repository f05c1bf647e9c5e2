#!/usr/bin/env python3
"""`make shell SW=<name>`: p4runtime-shell on one switch, from its own tool environment.

p4runtime-shell pins protobuf<3.21 and IPython 7, which conflict with finsy, so
it lives in .tools/p4rt-shell (created on first use). The switch's address
comes from the running emulation's targets file, else from the topology's
gRPC port on 127.0.0.1. The shell joins as a backup controller (election id
0,1) and reads the pipeline from the switch: it inspects, hpnctl programs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOL_ENV = ROOT / ".tools" / "p4rt-shell"
SHELL_PACKAGE = "p4runtime-shell==0.0.6"


def ensure_tool_env() -> Path:
    python = TOOL_ENV / "bin" / "python"
    probe = [str(python), "-c", "import p4runtime_sh"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {TOOL_ENV} with {SHELL_PACKAGE} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(TOOL_ENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", SHELL_PACKAGE], check=True)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topology", type=Path)
    parser.add_argument("switch")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "controller"))
    import typer

    from hpn.cli.targets import switch_targets
    from hpn.topology.errors import TopologyError
    from hpn.topology.loader import load_fabric

    try:
        fabric = load_fabric(args.topology)
    except TopologyError as exc:
        print(f"error: invalid topology\n{exc}", file=sys.stderr)
        return 2
    if not fabric.has_switch(args.switch):
        names = ", ".join(sorted(s.name for s in fabric.switches))
        print(f"error: no switch {args.switch!r} in {args.topology} (one of: {names})", file=sys.stderr)
        return 2
    try:
        (target,) = switch_targets(fabric, None, None, [args.switch])
    except typer.Exit as exc:  # the problem with the targets file is printed already
        return exc.exit_code
    python = ensure_tool_env()
    argv = [
        str(python), "-m", "p4runtime_sh",
        "--grpc-addr", target.address,
        "--device-id", str(target.device_id),
        "--election-id", "0,1",
    ]  # fmt: skip
    print(f"p4runtime-shell on {target}", file=sys.stderr)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main())

"""Two ToR-agg cables crossed in the patch panel, and what `hpnctl wiring` says of them.

The fabric is emulated with the first agg's two lowest ports crossed
(hpn.emulation.layout, `crossed`) and pushed with `hpnctl push`; then `hpnctl wiring
TOPOLOGY` checks it live (its probes and host requests on the switches), each a command of
its own, whose output and exit code are kept.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hpn.emulation.emulation import Emulation
from hpn.emulation.layout import Crossing
from hpn.emulation.wiring_seen import crossing_at_first_agg
from hpn.topology.loader import load_fabric

COLLECT_MS = 4000
"""Twice hpnctl wiring's default: the bmv2 switches share the machine with the rest."""


@dataclass(frozen=True)
class WiringRun:
    crossing: Crossing
    command: tuple[str, ...]
    output: str
    exit_code: int
    pushed: bool


def swapped_wiring(topology: Path, run_dir: Path) -> WiringRun:
    """Up with two cables crossed, pushed, checked live by `hpnctl wiring`, taken down.

    `topology` names a fabric no one else runs (the caller gives it a name of its own)."""
    fabric = load_fabric(topology)
    crossing = crossing_at_first_agg(fabric)
    emu = Emulation(fabric, topology, run_dir, crossed=[crossing])
    hpnctl = (sys.executable, "-m", "hpn.cli")
    targets = ("--targets", str(emu.layout.targets_file))
    command = (*hpnctl, "wiring", str(topology), *targets, "--collect-ms", str(COLLECT_MS))
    try:
        emu.up()
        push = subprocess.run((*hpnctl, "push", str(topology), *targets), capture_output=True, text=True)
        done = subprocess.run(command, capture_output=True, text=True)
    finally:
        emu.down()
    output = done.stdout + done.stderr
    if push.returncode != 0:
        output = f"(hpnctl push exited {push.returncode}: {push.stdout}{push.stderr})\n{output}"
    return WiringRun(crossing, command, output, done.returncode, push.returncode == 0)

"""Two ToR-agg cables crossed in the patch panel, and what `hpnctl wiring` says of them.

The fabric is emulated with the first agg's two lowest ports crossed
(hpn.emulation.layout, `crossed`); the runner runs in this process until every probed
port heard a probe; what the ports heard is written as the observed file
(hpn.emulation.wiring_seen) and `hpnctl wiring TOPOLOGY --observed FILE` is run on it as a
command, its output and exit code kept.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hpn.emulation.emulation import Emulation
from hpn.emulation.layout import Crossing
from hpn.emulation.runner_thread import RunnerThread
from hpn.emulation.wiring_seen import crossing_at_first_agg, every_port_heard, observation
from hpn.operations.wiring import observed_to_json
from hpn.topology.loader import load_fabric

HEARD_TIMEOUT = 60.0


@dataclass(frozen=True)
class WiringRun:
    crossing: Crossing
    observed_file: Path
    command: tuple[str, ...]
    output: str
    exit_code: int
    heard_all: bool


def swapped_wiring(topology: Path, run_dir: Path) -> WiringRun:
    """Up with two cables crossed, observe, take down, run `hpnctl wiring` on what was seen.

    `topology` names a fabric no one else runs (the caller gives it a name of its own)."""
    fabric = load_fabric(topology)
    crossing = crossing_at_first_agg(fabric)
    emu = Emulation(fabric, topology, run_dir, crossed=[crossing])
    try:
        emu.up()
        with RunnerThread(emu) as rt:
            heard_all = rt.wait_for(lambda _: every_port_heard(rt.runner), HEARD_TIMEOUT)
            observed = observation(rt.runner)
    finally:
        emu.down()
    path = run_dir / "observed.json"
    path.write_text(json.dumps(observed_to_json(observed), indent=1))
    command = (sys.executable, "-m", "hpn.cli", "wiring", str(topology), "--observed", str(path))
    done = subprocess.run(command, capture_output=True, text=True)
    return WiringRun(crossing, path, command, done.stdout + done.stderr, done.returncode, heard_all)

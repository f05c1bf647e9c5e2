"""`hpnctl wiring TOPOLOGY` on the switches of the emulated hpn-mini, pushed by `hpnctl
push`, each command a process of its own. Needs root, bmv2 and Mininet (each test skips
naming what is missing).

- Two ToR-agg cables crossed in the patch panel (hpn.emulation.layout's `crossed`): both
  are named, at all four of their ports, and the check exits 1.
- The fabric as cabled: every switch and host port is seen as the topology has it (the
  hosts' ARP replies, punted by their ToRs) and the check exits 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from hpn.emulation.emulation import Emulation, missing_prerequisites
from hpn.emulation.layout import Crossing
from hpn.emulation.wiring_seen import crossing_at_first_agg
from hpn.topology.loader import load_fabric

MINI = Path(__file__).resolve().parents[1] / "topologies" / "hpn-mini.yaml"
COLLECT_MS = "4000"
"""Twice the default: the bmv2 switches share two cores with whatever else runs."""

pytestmark = [pytest.mark.emulation, pytest.mark.root]


class Emulated:
    """A renamed hpn-mini in a run dir of its own, and hpnctl on its switches."""

    def __init__(self, tmp_path: Path, name: str, crossed: Sequence[Crossing]) -> None:
        lines = MINI.read_text().splitlines()
        self.topology = tmp_path / f"{name}.yaml"
        self.topology.write_text(
            "\n".join(f"name: {name}" if ln.startswith("name:") else ln for ln in lines) + "\n"
        )
        self.emulation = Emulation(
            load_fabric(self.topology), self.topology, tmp_path / name, crossed=crossed
        )
        self.env = {**os.environ, "HPN_RUN_DIR": str(tmp_path)}

    def hpnctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        targets = str(self.emulation.layout.targets_file)
        argv = [sys.executable, "-m", "hpn.cli", *args, str(self.topology), "--targets", targets]
        done = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=600)
        print(f"$ hpnctl {' '.join(args)} (exit {done.returncode})\n{done.stdout}{done.stderr}")
        return done


def _up_and_pushed(tmp_path: Path, name: str, crossed: Sequence[Crossing]) -> Iterator[Emulated]:
    """The emulation up with these cables crossed, pushed by `hpnctl push`; down after."""
    missing = missing_prerequisites()
    if missing:
        pytest.skip("; ".join(missing))
    emu = Emulated(tmp_path, name, crossed)
    try:
        emu.emulation.up()
        push = emu.hpnctl("push")
        assert push.returncode == 0, push.stdout + push.stderr
        yield emu
    finally:
        emu.emulation.down()


@pytest.fixture
def crossed(tmp_path: Path) -> Iterator[Emulated]:
    yield from _up_and_pushed(tmp_path, "hpn-wiring-x", [crossing_at_first_agg(load_fabric(MINI))])


@pytest.fixture
def intact(tmp_path: Path) -> Iterator[Emulated]:
    yield from _up_and_pushed(tmp_path, "hpn-wiring-ok", [])


def test_two_crossed_tor_agg_cables_are_named_at_all_four_ports(crossed: Emulated) -> None:
    done = crossed.hpnctl("wiring", "--collect-ms", COLLECT_MS)
    assert done.returncode == 1, done.stdout + done.stderr
    problems = sorted(line for line in done.stdout.splitlines() if " expected " in line)
    assert problems == [
        "mismatch: agg-p0-a0:1 expected tor-s0-r0-p0:129, found tor-s0-r1-p0:129",
        "mismatch: agg-p0-a0:2 expected tor-s0-r1-p0:129, found tor-s0-r0-p0:129",
        "mismatch: tor-s0-r0-p0:129 expected agg-p0-a0:1, found agg-p0-a0:2",
        "mismatch: tor-s0-r1-p0:129 expected agg-p0-a0:2, found agg-p0-a0:1",
    ]
    assert "hpn-wiring-x: 48 ports checked: 44 ok, 4 mismatch" in done.stdout


def test_the_fabric_as_cabled_passes_with_every_host_seen(intact: Emulated) -> None:
    done = intact.hpnctl("wiring", "--collect-ms", COLLECT_MS)
    assert done.returncode == 0, done.stdout + done.stderr
    # 48 ports ok: the 16 host ports among them answered with the NIC the topology cables there
    assert done.stdout.splitlines() == ["hpn-wiring-ok: 48 ports checked: 48 ok"]
    assert "32 fabric ports and 16 host ports probed" in done.stderr

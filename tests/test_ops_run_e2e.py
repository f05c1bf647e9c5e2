"""`hpnctl run` on the emulated hpn-mini, end to end. Needs root, bmv2 and Mininet (each
test skips naming what is missing).

- The runner learns every cable from its probes; a ToR-agg cable cut in the patch panel
  only (the hosts are not told) is declared down and its switches written with no
  command; plugged back, it is restored, and the fabric returns to the intact state: the
  failure view is empty and every switch holds exactly the intact fabric's entries.
- Two ToR-agg cables crossed in the patch panel: `hpnctl wiring` on what the ports heard
  names the mismatch at each of the four ports and exits 1.
- `hpnctl emulate up --run` starts the runner as a process of its own, with its metrics
  on 127.0.0.1; `emulate down` stops it by its PID.

Every wait is for an event of the runner or a state it announces, never for a fixed
time, so a loaded machine only makes the tests slower: a cable that flaps meanwhile (a
probe round late under load) goes down and comes back on its own, and the fabric is
judged once the runner has written every change it decided. The runner's timers are
relaxed (250 ms x 4) so that flaps stay rare; bench/bench_recovery.py measures the
default ones.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpn.cli import app
from hpn.desired import desired_entities, desired_states
from hpn.emulation.emulation import Emulation, missing_prerequisites
from hpn.emulation.layout import Crossing
from hpn.emulation.runner_process import RunnerRecord, switch_cables
from hpn.emulation.runner_readings import followed_by, scrape, subjects_of
from hpn.emulation.runner_thread import RunnerThread
from hpn.emulation.wiring_seen import crossing_at_first_agg, every_port_heard, observation
from hpn.operations.events import Event, EventKind
from hpn.operations.liveness import Timers
from hpn.operations.wiring import observed_to_json
from hpn.routing.failures import FailureView
from hpn.runtime import FabricSession, SessionOptions
from hpn.topology.loader import load_fabric
from hpn.topology.model import SwitchPort

TOPO = Path(__file__).resolve().parents[1] / "topologies"
WAIT = 120.0
MS = 1_000_000
RELAXED = Timers(interval_ns=250 * MS, misses=4, hold_down_ns=1000 * MS)

pytestmark = [pytest.mark.emulation, pytest.mark.root]


def _renamed(tmp_path: Path, name: str) -> Path:
    lines = (TOPO / "hpn-mini.yaml").read_text().splitlines()
    topo = tmp_path / f"{name}.yaml"
    topo.write_text("\n".join(f"name: {name}" if ln.startswith("name:") else ln for ln in lines) + "\n")
    return topo


Up = Callable[..., Emulation]


@pytest.fixture
def emulation_up(tmp_path: Path) -> Iterator[Up]:
    """Brings up a renamed hpn-mini (optionally with cables crossed); takes it down after."""
    missing = missing_prerequisites()
    if missing:
        pytest.skip("; ".join(missing))
    started: list[Emulation] = []

    def up(name: str, crossed: Sequence[Crossing] = ()) -> Emulation:
        topo = _renamed(tmp_path, name)
        emu = Emulation(load_fabric(topo), topo, tmp_path / name, crossed=crossed)
        started.append(emu)
        emu.up()
        return emu

    yield up
    for emu in started:
        emu.down()


def _wait(rt: RunnerThread, what: str, holds: Callable[[list[Event]], bool]) -> None:
    if not rt.wait_for(holds, WAIT):
        last = [(e.kind.value, e.subject) for e in rt.events[-5:]]
        pytest.fail(f"{what}: not within {WAIT:.0f} s ({len(rt.events)} events; last: {last})")


def _settled(events: list[Event]) -> bool:
    """Every change the runner decided (recomputed) is written."""
    kinds = [e.kind for e in events]
    return kinds.count(EventKind.RECOMPUTED) == kinds.count(EventKind.WRITTEN)


async def _differing(emu: Emulation) -> list[str]:
    """The switches whose entries differ from the intact fabric's (read as a backup)."""
    intact = desired_entities(desired_states(emu.fabric, FailureView()))
    options = SessionOptions(election_id=1, own_all_tables=True)
    async with FabricSession(emu.targets(), options) as session:
        diffs = await session.diff(intact)
    return [f"{name}: {d.summary()}" for name, d in sorted(diffs.items()) if not d.is_empty]


def test_run_heals_a_cut_cable_and_restores_it_with_no_command(emulation_up: Up) -> None:
    emu = emulation_up("hpn-ops-run")
    with RunnerThread(emu, RELAXED) as rt:
        assert rt.runner.initial_errors == {}
        cables = switch_cables(emu.fabric)
        _wait(rt, "every cable learnt", lambda ev: cables <= subjects_of(ev, EventKind.LEARNT))
        cable = next(
            link
            for link in emu.fabric.links
            if isinstance(link.a, SwitchPort) and isinstance(link.b, SwitchPort)
        )
        subject = {str(cable)}

        cut = rt.mark()
        emu.control("failures", links=[str(cable.a)], cables=True, hosts=False)  # the cable only
        _wait(
            rt,
            f"{cable} declared down and written",
            lambda ev: followed_by(ev[cut:], subject, EventKind.DECLARED, EventKind.WRITTEN),
        )
        assert cable in rt.runner.loop.failover.view.links
        written = [e for e in rt.events[cut:] if e.kind is EventKind.WRITTEN and e.subject == str(cable)]
        switches = written[0].detail["switches"]
        assert isinstance(switches, int) and switches > 0, written[0].detail
        assert "failed" not in written[0].detail, written[0].detail

        back = rt.mark()
        emu.control("failures", links=[], cables=True, hosts=False)
        _wait(
            rt,
            f"{cable} restored and written",
            lambda ev: followed_by(ev[back:], subject, EventKind.RESTORED, EventKind.WRITTEN),
        )
        # A cable that flapped meanwhile comes back by itself: judge once nothing is down
        # and every decided change is written, and again if a change came during the read.
        while True:
            _wait(
                rt,
                "failure view empty",
                lambda ev: rt.runner.loop.failover.view == FailureView() and _settled(ev),
            )
            seen = rt.mark()
            differing = asyncio.run(_differing(emu))
            if rt.mark() == seen:
                break
        assert differing == [], differing


def test_wiring_names_two_crossed_cables_at_all_four_ports(emulation_up: Up, tmp_path: Path) -> None:
    name = "hpn-ops-wiring"
    emu = emulation_up(name, crossed=[crossing_at_first_agg(load_fabric(TOPO / "hpn-mini.yaml"))])
    with RunnerThread(emu, RELAXED) as rt:
        _wait(rt, "every probed port heard a probe", lambda _: every_port_heard(rt.runner))
        observed = observation(rt.runner)
    path = tmp_path / "observed.json"
    path.write_text(json.dumps(observed_to_json(observed)))
    result = CliRunner().invoke(app, ["wiring", str(tmp_path / f"{name}.yaml"), "--observed", str(path)])
    print(result.output)
    assert result.exit_code == 1, result.output
    problems = sorted(line for line in result.output.splitlines() if ":" in line and " expected " in line)
    assert problems == [
        "mismatch: agg-p0-a0:1 expected tor-s0-r0-p0:129, found tor-s0-r1-p0:129",
        "mismatch: agg-p0-a0:2 expected tor-s0-r1-p0:129, found tor-s0-r0-p0:129",
        "mismatch: tor-s0-r0-p0:129 expected agg-p0-a0:1, found agg-p0-a0:2",
        "mismatch: tor-s0-r1-p0:129 expected agg-p0-a0:2, found agg-p0-a0:1",
    ]


def test_emulate_up_run_keeps_the_fabric_with_a_runner_process_that_down_stops(tmp_path: Path) -> None:
    missing = missing_prerequisites()
    if missing:
        pytest.skip("; ".join(missing))
    topo = _renamed(tmp_path, "hpn-ops-up-run")
    env = {**os.environ, "HPN_RUN_DIR": str(tmp_path)}

    def hpnctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hpn.cli", *args], capture_output=True, text=True, env=env, timeout=600
        )

    emu = Emulation(load_fabric(topo), topo, tmp_path / "hpn-ops-up-run")
    try:
        up = hpnctl("emulate", "up", str(topo), "--run")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "learnt its 16 switch cables" in up.stdout, up.stdout
        record = RunnerRecord.read(emu.layout.runner_file)
        assert record is not None and record.proc.alive()
        assert record.metrics_url in up.stdout
        numbers = scrape(record.metrics_url)
        assert numbers.probes_received > 0 and numbers.failure_view_empty
        status = hpnctl("emulate", "status", str(topo))
        assert "hpnctl run: keeps it" in status.stdout, status.stdout
        down = hpnctl("emulate", "down", str(topo))
        assert down.returncode == 0 and f"hpnctl run (pid {record.proc.pid}) stopped" in down.stdout
        assert not record.proc.alive()
    finally:
        emu.down()

"""`hpnctl run` on the emulated fabric: it learns every cable from its probes, declares a
cut ToR-agg cable down and writes the affected switches with no command, and returns the
fabric to the intact state when the cable comes back. Needs root, bmv2 and Mininet."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hpn.emulation.emulation import Emulation, missing_prerequisites
from hpn.emulation.emulation_controller import EMULATION_OPTIONS
from hpn.operations.events import Event, EventKind
from hpn.operations.liveness import LinkStatus, Timers
from hpn.operations.runner import FabricRunner
from hpn.routing.failures import FailureView
from hpn.topology.loader import load_fabric
from hpn.topology.model import SwitchPort

TOPO = Path(__file__).resolve().parents[1] / "topologies"
WAIT = 60.0
MS = 1_000_000


class Recorder:
    """The runner's event sink: keeps the events and wakes a waiter when one it waits for
    arrives (the runner calls it from its own thread)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, what: str, holds: Callable[[list[Event]], bool]) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: holds(self.events), timeout=WAIT):
                seen = Counter(e.kind.value for e in self.events)
                last = [(e.kind.value, e.subject, dict(e.detail)) for e in self.events[-3:]]
                pytest.fail(f"{what}: not within {WAIT:.0f} s (events: {dict(seen)}; last: {last})")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Emulation, FabricRunner, Recorder]]:
    if missing_prerequisites():
        pytest.skip("; ".join(missing_prerequisites()))
    text = (TOPO / "hpn-mini.yaml").read_text()
    topo = tmp_path / "hpn-ops-run.yaml"
    topo.write_text(
        "\n".join("name: hpn-ops-run" if ln.startswith("name:") else ln for ln in text.splitlines())
    )
    fabric = load_fabric(topo)
    emu = Emulation(fabric, topo, tmp_path / fabric.name)
    emu.up()
    recorder = Recorder()
    runner = FabricRunner(
        fabric,
        emu.targets(),
        EMULATION_OPTIONS,
        emit=recorder,
        timers=Timers(interval_ns=250 * MS, misses=4, hold_down_ns=1000 * MS),
    )
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(runner.run(stop, started.set)), name="hpnctl-run", daemon=True
    )
    thread.start()
    try:
        assert started.wait(WAIT), "the runner did not push the fabric"
        assert runner.initial_errors == {}, runner.initial_errors
        yield emu, runner, recorder
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(WAIT)
        emu.down()


@pytest.mark.emulation
@pytest.mark.root
def test_run_heals_a_cut_cable_and_restores_it_with_no_command(
    running: tuple[Emulation, FabricRunner, Recorder],
) -> None:
    emu, runner, recorder = running
    monitor = runner.loop.monitor
    recorder.wait_for(
        "every cable learnt", lambda _: all(s is LinkStatus.UP for s in monitor.statuses().values())
    )
    cable = next(
        link for link in emu.fabric.links if isinstance(link.a, SwitchPort) and isinstance(link.b, SwitchPort)
    )
    subject = str(cable)

    def written_after(kind: EventKind) -> Callable[[list[Event]], bool]:
        def holds(events: list[Event]) -> bool:
            mine = [e.kind for e in events if e.subject == subject]
            return kind in mine and EventKind.WRITTEN in mine[mine.index(kind) :]

        return holds

    emu.control("failures", links=[str(cable.a)], cables=True, hosts=False)  # the cable only
    recorder.wait_for(f"{subject} declared down and written", written_after(EventKind.DECLARED))
    assert runner.loop.failover.view == FailureView.parse(emu.fabric, [str(cable.a)], [])
    declared = next(e for e in recorder.events if e.subject == subject and e.kind is EventKind.DECLARED)
    written = next(
        e
        for e in recorder.events
        if e.subject == subject and e.kind is EventKind.WRITTEN and e.t_ns >= declared.t_ns
    )
    assert written.detail["switches"] > 0 and "failed" not in written.detail, written.detail

    emu.control("failures", links=[], cables=True, hosts=False)
    recorder.wait_for(f"{subject} restored and written", written_after(EventKind.RESTORED))
    assert runner.loop.failover.view == FailureView()

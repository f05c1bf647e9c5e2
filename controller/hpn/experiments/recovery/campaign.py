"""The recovery campaign: `hpnctl run` on an emulated fabric, every kind of cut repeated.

On a fabric that is up and not programmed: the runner is started as a process of its own
with its default timers (hpn.emulation.runner_process) and waited for until it learnt
every cable; then each kind's cuts (hpn.experiments.recovery.kinds) are made one after the
other with traffic running (hpn.emulation.cut_run), the machine's load measured over each
kind (hpn.netlab.load). A watching P4Runtime session with a low election id (a backup: it
only reads) compares the switches with the intact fabric after each undo. The runner's
metrics are read at the end; it is left running for the caller.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from hpn.emulation.cut_run import CutOutcome, CutTimeouts, intact_diff, run_cut
from hpn.emulation.emulation import Emulation
from hpn.emulation.emulation_controller import EMULATION_OPTIONS
from hpn.emulation.runner_process import RunnerRecord, start_runner, wait_learnt
from hpn.emulation.runner_readings import EventsTail, RunnerNumbers, scrape
from hpn.emulation.traffic import fabric_nics
from hpn.experiments.recovery.kinds import cuts_per_kind
from hpn.netlab.load import MachineLoad, Snapshot, between, snapshot
from hpn.runtime import FabricSession

WATCHER_ELECTION_ID = 1
"""Below the runner's (10): the watching session is a backup and never writes."""


@dataclass
class KindResult:
    kind: str
    outcomes: list[CutOutcome] = field(default_factory=list)
    load: MachineLoad | None = None


@dataclass
class RecoveryRun:
    fabric: str
    interval: float
    per_pair: int
    kinds: list[KindResult] = field(default_factory=list)
    numbers: RunnerNumbers | None = None
    runner: RunnerRecord | None = None
    events: EventsTail | None = None

    @property
    def problems(self) -> list[str]:
        return [f"{k.kind}: {p}" for k in self.kinds for o in k.outcomes for p in o.problems]


def _snapshot() -> Snapshot | None:
    try:
        return snapshot()
    except OSError:
        return None


async def run_campaign(
    emu: Emulation,
    repeat: int,
    interval: float,
    per_pair: int,
    kinds: Sequence[str] | None = None,
    progress: Callable[[str, CutOutcome], None] = lambda kind, outcome: None,
    timeouts: CutTimeouts | None = None,
) -> RecoveryRun:
    """Start the runner on `emu` (up, unprogrammed) and make every cut; see the module doc."""
    run = RecoveryRun(emu.fabric.name, interval, per_pair)
    record = start_runner(emu.layout, emu.topology)
    run.runner = record
    tail = wait_learnt(record, emu.fabric)
    run.events = tail
    nics = list(fabric_nics(emu.layout).values())
    chosen = cuts_per_kind(emu, nics, repeat)
    # Reconnects as soon as a restarted switch listens, as the demo's controller does.
    options = replace(EMULATION_OPTIONS, election_id=WATCHER_ELECTION_ID)
    async with FabricSession(emu.targets(), options) as watcher:
        differing = intact_diff(watcher, emu.fabric)
        for kind, cuts in chosen.items():
            if kinds is not None and kind not in kinds:
                continue
            result = KindResult(kind)
            run.kinds.append(result)
            before = _snapshot()
            for cut in cuts:
                outcome = await run_cut(
                    cut, tail, record.metrics_url, differing, interval, per_pair, timeouts, record.proc.alive
                )
                result.outcomes.append(outcome)
                progress(kind, outcome)
            after = _snapshot()
            result.load = None if before is None or after is None else between(before, after)
    with contextlib.suppress(OSError):
        run.numbers = scrape(record.metrics_url)
    return run

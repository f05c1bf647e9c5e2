"""hpnctl run's writes on the pod: from a declared change to every write acknowledged,
the updates the loop built against whole lists pushed, side by side in one run.

    python bench/bench_runner_write.py [topologies/hpn-pod.yaml] [--repeat 3]

Fake P4Runtime switches (tests/fake_p4rt.py) play every switch the failures below touch,
all in one child process, so this process's CPU is the controller's alone. The runner's
loop (`FabricRunner.loop`) runs on a fake clock; after a first push of the fakes:

- a ToR-agg cable is cut: every fabric port's probes are handed to the far end of its
  cable but that one's, round after round, until the tick that declares it down; then
  it is plugged back and declared up again (no hold-down here);
- an agg is declared down by its session (`switch_unreachable`), then back
  (`switch_reachable`: a switch that returns is owed its whole list either way).

Each declared change is written twice over the repeats: `FabricRunner.write` (each
switch the updates the loop built, `FabricSession.apply`, nothing read back; what
hpnctl run does) and a push of the whole list of every touched switch, read back and
reconciled (what it did before). Both are timed from the call that declares the change
(the tick, or the session's report) until every switch acknowledged its writes: this
process's CPU (`time.process_time`) and the wall time, which includes the fakes' work in
the child (one core for them all). Medians over `--repeat` rounds, the two ways taking
turns to go first. After every step of the first round each faked switch is read back
and compared with its whole list, after the later ones two of them (untimed): the run
stops if one differs.

Before timing, a full collection of the start-up's objects is timed, then again after
`keep_startup_out_of_collections` froze them, as hpnctl run does after its first push:
what the first failover would otherwise pay. At the end, the start-up's objects that
became cyclic garbage meanwhile (what freezing keeps until `gc.unfreeze`) are counted.
Nothing is asserted on times.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import multiprocessing
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from statistics import median

from hpn.operations.events import Event
from hpn.operations.liveness import Timers
from hpn.operations.loop import WriteBatch
from hpn.operations.runner import FabricRunner, keep_startup_out_of_collections
from hpn.pipeline import BMV2_JSON_PATH, P4INFO_PATH, Target, switch_entities
from hpn.routing.failures import FailureView
from hpn.runtime import FabricSession, SessionOptions, SwitchTarget
from hpn.topology import Fabric, load_fabric
from hpn.topology.model import SwitchPort

ROOT = Path(__file__).resolve().parent.parent
MS = 1_000_000
TIMERS = Timers(interval_ns=100 * MS, misses=3, hold_down_ns=0)
OPTIONS = SessionOptions(own_all_tables=True, election_id=10, connect_timeout=30.0)


# -- the fakes, in a child process ----------------------------------------------------------


def _serve_fakes(device_ids: list[int], pipe: Connection) -> None:
    """Child process: one fake switch per device id; their ports go back on `pipe`, and
    they serve until the parent sends anything."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_reads import ByIdReads

    async def serve() -> None:
        fakes = [ByIdReads(device_id=d) for d in device_ids]
        for fake in fakes:
            await fake.start()
        pipe.send([fake.port for fake in fakes])
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, pipe.recv)
        for fake in fakes:
            await fake.stop()

    asyncio.run(serve())


# -- the declared changes -------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.ns = 0

    def now(self) -> int:
        return self.ns


class Cables:
    """Hands each probe to the far end of its cable."""

    def __init__(self, runner: FabricRunner, clock: Clock) -> None:
        self.runner, self.clock = runner, clock
        fabric = runner.loop.fabric
        self.far = {
            end: other
            for link in fabric.links
            if isinstance(link.a, SwitchPort) and isinstance(link.b, SwitchPort)
            for end, other in ((link.a, link.b), (link.b, link.a))
        }

    def round(self, cut: frozenset[SwitchPort] | set[SwitchPort] = frozenset()) -> None:
        """One probe interval: the probes due, heard at the far ends (but those of the
        cables `cut` at either end); the clock moves on."""
        loop = self.runner.loop
        for out in loop.probes():
            at = SwitchPort(out.switch, out.port)
            far = self.far.get(at)
            if far is not None and at not in cut and far not in cut:
                loop.frame_in(far.switch, far.port, out.frame)
        self.clock.ns += TIMERS.interval_ns


WriteFn = Callable[[FabricSession, WriteBatch | None], Awaitable[None]]


@dataclass
class Timing:
    """CPU seconds of the declaring call (detection, decision, writes built) and of the
    writes until acknowledged; wall seconds of both; the batch's size."""

    declare: float
    write: float
    wall: float
    touched: int
    updates: int


async def _timed(
    step: Callable[[], None], declare: Callable[[], WriteBatch | None], write: WriteFn, session: FabricSession
) -> Timing:
    """`step()` (untimed) then `declare()` until it declares a change; that call and the
    writes, timed."""
    while True:
        step()
        cpu, wall = time.process_time(), time.perf_counter()
        batch = declare()
        if batch is not None:
            break
    declared = time.process_time()
    await write(session, batch)
    done = time.process_time()
    return Timing(
        declared - cpu, done - declared, time.perf_counter() - wall, len(batch.writes), batch.updates
    )


def whole_push(runner: FabricRunner) -> WriteFn:
    """What hpnctl run did before: each touched switch's whole list pushed (read back,
    reconciled), then reported to the loop."""

    async def write(session: FabricSession, batch: WriteBatch | None) -> None:
        assert batch is not None
        states = runner.loop.failover.states
        desired = {n: switch_entities(states[n], runner.target) for n in sorted(batch.writes) if n in states}
        report = await session.push(desired)
        failed = {n: "; ".join(r.errors) for n, r in report.switches.items() if not r.ok}
        runner.loop.settled({n for n, r in report.switches.items() if r.ok})
        runner.loop.written(batch, failed=failed)

    return write


async def _check(runner: FabricRunner, session: FabricSession, names: set[str], what: str) -> None:
    """Every switch in `names` holds its whole list, and none is owed."""
    states = runner.loop.failover.states
    desired = {n: switch_entities(states[n], runner.target) for n in sorted(names) if n in states}
    for name, diff in (await session.diff(desired)).items():
        if not diff.is_empty:
            raise SystemExit(f"error: {what}: {name} differs from its whole list: {diff.summary()}")
    if runner.loop.owed:
        raise SystemExit(f"error: {what}: owed {sorted(runner.loop.owed)}")


# -- the run ---------------------------------------------------------------------------------


def _touched(fabric: Fabric, views: list[FailureView]) -> set[str]:
    from hpn.operations.failover import Failover

    failover = Failover(fabric)
    names: set[str] = set()
    for view in views:
        names |= set(failover.apply(view).deltas)
        names |= set(failover.apply(FailureView()).deltas)
    return names


async def bench(fabric: Fabric, ports: dict[str, int], repeat: int) -> None:
    clock = Clock()
    targets = [
        SwitchTarget(n, f"127.0.0.1:{p}", fabric.switch(n).device_id, P4INFO_PATH, BMV2_JSON_PATH)
        for n, p in ports.items()
    ]
    events: list[Event] = []
    runner = FabricRunner(fabric, targets, OPTIONS, emit=events.append, clock=clock.now, timers=TIMERS)
    cables = Cables(runner, clock)
    tor = fabric.tors()[0].name
    uplink = next(p for p, peer in fabric.peers(tor).items() if isinstance(peer, SwitchPort))
    cut = SwitchPort(tor, uplink)
    agg = fabric.aggs()[0].name
    async with FabricSession(targets, OPTIONS) as session:
        states = runner.loop.failover.states
        cpu, wall = time.process_time(), time.perf_counter()
        report = await session.push({n: switch_entities(states[n], Target.BMV2) for n in ports})
        if not report.ok:
            raise SystemExit("error: first push: " + "; ".join(report.errors[:5]))
        print(
            f"first push: {len(ports)} switches, {report.updates:,} updates in "
            f"{time.perf_counter() - wall:.1f} s ({time.process_time() - cpu:.1f} s CPU here)"
        )
        cables.round()
        cables.round()  # every cable learnt
        if runner.loop.tick() is not None:
            raise SystemExit("error: a change before any cable was cut")
        _, t_scan = _cpu(gc.collect)
        keep_startup_out_of_collections()
        _, t_frozen = _cpu(gc.collect)
        print(
            f"a full collection: {t_scan:.2f} s CPU over the start-up's objects, "
            f"{t_frozen:.3f} s once they are frozen ({gc.get_freeze_count():,} objects)"
        )
        ways: dict[str, WriteFn] = {"built": runner.write, "whole": whole_push(runner)}
        found: dict[tuple[str, str, str], list[Timing]] = {}

        def nothing() -> None:
            pass

        def agg_back() -> WriteBatch | None:
            runner.loop.owed.add(agg)  # as the runner owes a switch that returns
            return runner.loop.switch_reachable(agg)

        steps: list[tuple[str, str, Callable[[], None], Callable[[], WriteBatch | None]]] = [
            ("ToR-agg cable", "fail", lambda: cables.round(cut={cut}), runner.loop.tick),
            ("ToR-agg cable", "repair", cables.round, runner.loop.tick),
            ("agg switch", "fail", nothing, lambda: runner.loop.switch_unreachable(agg, "declared")),
            ("agg switch", "repair", nothing, agg_back),
        ]
        for i in range(repeat):
            order = list(ways) if i % 2 == 0 else list(reversed(ways))
            for way in order:
                for failure, step, before, declare in steps:
                    timing = await _timed(before, declare, ways[way], session)
                    found.setdefault((failure, step, way), []).append(timing)
                    checked = set(ports) if i == 0 else {min(ports), max(ports)}
                    await _check(runner, session, checked, f"{failure} {step} ({way})")
        _print(found, repeat)
        gc.collect()
        gc.unfreeze()
        print(
            f"start-up objects that became cyclic garbage over the {len(found) * repeat} changes "
            f"(kept while frozen, collected once unfrozen): {gc.collect():,}"
        )


def _cpu(fn: Callable[[], object]) -> tuple[object, float]:
    cpu = time.process_time()
    result = fn()
    return result, time.process_time() - cpu


def _print(found: dict[tuple[str, str, str], list[Timing]], repeat: int) -> None:
    print(f"ms from the declared change to every write acknowledged, median of {repeat}; declared:")
    print("the call that declares it (detection, decision, writes built), the same both ways")
    header = (
        f"{'failure':<14} {'step':<7} {'touched':>7} {'updates':>7} {'declared':>8} "
        f"{'write CPU: built':>16} {'whole':>6} {'ratio':>6} {'all CPU ratio':>13} "
        f"{'wall: built':>11} {'whole':>6} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for failure, step in dict.fromkeys((f, s) for f, s, _ in found):
        built, whole = found[(failure, step, "built")], found[(failure, step, "whole")]

        def ms(ts: list[Timing], attr: str) -> float:
            return float(median(getattr(t, attr) for t in ts)) * 1000

        declared = ms(built + whole, "declare")
        write = [ms(built, "write"), ms(whole, "write")]
        wall = [ms(built, "wall"), ms(whole, "wall")]
        print(
            f"{failure:<14} {step:<7} {built[-1].touched:7d} {built[-1].updates:7d} {declared:8.0f} "
            f"{write[0]:16.0f} {write[1]:6.0f} {write[1] / write[0]:6.1f} "
            f"{(declared + write[1]) / (declared + write[0]):13.1f} "
            f"{wall[0]:11.0f} {wall[1]:6.0f} {wall[1] / wall[0]:6.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topology", nargs="?", default=str(ROOT / "topologies" / "hpn-pod.yaml"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    if not P4INFO_PATH.exists():
        parser.error(f"{P4INFO_PATH} missing: run `make p4`")
    logging.getLogger("finsy").setLevel(logging.ERROR)  # each fake's missing gNMI, at connect
    fabric = load_fabric(Path(args.topology))
    tor = fabric.tors()[0].name
    uplink = next(p for p, peer in fabric.peers(tor).items() if isinstance(peer, SwitchPort))
    views = [
        FailureView.parse(fabric, [f"{tor}:{uplink}"]),
        FailureView.parse(fabric, switches=[fabric.aggs()[0].name]),
    ]
    names = sorted(_touched(fabric, views))
    print(f"{fabric.name}: {fabric.gpu_count} GPUs, {len(fabric.switches)} switches, {len(names)} faked")
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve_fakes, args=([fabric.switch(n).device_id for n in names], child)
    )
    process.start()
    try:
        ports = dict(zip(names, parent.recv(), strict=True))
        asyncio.run(bench(fabric, ports, args.repeat))
    finally:
        parent.send("stop")
        process.join(60)
        if process.is_alive():
            process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())

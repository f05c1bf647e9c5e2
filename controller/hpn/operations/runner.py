"""`hpnctl run`: the operations loop on a live fabric.

The runner owns the I/O the loop (hpn.operations.loop) leaves out: one P4Runtime session
per switch as primary (P4Runtime arbitration: a second runner with a lower election id
waits as backup), the whole fabric pushed first (as `hpnctl push`), then every interval:
probes out of every fabric port (packet-outs), the probes the switches punt fed back in
(packet-ins), sessions that drop or return followed, and each reaction's writes made on
the switches it touches: each switch is written the updates the loop built for it
(`FabricSession.apply`, nothing read back). A switch whose write failed (an update
refused, or the switch unreachable) may hold part of it: it is owed its whole list, and
pushed whole (read back and reconciled, as `hpnctl push`) once it answers, as is a switch
that returns (it may have restarted empty). The start-up's objects are frozen out of the
cyclic collector after the first push (`keep_startup_out_of_collections`). Every
counters interval, the counters of each switch that answers are read into the metrics;
a switch whose read fails or takes longer than the interval (at least
MIN_COUNTER_READ_S) is skipped for that round and logged. Every host interval, each ToR
host port is sent an ARP request for its NIC (hpn.operations.hosts); the replies the ToRs
punt come in with the probes, and the wiring check (and its metrics) is brought up to date.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from hpn.operations.counters import CountersUnread, read_switch_counters
from hpn.operations.events import EventSink
from hpn.operations.hosts import HostTimers
from hpn.operations.liveness import Timers
from hpn.operations.loop import OperationsLoop, WriteBatch
from hpn.operations.metrics import OperationsMetrics
from hpn.operations.probe import PROBE_ETHERTYPE
from hpn.params import ARP_ETHERTYPE
from hpn.pipeline import Entity, Target, switch_entities
from hpn.runtime import FabricSession, SessionOptions, SwitchSession, SwitchTarget
from hpn.runtime.packet_io import packet_ins, send_frames
from hpn.topology.model import Fabric

LOG = logging.getLogger(__name__)

MS = 1_000_000
COUNTERS_INTERVAL_NS = 1000 * MS
"""How often the switches' counters are read by default: Prometheus scrapes every 15 s or
so, and a rate over a few samples of one second is what a dashboard shows."""
MIN_COUNTER_READ_S = 1.0
"""A switch's counter read is given the counters interval, and never less than this (a
busy bmv2 takes some hundred milliseconds to answer)."""


def keep_startup_out_of_collections() -> None:
    """Collect once, then freeze what is left (`gc.freeze`): the routing state and
    sessions built at start-up (about 740,000 objects on a pod) are kept for the whole
    run, and every full collection would scan them again (0.3 to 0.4 s of CPU, which the
    first failover would otherwise pay). Frozen objects are still freed when nothing
    refers to them any more; only a reference cycle among them would wait for
    `gc.unfreeze`, and the collection first leaves none of the start-up's garbage."""
    gc.collect()
    gc.freeze()


class FabricRunner:
    def __init__(
        self,
        fabric: Fabric,
        targets: Sequence[SwitchTarget],
        options: SessionOptions,
        *,
        emit: EventSink,
        target: Target = Target.BMV2,
        timers: Timers | None = None,
        metrics: OperationsMetrics | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
        counters_interval_ns: int = COUNTERS_INTERVAL_NS,
        host_timers: HostTimers | None = None,
    ) -> None:
        if counters_interval_ns <= 0:
            raise ValueError(f"counters_interval_ns must be positive, not {counters_interval_ns}")
        self.timers = timers or Timers()
        self.host_timers = host_timers or HostTimers()
        self.counters_interval_ns = counters_interval_ns
        self.loop = OperationsLoop(
            fabric,
            emit=emit,
            clock=clock,
            timers=self.timers,
            target=target,
            metrics=metrics,
            host_timers=self.host_timers,
        )
        self.targets = list(targets)
        self.options = options
        self.target = target
        self.initial_errors: dict[str, list[str]] = {}
        self.not_primary: list[str] = []  # set when another controller holds a switch
        self.counters_unread: set[str] = set()  # switches whose last counter read failed
        # one sender at a time per switch: the probe and host tasks share its StreamChannel
        self._sending: dict[str, asyncio.Lock] = {}

    def _entities(self, names: Sequence[str]) -> dict[str, list[Entity]]:
        states = self.loop.failover.states
        return {n: switch_entities(states[n], self.target) for n in names if n in states}

    async def run(self, stop: asyncio.Event, started: Callable[[], None] | None = None) -> None:
        """Keep the fabric until `stop` is set; `started` is called once it was pushed."""
        async with FabricSession(self.targets, self.options) as session:
            names = [t.name for t in self.targets]
            up = set(await session.reachable(names))
            self.not_primary = [
                f"{n}: another controller is primary (ours is election id {self.options.election_id}): "
                "run this one with a higher --election-id to take over, or stop the other"
                for n in sorted(up)
                if not session.switch(n).is_primary
            ]
            if self.not_primary:
                return
            report = await session.push(self._entities(sorted(up)))
            self.initial_errors = {n: r.errors for n, r in report.switches.items() if not r.ok}
            for name, errors in self.initial_errors.items():
                LOG.warning("%s: first push: %s", name, "; ".join(errors))
                self.loop.owed.add(name)
            # Probes go out on their own task: a write that takes long (a whole switch
            # pushed and read back) must not stop them, or every cable would miss its
            # probes while the controller writes, and be declared down for it.
            # Counters too: a switch slow to answer delays its own readings, not the probes.
            probe_interval = self.timers.interval_ns
            tasks = [asyncio.create_task(self._read(session, n)) for n in names]
            tasks.append(
                asyncio.create_task(self._every(stop, probe_interval, lambda: self._send_probes(session)))
            )
            tasks.append(
                asyncio.create_task(
                    self._every(stop, self.counters_interval_ns, lambda: self._read_counters(session))
                )
            )
            tasks.append(
                asyncio.create_task(
                    self._every(stop, self.host_timers.interval_ns, lambda: self._probe_hosts(session))
                )
            )
            try:
                keep_startup_out_of_collections()
                if started is not None:
                    started()
                await self._every(stop, probe_interval, lambda: self._step(session, up))
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                gc.unfreeze()

    async def _every(
        self, stop: asyncio.Event, interval_ns: int, step: Callable[[], Awaitable[None]]
    ) -> None:
        """`step` once per interval (from its start) until `stop` is set."""
        interval = interval_ns / 1e9
        while not stop.is_set():
            began = time.monotonic()
            await step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, began + interval - time.monotonic()))

    async def _step(self, session: FabricSession, up: set[str]) -> None:
        for name in [t.name for t in self.targets]:
            link = session.switch(name)
            if link.is_up and name not in up:
                up.add(name)
                self.loop.owed.add(name)  # a switch that returns may have restarted empty
                await self.write(session, self.loop.switch_reachable(name))
            elif not link.is_up and name in up:
                up.discard(name)
                await self.write(
                    session, self.loop.switch_unreachable(name, link.last_error or "disconnected")
                )
            elif link.is_up and link.generation != link.synced_generation:
                self.loop.owed.add(name)  # reconnected between two steps: as if it returned
        await self.write(session, self.loop.tick())
        owed = {n: e for n, e in self.loop.owed_entities().items() if n in up}
        if owed:
            report = await session.push(owed)
            self.loop.settled({n for n, r in report.switches.items() if r.ok})

    async def _send_probes(self, session: FabricSession) -> None:
        await self._send(session, "probes", [(p.switch, p.port, p.frame) for p in self.loop.probes()])

    async def _probe_hosts(self, session: FabricSession) -> None:
        """One host round: lost ports named, the wiring check redone, the requests sent."""
        self.loop.host_tick()
        self.loop.wiring()
        outs = self.loop.host_probes()
        await self._send(session, "host probes", [(p.switch, p.port, p.frame) for p in outs])

    async def _send(self, session: FabricSession, what: str, outs: list[tuple[str, int, bytes]]) -> None:
        """Each switch's frames in one write (one stream message at a time), switches at once."""
        frames: dict[str, list[tuple[bytes, int]]] = {}
        for switch, port, frame in outs:
            frames.setdefault(switch, []).append((frame, port))
        links = [session.switch(name) for name in frames]
        sends = [self._send_one(link, frames[link.name]) for link in links if link.is_up and link.is_primary]
        LOG.debug("%s out of %d switches (%d due)", what, len(sends), len(outs))
        for result in await asyncio.gather(*sends, return_exceptions=True):
            if isinstance(result, Exception):
                LOG.debug("%s not sent: %s", what, result)

    async def _read_counters(self, session: FabricSession) -> None:
        """One round: every switch that answers, read at once, each into the metrics."""
        names = [t.name for t in self.targets if session.switch(t.name).is_up]
        await asyncio.gather(*(self._read_switch_counters(session, n) for n in names))

    async def _read_switch_counters(self, session: FabricSession, name: str) -> None:
        timeout = max(self.counters_interval_ns / 1e9, MIN_COUNTER_READ_S)
        ports = self.loop.fabric.switch_ports(name)
        try:
            counters = await asyncio.wait_for(
                read_switch_counters(session, self.target, name, ports), timeout
            )
        except (TimeoutError, CountersUnread) as exc:
            why = str(exc) or f"{name}: no answer within {timeout:g} s"
            if name not in self.counters_unread:
                LOG.warning("counters not read, skipped until it answers: %s", why)
            self.counters_unread.add(name)
            return
        if name in self.counters_unread:
            LOG.info("%s: counters read again", name)
            self.counters_unread.discard(name)
        self.loop.counters_read(name, counters)

    async def _send_one(self, link: SwitchSession, frames: list[tuple[bytes, int]]) -> None:
        """A StreamChannel takes one message at a time (hpn.runtime.packet_io.send_frames)."""
        lock = self._sending.setdefault(link.name, asyncio.Lock())
        async with lock:
            await send_frames(link, frames)

    async def _read(self, session: FabricSession, name: str) -> None:
        """The probes and hosts' ARP replies one switch punts, for as long as the runner
        runs (across reconnects)."""
        async for packet in packet_ins(session.switch(name), eth_types=[PROBE_ETHERTYPE, ARP_ETHERTYPE]):
            LOG.debug("%s: packet in at %d", packet.switch, packet.port)
            self.loop.frame_in(packet.switch, packet.port, packet.frame)

    async def write(self, session: FabricSession, batch: WriteBatch | None) -> None:
        """One reaction's writes: each switch its updates as the loop built them
        (`FabricSession.apply`), but a switch that is owed is pushed its whole list
        instead; switches at once. One whose write failed is owed (`loop.written`), one
        pushed whole settled."""
        if batch is None:
            return
        owed = {n for n in batch.writes if n in self.loop.owed}
        changes = {n: w for n, w in batch.writes.items() if n not in owed and w.updates}
        applied, pushed = await asyncio.gather(
            session.apply(changes), session.push(self._entities(sorted(owed)))
        )
        reports = {**applied.switches, **pushed.switches}
        failed = {n: "; ".join(r.errors) or "not written" for n, r in reports.items() if not r.ok}
        self.loop.settled({n for n, r in pushed.switches.items() if r.ok})
        self.loop.written(batch, failed=failed)

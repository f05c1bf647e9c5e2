"""`hpnctl run`'s runner against fake P4Runtime switches (tests/fake_p4rt.py), one per
switch of rig-4: the switches' counters reach the metrics as the switches hold them, on a
task of their own; a switch that does not answer is skipped and logged, not fatal. The
ToRs' host ports are asked for their NICs with packet-outs, the hosts' replies come back
as packet-ins and the ports are seen; a host that stops answering is lost, and nothing is
written for it. The fakes' fabric cables carry the probes (`PatchPanel`): a cable cut
there is declared down, and each affected switch is written exactly the updates the loop
built for it, not its whole list; a switch that refuses one is owed its whole list, and
pushed whole once it takes it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, TypeVar

import pytest
from finsy.proto import p4r, rpc_code
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from fake_p4rt import FakeP4RuntimeServer
from fake_reads import ReadsKept
from hpn.cli import app
from hpn.operations.arp_probe import encode_arp_request
from hpn.operations.counters import SwitchCounters
from hpn.operations.events import Event, EventKind, EventList, EventSink
from hpn.operations.hosts import HostTimers
from hpn.operations.liveness import MS, Timers
from hpn.operations.loop import WriteBatch
from hpn.operations.runner import FabricRunner
from hpn.operations.switch_writes import EntityWrites
from hpn.params import GATEWAY_IP
from hpn.pipeline import BMV2_JSON_PATH, P4INFO_PATH, names, switch_entities
from hpn.pipeline.drop_reasons import DropReason
from hpn.pipeline.p4info import load_schema
from hpn.routing.state import SwitchState
from hpn.runtime import Backoff, SessionOptions, SwitchTarget, wire
from hpn.runtime.encoding import Encoded, EntryEncoder, decode_read_back
from hpn.runtime.reconcile import ReadBack, plan_diff
from hpn.topology import Fabric, load_fabric
from hpn.topology.model import NicPort, SwitchPort
from linux_arp import linux_reply

ROOT = Path(__file__).resolve().parent.parent
RIG = ROOT / "topologies" / "rig-4.yaml"
FAST = SessionOptions(backoff=Backoff(initial=0.02, factor=2.0, maximum=0.2, jitter=0.0), connect_timeout=5.0)
GUARD = 30.0
"""Seconds a test may wait for what it waits for before it fails (never reached when it passes)."""
QUIET = Timers(interval_ns=100 * MS, misses=1_000_000)
"""Probes every 100 ms, but no cable is declared down within a test (the fakes punt nothing)."""

T = TypeVar("T")

pytestmark = pytest.mark.skipif(not P4INFO_PATH.exists(), reason=f"{P4INFO_PATH} missing: run `make p4`")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, GUARD))


@pytest.fixture(scope="module")
def rig() -> Fabric:
    return load_fabric(RIG)


class Reads:
    """Each switch whose counters the runner handed to the loop, in order, with the probes
    sent by then; a waiter is woken by each."""

    def __init__(self, runner: FabricRunner) -> None:
        self.seen: list[tuple[str, int]] = []
        self._changed = asyncio.Condition()
        loop = runner.loop
        original = loop.counters_read

        def spy(switch: str, counters: SwitchCounters) -> None:
            original(switch, counters)
            probes = loop.metrics.registry.get_sample_value("hpn_probes_sent_total") or 0.0
            self.seen.append((switch, int(probes)))
            asyncio.get_running_loop().create_task(self._notify())

        loop.counters_read = spy  # type: ignore[method-assign]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, holds: Callable[[list[tuple[str, int]]], bool]) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: holds(self.seen))

    def count(self, switch: str) -> int:
        return sum(1 for name, _ in self.seen if name == switch)


@contextlib.asynccontextmanager
async def running(
    fabric: Fabric,
    fakes: Mapping[str, FakeP4RuntimeServer],
    started: Callable[[], None],
    emit: EventSink | None = None,
    **kwargs: Any,
) -> AsyncIterator[tuple[FabricRunner, Reads]]:
    """The runner on the fakes until the block ends; `started` runs once the fabric is
    pushed, before any counter is read."""
    targets = [SwitchTarget(n, f.address, f.device_id, P4INFO_PATH, BMV2_JSON_PATH) for n, f in fakes.items()]
    runner = FabricRunner(fabric, targets, FAST, emit=emit or EventList(), **{"timers": QUIET, **kwargs})
    reads = Reads(runner)
    stop = asyncio.Event()
    pushed = asyncio.Event()

    def on_started() -> None:
        started()
        pushed.set()

    task = asyncio.create_task(runner.run(stop, on_started))
    waiting = asyncio.create_task(pushed.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    assert pushed.is_set(), f"the runner ended before it pushed: {runner.not_primary or task.result()}"
    try:
        yield runner, reads
    finally:
        stop.set()
        await task


@contextlib.asynccontextmanager
async def fake_switches(fabric: Fabric) -> AsyncIterator[dict[str, ReadsKept]]:
    fakes = {sw.name: ReadsKept(device_id=sw.device_id) for sw in fabric.switches}
    for fake in fakes.values():
        await fake.start()
    try:
        yield fakes
    finally:
        for fake in fakes.values():
            await fake.stop()


def hold_counters(fabric: Fabric, fakes: Mapping[str, FakeP4RuntimeServer]) -> None:
    """Distinct numbers in every cell the metrics show, and one outside the ports."""
    for i, (name, fake) in enumerate(fakes.items()):
        for port in fabric.switch_ports(name):
            base = 1000 * i + port
            fake.set_counter(names.PORT_RX_COUNTER, port, base + 1, 100 * base + 1)
            fake.set_counter(names.PORT_TX_COUNTER, port, base + 2, 100 * base + 2)
            fake.set_counter(names.MEMBER_COUNTER, port, base + 3, 100 * base + 3)
        fake.set_counter(names.PORT_RX_COUNTER, 300, 7, 7)  # no port of the topology: not shown
        fake.set_counter(names.DROP_COUNTER, DropReason.NO_ROUTE, i + 4, 64 * (i + 4))
        fake.set_counter(names.DROP_COUNTER, DropReason.TTL_EXPIRED, i + 1, 64 * (i + 1))


def held(fake: FakeP4RuntimeServer, counter: str, index: int) -> tuple[float, float]:
    cell = next(
        data
        for (counter_id, i), data in fake.counter_data.items()
        if i == index and fake.counters[counter_id].preamble.name == counter
    )
    return float(cell.packet_count), float(cell.byte_count)


def samples(runner: FabricRunner) -> dict[str, dict[tuple[str, str], float]]:
    """Sample name -> {(switch, port or reason): value}, as Prometheus scrapes them."""
    text = generate_latest(runner.loop.metrics.registry).decode()
    out: dict[str, dict[tuple[str, str], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if "switch" in s.labels and ("port" in s.labels or "reason" in s.labels):
                key = (s.labels["switch"], s.labels.get("port") or s.labels["reason"])
                out.setdefault(s.name, {})[key] = s.value
    return out


PORT_METRICS = (
    ("hpn_port_receive", names.PORT_RX_COUNTER),
    ("hpn_port_transmit", names.PORT_TX_COUNTER),
    ("hpn_member_transmit", names.MEMBER_COUNTER),
)


def expected_port_samples(
    fabric: Fabric, fakes: Mapping[str, FakeP4RuntimeServer], switches: list[str]
) -> dict[str, dict[tuple[str, str], float]]:
    out: dict[str, dict[tuple[str, str], float]] = {}
    for metric, counter in PORT_METRICS:
        for name in switches:
            for port in fabric.switch_ports(name):
                packets, octets = held(fakes[name], counter, port)
                out.setdefault(f"{metric}_packets_total", {})[(name, str(port))] = packets
                out.setdefault(f"{metric}_bytes_total", {})[(name, str(port))] = octets
    return out


def test_every_switch_s_counters_reach_the_metrics_as_the_switch_holds_them(rig: Fabric) -> None:
    async def main() -> None:
        async with (
            fake_switches(rig) as fakes,
            running(rig, fakes, lambda: hold_counters(rig, fakes), counters_interval_ns=50 * MS) as (
                runner,
                reads,
            ),
        ):
            await reads.wait_for(lambda _: all(reads.count(n) for n in fakes))
            found = samples(runner)
            for metric, cells in expected_port_samples(rig, fakes, list(fakes)).items():
                assert found[metric] == cells, metric
            drops = found["hpn_drops_total"]
            counted = (DropReason.NO_ROUTE, DropReason.TTL_EXPIRED)
            for name, fake in fakes.items():
                for reason in DropReason:
                    packets = held(fake, names.DROP_COUNTER, reason)[0] if reason in counted else 0.0
                    assert drops[(name, reason.name.lower())] == packets, (name, reason)
            assert runner.counters_unread == set()

    run(main())


def test_a_switch_that_does_not_answer_is_skipped_and_logged_and_probes_go_on(
    rig: Fabric, caplog: pytest.LogCaptureFixture
) -> None:
    """tor0's reads stall: the others are read every round, tor0 is logged once and left out
    of the metrics, probes go out while its read waits; once it answers it is read again."""
    caplog.set_level(logging.INFO, logger="hpn.operations.runner")

    async def main() -> None:
        async with fake_switches(rig) as fakes:
            stalled = fakes["tor0"]
            release = asyncio.Event()

            def stall() -> None:
                hold_counters(rig, fakes)
                stalled.stall_reads = release

            async with running(rig, fakes, stall, counters_interval_ns=50 * MS) as (runner, reads):
                others = [n for n in fakes if n != "tor0"]
                # a second round starts only once the first is over: tor0's read timed out
                await reads.wait_for(lambda _: all(reads.count(n) >= 2 for n in others))
                assert runner.counters_unread == {"tor0"}
                assert reads.count("tor0") == 0
                found = samples(runner)
                assert (
                    found["hpn_port_receive_packets_total"]
                    == (expected_port_samples(rig, fakes, others)["hpn_port_receive_packets_total"])
                )
                assert not any(sw == "tor0" for sw, _ in found["hpn_drops_total"])
                first_round = [probes for name, probes in reads.seen if name in others][: len(others)]
                second_round = [probes for name, probes in reads.seen if name in others][len(others) :]
                assert min(second_round) > max(first_round), "no probe went out while tor0 was read"
                warnings = [
                    r.getMessage()
                    for r in caplog.records
                    if r.name == "hpn.operations.runner" and r.levelno == logging.WARNING
                ]
                assert warnings == ["counters not read, skipped until it answers: tor0: no answer within 1 s"]

                release.set()
                stalled.stall_reads = None
                await reads.wait_for(lambda _: reads.count("tor0") >= 1)
                assert runner.counters_unread == set()
                assert (
                    samples(runner)["hpn_port_receive_packets_total"][("tor0", "1")]
                    == (held(stalled, names.PORT_RX_COUNTER, 1)[0])
                )
                assert "tor0: counters read again" in caplog.messages

    run(main())


def test_the_counters_interval_must_be_positive(rig: Fabric) -> None:
    with pytest.raises(ValueError, match="counters_interval_ns must be positive, not 0"):
        FabricRunner(rig, [], FAST, emit=EventList(), counters_interval_ns=0)


@pytest.mark.parametrize("option", ["--counters-interval-ms", "--host-interval-ms", "--host-misses"])
def test_run_refuses_a_bad_interval_naming_the_option(option: str) -> None:
    res = CliRunner().invoke(app, ["run", str(RIG), option, "0"])
    assert res.exit_code == 2, res.output
    assert f"{option} must be at least 1, not 0" in res.output


class Watch:
    """The runner's event sink: keeps the events and wakes a waiter at each, and at each
    `poke` (a packet-out on a fake)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Condition()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self.poke()

    def poke(self) -> None:
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def until(self, holds: Callable[[], bool]) -> None:
        async with self._changed:
            await self._changed.wait_for(holds)

    def subjects(self, kind: EventKind) -> list[str]:
        return [e.subject for e in self.events if e.kind is kind]


def test_hosts_are_asked_by_packet_out_seen_by_packet_in_and_lost_without_a_write(rig: Fabric) -> None:
    watch = Watch()
    silent: set[SwitchPort] = set()
    host_ports = {
        SwitchPort(tor.name, port): peer
        for tor in rig.tors()
        for port, peer in rig.peers(tor.name).items()
        if isinstance(peer, NicPort)
    }

    def cable(fake: FakeP4RuntimeServer, tor: str) -> None:
        """The host on each of `tor`'s host ports answers as Linux does, unless silenced."""

        def packet_out(frame: bytes, port: int) -> None:
            watch.poke()
            at = SwitchPort(tor, port)
            peer = host_ports.get(at)
            nic = None if peer is None or at in silent else rig.nic(peer.host, peer.rail)
            reply = None if nic is None else linux_reply(frame, nic.mac, {str(nic.ip)})
            if reply is not None:
                fake.punt(reply, port)

        fake.on_packet_out = packet_out

    def asked(fake: FakeP4RuntimeServer, port: int) -> list[bytes]:
        return [frame for frame, p in fake.packet_outs if p == port and frame[12:14] == b"\x08\x06"]

    async def main() -> None:
        async with fake_switches(rig) as fakes:
            for tor in rig.tors():
                cable(fakes[tor.name], tor.name)
            writes: list[int] = []
            timers = HostTimers(interval_ns=50 * MS, misses=2)

            def pushed() -> None:
                writes.append(sum(len(f.write_updates) for f in fakes.values()))

            async with running(rig, fakes, pushed, emit=watch, host_timers=timers) as (runner, _):
                expected = {str(at) for at in host_ports}
                await watch.until(lambda: set(watch.subjects(EventKind.HOST_SEEN)) == expected)
                seen = {e.subject: e.detail["found"] for e in watch.events if e.kind is EventKind.HOST_SEEN}
                assert seen == {str(at): str(peer) for at, peer in host_ports.items()}
                h0 = rig.nic("h0", 0)
                assert h0 is not None
                first = asked(fakes["tor0"], 1)[0]
                assert first == encode_arp_request(rig.switch("tor0").mac, IPv4Address(GATEWAY_IP), h0.ip)

                # a round that started after both were seen refreshed the wiring metrics
                rounds = len(asked(fakes["tor1"], 1))
                await watch.until(lambda: len(asked(fakes["tor1"], 1)) > rounds)
                ok = runner.loop.metrics.registry.get_sample_value
                labels = {"switch": "tor1", "port": "1", "expected": "h1/nic0/p0"}
                assert ok("hpn_cable_wiring_ok", labels) == 1

                silent.add(SwitchPort("tor1", 1))
                await watch.until(lambda: "tor1:1" in watch.subjects(EventKind.HOST_LOST))
                rounds = len(asked(fakes["tor1"], 1))
                await watch.until(lambda: len(asked(fakes["tor1"], 1)) > rounds)
                assert ok("hpn_cable_wiring_ok", labels) == 0
                assert ok("hpn_cable_wiring_ok", {**labels, "switch": "tor0", "expected": "h0/nic0/p0"}) == 1
                assert watch.subjects(EventKind.HOST_LOST) == ["tor1:1"]
                assert not watch.subjects(EventKind.RECOMPUTED)
                assert runner.loop.failover.view.links == frozenset()
                assert sum(len(f.write_updates) for f in fakes.values()) == writes[0]

    run(main())


class PatchPanel:
    """The fabric's cables between the fakes: a probe a fake sends out of a fabric port
    comes in at the far end of its cable, unless the cable is cut."""

    def __init__(self, fabric: Fabric, fakes: Mapping[str, FakeP4RuntimeServer]) -> None:
        self.cut: set[SwitchPort] = set()
        for name, fake in fakes.items():
            fake.on_packet_out = self._cable(fabric, fakes, name)

    def _cable(
        self, fabric: Fabric, fakes: Mapping[str, FakeP4RuntimeServer], name: str
    ) -> Callable[[bytes, int], None]:
        def packet_out(frame: bytes, port: int) -> None:
            peer = fabric.peers(name).get(port)
            if isinstance(peer, SwitchPort) and not {SwitchPort(name, port), peer} & self.cut:
                fakes[peer.switch].punt(frame, peer.port)

        return packet_out


CABLES = Timers(interval_ns=50 * MS, misses=3, hold_down_ns=0)
"""Probes every 50 ms, a cable down after 3 silent rounds and up again as soon as heard."""


def switch_cables(fabric: Fabric) -> list[str]:
    return [
        str(link)
        for link in fabric.links
        if isinstance(link.a, SwitchPort) and isinstance(link.b, SwitchPort)
    ]


class Batches:
    """Each WriteBatch the runner reported written, with the switches it failed on; a
    switch the loop settles (pushed whole) pokes the watch too."""

    def __init__(self, runner: FabricRunner, watch: Watch) -> None:
        self.written: list[tuple[WriteBatch, dict[str, str]]] = []
        loop = runner.loop
        written, settled = loop.written, loop.settled

        def on_written(batch: WriteBatch, failed: Mapping[str, str] | None = None) -> None:
            self.written.append((batch, dict(failed or {})))
            written(batch, failed)

        def on_settled(names: set[str]) -> None:
            settled(names)
            watch.poke()

        loop.written = on_written  # type: ignore[method-assign]
        loop.settled = on_settled  # type: ignore[method-assign]


def _encoded(update: p4r.Update) -> Encoded:
    kind = update.entity.WhichOneof("entity")
    message = getattr(update.entity, kind or "")
    field = {"table_entry": wire.ENTITY_TABLE_ENTRY, "action_profile_member": wire.ENTITY_MEMBER}
    (item,) = decode_read_back([(field.get(kind or "", wire.ENTITY_GROUP), message.SerializeToString())])
    return item


def assert_written_as_built(fake: ReadsKept, since: int, writes: EntityWrites, encoder: EntryEncoder) -> None:
    """The updates `fake` took since its `since`-th are `writes`: inserts, then modifies,
    then deletes, each phase whole and nothing else, but the watch ports a group modify
    releases first (one extra MODIFY of that group)."""
    sent = fake.write_updates[since:]
    phases = [u.type for u in sent]
    assert phases == sorted(phases), f"{writes.switch}: phases out of order: {phases}"
    expected = {
        p4r.Update.INSERT: writes.inserts,
        p4r.Update.MODIFY: writes.modifies,
        p4r.Update.DELETE: writes.deletes,
    }
    for kind, entities in expected.items():
        want = Counter((e.key, e.data) for e in map(encoder.encode, entities))
        got = Counter((e.key, e.data) for e in map(_encoded, (u for u in sent if u.type == kind)))
        assert not want - got, f"{writes.switch}: {p4r.Update.Type.Name(kind)}s not written"
        releases = got - want
        if kind == p4r.Update.MODIFY:
            groups = {key for key, _ in want if key[:1] == bytes([wire.ENTITY_GROUP])}
            assert all(key in groups and n == 1 for (key, _), n in releases.items()), writes.switch
        else:
            assert not releases, f"{writes.switch}: {p4r.Update.Type.Name(kind)}s it was not to get"


def assert_holds(fake: FakeP4RuntimeServer, state: SwitchState, encoder: EntryEncoder, name: str) -> None:
    """`fake` holds exactly the entities of `state` (every table and profile owned)."""
    held: list[ReadBack] = [*fake.entries.values(), *fake.defaults.values()]
    held += [(wire.ENTITY_MEMBER, m.SerializeToString()) for m in fake.members.values()]
    held += [(wire.ENTITY_GROUP, g.SerializeToString()) for g in fake.groups.values()]
    schema = encoder.schema
    owned = [t.id for t in schema.tables] + [p.id for p in schema.action_profiles]
    diff = plan_diff(switch_entities(state), held, encoder, owned=owned)
    assert diff.is_empty, f"{name}: {diff.summary()}"


def whole_reads(fake: ReadsKept, since: int) -> list[p4r.Entity]:
    """Reads since the `since`-th that ask for a whole table or profile (what a push reads)."""
    return [
        e
        for e in fake.entries_read(since)
        if not (e.WhichOneof("entity") == "action_profile_group" and e.action_profile_group.group_id)
    ]


@contextlib.asynccontextmanager
async def cabled(
    rig: Fabric,
) -> AsyncIterator[tuple[dict[str, ReadsKept], PatchPanel, FabricRunner, Watch, Batches]]:
    """The runner on the fakes, every cable of the rig learnt from its probes."""
    watch = Watch()
    async with fake_switches(rig) as fakes:
        panel = PatchPanel(rig, fakes)
        async with running(rig, fakes, lambda: None, emit=watch, timers=CABLES) as (runner, _):
            batches = Batches(runner, watch)
            await watch.until(lambda: set(watch.subjects(EventKind.LEARNT)) == set(switch_cables(rig)))
            yield fakes, panel, runner, watch, batches


def test_a_cut_cable_s_switches_get_exactly_the_updates_built_not_their_whole_lists(rig: Fabric) -> None:
    encoder = EntryEncoder(load_schema())
    tor0_up = SwitchPort("tor0", 129)
    link = str(rig.link_at(tor0_up.switch, tor0_up.port))

    async def main() -> None:
        async with cabled(rig) as (fakes, panel, runner, watch, batches):
            for step in ("cut", "plugged back"):
                marks = {n: (len(f.write_updates), len(f.reads)) for n, f in fakes.items()}
                written = len(batches.written)
                if step == "cut":
                    panel.cut.add(tor0_up)
                else:
                    panel.cut.clear()
                await watch.until(lambda n=written: len(batches.written) > n)  # type: ignore[misc]
                ((batch, failed),) = batches.written[written:]
                assert [c.subject for c in batch.changes] == [link] and not failed, step
                assert batch.updates > 0 and set(batch.writes) < set(fakes), step
                states = runner.loop.failover.states
                for name, fake in fakes.items():
                    since, read = marks[name]
                    writes = batch.writes.get(name)
                    if writes is None:
                        assert fake.write_updates[since:] == [], f"{step}: {name} was written"
                    else:
                        assert_written_as_built(fake, since, writes, encoder)
                    assert whole_reads(fake, read) == [], f"{step}: {name} was read back whole"
                    assert_holds(fake, states[name], encoder, f"{step}: {name}")
            assert runner.loop.failover.view.links == frozenset()
            assert runner.loop.owed == set()

    run(main())


def test_a_switch_that_refuses_an_update_is_owed_and_pushed_whole_once_it_takes_it(rig: Fabric) -> None:
    """agg0 refuses every table entry: its updates for the cut are not all written, so it
    is owed its whole list; once it takes entries again, the runner pushes it whole."""
    encoder = EntryEncoder(load_schema())

    def refuse(_update: p4r.Update) -> tuple[int, str]:
        return rpc_code.RESOURCE_EXHAUSTED, "Table is full"

    async def main() -> None:
        async with cabled(rig) as (fakes, panel, runner, watch, batches):
            agg0 = fakes["agg0"]
            agg0.reject = refuse
            panel.cut.add(SwitchPort("tor0", 129))
            await watch.until(lambda: bool(batches.written))
            ((batch, failed),) = batches.written
            assert batch.writes["agg0"].updates > 0
            assert list(failed) == ["agg0"] and "RESOURCE_EXHAUSTED Table is full" in failed["agg0"]
            assert runner.loop.owed == {"agg0"}
            states = runner.loop.failover.states
            for name in ("tor0", "tor1", "agg1"):
                assert_holds(fakes[name], states[name], encoder, name)

            reads = len(agg0.reads)
            agg0.reject = None
            await watch.until(lambda: not runner.loop.owed)
            assert whole_reads(agg0, reads), "agg0 was not read back whole: no push"
            assert_holds(agg0, states["agg0"], encoder, "agg0")

    run(main())


def test_a_switch_that_restarts_empty_is_pushed_its_whole_list(rig: Fabric) -> None:
    """Whether or not the runner saw it go, tor0 back on a new connection holds nothing:
    it is owed, and pushed whole."""
    encoder = EntryEncoder(load_schema())
    watch = Watch()

    def holds(fake: FakeP4RuntimeServer, state: SwitchState) -> bool:
        try:
            assert_holds(fake, state, encoder, "tor0")
        except AssertionError:
            return False
        return True

    async def main() -> None:
        async with fake_switches(rig) as fakes, running(rig, fakes, lambda: None, emit=watch) as (runner, _):
            Batches(runner, watch)
            tor0 = fakes["tor0"]
            state = runner.loop.failover.states["tor0"]
            assert holds(tor0, state)
            await tor0.stop()
            await tor0.start()  # empty, on the same port
            assert not tor0.groups
            await watch.until(lambda: not runner.loop.owed and holds(tor0, state))
            assert runner.loop.failover.view.switches == frozenset()

    run(main())

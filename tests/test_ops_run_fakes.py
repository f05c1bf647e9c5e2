"""`hpnctl run`'s runner against fake P4Runtime switches (tests/fake_p4rt.py), one per
switch of rig-4: the switches' counters reach the metrics as the switches hold them, on a
task of their own; a switch that does not answer is skipped and logged, not fatal. The
ToRs' host ports are asked for their NICs with packet-outs, the hosts' replies come back
as packet-ins and the ports are seen; a host that stops answering is lost, and nothing is
written for it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from fake_p4rt import FakeP4RuntimeServer
from hpn.cli import app
from hpn.operations.arp_probe import encode_arp_request
from hpn.operations.counters import SwitchCounters
from hpn.operations.events import Event, EventKind, EventList, EventSink
from hpn.operations.hosts import HostTimers
from hpn.operations.liveness import MS, Timers
from hpn.operations.runner import FabricRunner
from hpn.params import GATEWAY_IP
from hpn.pipeline import BMV2_JSON_PATH, P4INFO_PATH, names
from hpn.pipeline.drop_reasons import DropReason
from hpn.runtime import Backoff, SessionOptions, SwitchTarget
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
    fakes: dict[str, FakeP4RuntimeServer],
    started: Callable[[], None],
    emit: EventSink | None = None,
    **kwargs: Any,
) -> AsyncIterator[tuple[FabricRunner, Reads]]:
    """The runner on the fakes until the block ends; `started` runs once the fabric is
    pushed, before any counter is read."""
    targets = [SwitchTarget(n, f.address, f.device_id, P4INFO_PATH, BMV2_JSON_PATH) for n, f in fakes.items()]
    runner = FabricRunner(fabric, targets, FAST, emit=emit or EventList(), timers=QUIET, **kwargs)
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
async def fake_switches(fabric: Fabric) -> AsyncIterator[dict[str, FakeP4RuntimeServer]]:
    fakes = {sw.name: FakeP4RuntimeServer(device_id=sw.device_id) for sw in fabric.switches}
    for fake in fakes.values():
        await fake.start()
    try:
        yield fakes
    finally:
        for fake in fakes.values():
            await fake.stop()


def hold_counters(fabric: Fabric, fakes: dict[str, FakeP4RuntimeServer]) -> None:
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
    fabric: Fabric, fakes: dict[str, FakeP4RuntimeServer], switches: list[str]
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

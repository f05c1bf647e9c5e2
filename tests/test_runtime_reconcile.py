"""hpn.runtime against an in-process fake P4Runtime server: push, reconcile, errors, resilience.

No toolchain needed: tests/fake_p4rt.py plays the switch, tests/data/ holds a small
hand-written P4Info. Waiting is done on events and futures, each bounded by a timeout so a
bug fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import finsy as fy
import grpc
import pytest
from finsy.proto import p4r, rpc_code

from fake_p4rt import FakeP4RuntimeServer, reserved_port
from hpn.runtime import (
    Backoff,
    FabricSession,
    ProgressEvent,
    PushReport,
    SessionOptions,
    SwitchReport,
    SwitchTarget,
)

DATA = Path(__file__).parent / "data"
P4INFO = DATA / "runtime_fixture.p4info.txtpb"
P4BLOB = DATA / "runtime_fixture.json"
LPM = "ingress.routing.ipv4_lpm"
FAST = SessionOptions(backoff=Backoff(initial=0.02, factor=2.0, maximum=0.2, jitter=0.0), connect_timeout=5.0)
TIMEOUT = 20.0

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def target(name: str, fake: FakeP4RuntimeServer) -> SwitchTarget:
    return SwitchTarget(name, fake.address, fake.device_id, P4INFO, P4BLOB)


def route(i: int, port: int | None = None, plane: int = 0) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        "ipv4_lpm",
        match=fy.Match(plane=plane, dst_addr=f"10.{i // 256}.{i % 256}.0/24"),
        action=fy.Action("set_port", port=i % 8 if port is None else port),
    )


def port_mac(port: int, mac: str = "00:00:00:00:00:01") -> fy.P4TableEntry:
    return fy.P4TableEntry("port_mac", match=fy.Match(port=port), action=fy.Action("set_mac", mac=mac))


def lb_default(seed: int = 1) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        "lb_params",
        is_default_action=True,
        action=fy.Action("set_lb_params", hash_seed=seed, flowlet_gap_us=100),
    )


def state(n: int) -> list[fy.P4TableEntry]:
    return [route(i) for i in range(n)] + [port_mac(p) for p in range(4)] + [lb_default()]


async def with_fabric(
    fakes: Sequence[FakeP4RuntimeServer],
    body: Callable[[FabricSession], Awaitable[T]],
    options: SessionOptions = FAST,
    names: Sequence[str] | None = None,
) -> T:
    names = names or [f"sw{i}" for i in range(len(fakes))]
    async with FabricSession([target(n, f) for n, f in zip(names, fakes, strict=True)], options) as fabric:
        return await body(fabric)


# --- push / reconcile -----------------------------------------------------------------------


def test_push_writes_everything_then_repush_writes_nothing() -> None:
    async def main() -> tuple[PushReport, PushReport, FakeP4RuntimeServer]:
        async with FakeP4RuntimeServer() as fake:

            async def body(fabric: FabricSession) -> tuple[PushReport, PushReport]:
                first = await fabric.push({"sw0": state(300)})
                writes = len(fake.write_sizes)
                second = await fabric.push({"sw0": state(300)})
                assert len(fake.write_sizes) == writes, "re-push sent a WriteRequest"
                return first, second

            first, second = await with_fabric([fake], body)
            return first, second, fake

    first, second, fake = run(main())
    r = first["sw0"]
    assert r.ok, r.errors
    assert (r.inserted, r.modified, r.deleted) == (304, 1, 0)
    assert len(fake.table_entries(LPM)) == 300
    assert len(fake.table_entries("port_mac")) == 4
    default = fake.default_entry("lb_params")
    assert default is not None and default.action.action.params[0].value == b"\x01"
    again = second["sw0"]
    assert again.ok and again.updates == 0 and again.requests == 0
    assert again.unchanged == 305
    assert second.updates == 0


def test_repush_writes_nothing_when_server_reads_back_padded_bytes() -> None:
    """Read-back with padded bytestrings, shuffled fields and counter data is still equal."""

    async def main() -> PushReport:
        async with FakeP4RuntimeServer(noncanonical_reads=True) as fake:

            async def body(fabric: FabricSession) -> PushReport:
                await fabric.push({"sw0": state(50)})
                return await fabric.push({"sw0": state(50)})

            return await with_fabric([fake], body)

    report = run(main())
    assert report.ok and report.updates == 0 and report["sw0"].unchanged == 55


def test_changed_state_writes_only_the_difference() -> None:
    async def main() -> tuple[SwitchReport, list[p4r.Update], FakeP4RuntimeServer]:
        async with FakeP4RuntimeServer() as fake:

            async def body(fabric: FabricSession) -> SwitchReport:
                await fabric.push({"sw0": state(20)})
                fake.write_updates.clear()
                changed = [route(i) for i in range(3, 20)]  # 0..2 removed
                changed[0] = route(3, port=7 if 3 % 8 != 7 else 6)  # modified
                changed[1] = route(4, port=7 if 4 % 8 != 7 else 6)  # modified
                changed += [route(i) for i in range(100, 104)]  # 4 new
                changed += [port_mac(p) for p in range(4)] + [lb_default(seed=9)]  # default changed
                return (await fabric.push({"sw0": changed}))["sw0"]

            report = await with_fabric([fake], body)
            return report, list(fake.write_updates), fake

    report, updates, fake = run(main())
    assert report.ok, report.errors
    assert (report.deleted, report.modified, report.inserted) == (3, 3, 4)
    kinds = [u.type for u in updates]
    # Make-before-break: new entries first, removals last.
    assert kinds == [p4r.Update.INSERT] * 4 + [p4r.Update.MODIFY] * 3 + [p4r.Update.DELETE] * 3
    assert len(fake.table_entries(LPM)) == 21


def test_tables_left_out_of_desired_state_are_not_touched() -> None:
    async def main() -> tuple[SwitchReport, FakeP4RuntimeServer]:
        async with FakeP4RuntimeServer() as fake:

            async def body(fabric: FabricSession) -> SwitchReport:
                await fabric.push({"sw0": state(5)})
                return (await fabric.push({"sw0": [route(i) for i in range(5)]}))["sw0"]

            return await with_fabric([fake], body), fake

    report, fake = run(main())
    assert report.updates == 0
    assert len(fake.table_entries("port_mac")) == 4


def test_own_all_tables_empties_tables_left_out() -> None:
    owner = SessionOptions(own_all_tables=True, backoff=FAST.backoff)

    async def main() -> tuple[SwitchReport, FakeP4RuntimeServer]:
        async with FakeP4RuntimeServer() as fake:

            async def body(fabric: FabricSession) -> SwitchReport:
                await fabric.push({"sw0": state(5)})
                return (await fabric.push({"sw0": [route(i) for i in range(5)]}))["sw0"]

            return await with_fabric([fake], body, options=owner), fake

    report, fake = run(main())
    assert (report.deleted, report.inserted, report.modified) == (4, 0, 0)
    assert not fake.table_entries("port_mac") and len(fake.table_entries(LPM)) == 5


def test_pipeline_pushed_once_then_skipped_by_cookie() -> None:
    async def main() -> tuple[list[bool], int]:
        pushed = []
        async with FakeP4RuntimeServer() as fake:
            for _ in range(2):  # two controller runs
                report = await with_fabric([fake], lambda f: f.push({"sw0": state(3)}))
                pushed.append(report["sw0"].pipeline_pushed)
            assert fake.cookie is not None
            # within one session a second push never re-pushes the pipeline either
            reports = await with_fabric([fake], lambda f: f.push({"sw0": state(3)}))
            pushed.append(reports["sw0"].pipeline_pushed)
            return pushed, fake.set_pipeline_calls

    pushed, calls = run(main())
    assert pushed == [True, False, False]
    assert calls == 1


def test_p4force_pushes_the_pipeline_even_when_the_cookie_matches() -> None:
    async def main() -> tuple[bool, int]:
        async with FakeP4RuntimeServer() as fake:
            await with_fabric([fake], lambda f: f.push({"sw0": state(3)}))
            forced = SessionOptions(p4force=True, backoff=FAST.backoff)
            report = await with_fabric([fake], lambda f: f.push({"sw0": state(3)}), options=forced)
            return report["sw0"].pipeline_pushed, fake.set_pipeline_calls

    assert run(main()) == (True, 2)


def test_diff_reports_without_writing() -> None:
    async def main() -> tuple[str, list[str], int]:
        async with FakeP4RuntimeServer() as fake:

            async def body(fabric: FabricSession) -> tuple[str, list[str], int]:
                await fabric.push({"sw0": state(10)})
                writes = len(fake.write_sizes)
                diffs = await fabric.diff({"sw0": [route(i) for i in range(1, 11)] + [lb_default(seed=2)]})
                d = diffs["sw0"]
                return d.summary(), d.lines(fabric.switch("sw0").schema), len(fake.write_sizes) - writes

            return await with_fabric([fake], body)

    summary, lines, writes = run(main())
    assert summary == "+1 ~1 -1 =9"
    assert writes == 0
    assert f"- {LPM} {{plane=0, dst_addr=10.0.0.0/24}}" in lines
    assert f"+ {LPM} {{plane=0, dst_addr=10.0.10.0/24}} -> ingress.routing.set_port(port=2)" in lines
    assert (
        "~ ingress.lb.lb_params {default} -> ingress.lb.set_lb_params(hash_seed=2, flowlet_gap_us=100)"
        in lines
    )


def test_const_table_entries_are_skipped() -> None:
    const = fy.P4TableEntry("const_planes", match=fy.Match(port=1), action=fy.Action("NoAction"))

    async def main() -> SwitchReport:
        async with FakeP4RuntimeServer() as fake:
            report = await with_fabric([fake], lambda f: f.push({"sw0": [*state(2), const]}))
            assert not fake.table_entries("const_planes")
            return report["sw0"]

    report = run(main())
    assert report.ok and report.inserted == 6
    assert any("const" in w for w in report.warnings)


# --- errors ---------------------------------------------------------------------------------


def _reject_port(
    port: int, code: int = rpc_code.INVALID_ARGUMENT
) -> Callable[[p4r.Update], tuple[int, str] | None]:
    def reject(update: p4r.Update) -> tuple[int, str] | None:
        entry = update.entity.table_entry
        params = entry.action.action.params
        if update.type == p4r.Update.INSERT and params and params[0].value == bytes([port]) and entry.match:
            return (code, "marked bad by the test")
        return None

    return reject


@pytest.mark.parametrize("lose_details", [False, True], ids=["details", "details-lost"])
def test_rejected_entries_are_each_named_while_the_good_ones_land(lose_details: bool) -> None:
    """Every rejected entry of every chunk is reported by name; the rest are written.

    With `details-lost` the server answers like bmv2 whose per-update errors overflowed
    gRPC's metadata: the writer splits the batch until each rejected entry is found.
    """
    options = SessionOptions(batch_size=50, backoff=FAST.backoff)

    async def main() -> tuple[SwitchReport, FakeP4RuntimeServer]:
        async with FakeP4RuntimeServer() as fake:
            fake.reject = _reject_port(7)
            fake.drop_details_above = 8 if lose_details else None
            report = await with_fabric([fake], lambda f: f.push({"sw0": state(160)}), options=options)
            return report["sw0"], fake

    report, fake = run(main())
    bad = [i for i in range(160) if i % 8 == 7]
    assert len(report.rejected) == len(bad) == 20
    assert report.inserted == 160 - 20 + 4
    assert len(fake.table_entries(LPM)) == 140
    for i, error in zip(bad, report.errors, strict=True):
        expected = (
            f"sw0: INSERT {LPM} {{plane=0, dst_addr=10.0.{i}.0/24}}: INVALID_ARGUMENT marked bad by the test"
        )
        assert error == expected
    assert report.rejected[0].action == "ingress.routing.set_port(port=7)"
    assert not report.ok


def test_already_exists_message_names_switch_table_and_match() -> None:
    async def main() -> SwitchReport:
        async with FakeP4RuntimeServer() as fake:
            fake.reject = _reject_port(3, rpc_code.ALREADY_EXISTS)
            entry = fy.P4TableEntry(
                "ipv4_lpm",
                match=fy.Match(plane=0, dst_addr="10.1.0.0/24"),
                action=fy.Action("set_port", port=3),
            )
            report = await with_fabric(
                [fake], lambda f: f.push({"tor-s0-r0-p0": [entry]}), names=["tor-s0-r0-p0"]
            )
            return report["tor-s0-r0-p0"]

    report = run(main())
    assert report.errors == [
        f"tor-s0-r0-p0: INSERT {LPM} {{plane=0, dst_addr=10.1.0.0/24}}: ALREADY_EXISTS marked bad by the test"
    ]


def test_whole_batch_failure_is_reported_for_the_switch() -> None:
    async def main() -> SwitchReport:
        async with FakeP4RuntimeServer() as fake:
            fake.fail_next_write = (grpc.StatusCode.FAILED_PRECONDITION, "pipeline busy")
            report = await with_fabric([fake], lambda f: f.push({"sw0": state(3)}))
            return report["sw0"]

    report = run(main())
    assert report.errors == ["sw0: FAILED_PRECONDITION: pipeline busy"]


def test_bad_desired_entity_is_reported_not_raised() -> None:
    async def main() -> SwitchReport:
        async with FakeP4RuntimeServer() as fake:
            bad = fy.P4TableEntry("no_such_table", match=fy.Match(x=1), action=fy.Action("drop"))
            return (await with_fabric([fake], lambda f: f.push({"sw0": [bad]})))["sw0"]

    report = run(main())
    assert len(report.errors) == 1 and "no_such_table" in report.errors[0]


# --- batching -------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [200, 64])
def test_writes_are_chunked(batch_size: int) -> None:
    options = SessionOptions(batch_size=batch_size, backoff=FAST.backoff)

    async def main() -> tuple[SwitchReport, list[int]]:
        async with FakeP4RuntimeServer() as fake:
            report = await with_fabric(
                [fake], lambda f: f.push({"sw0": [route(i) for i in range(450)]}), options
            )
            return report["sw0"], fake.write_sizes

    report, sizes = run(main())
    assert report.ok and report.inserted == 450
    assert sum(sizes) == 450
    assert max(sizes) <= batch_size and report.largest_request == max(sizes)
    assert report.requests == len(sizes) >= -(-450 // batch_size)


def test_duplicate_keys_are_reported_and_the_last_one_wins() -> None:
    async def main() -> tuple[SwitchReport, list[p4r.TableEntry]]:
        async with FakeP4RuntimeServer() as fake:
            desired = [route(1), route(2), route(1), route(2, port=5)]
            report = await with_fabric([fake], lambda f: f.push({"sw0": desired}))
            return report["sw0"], fake.table_entries(LPM)

    report, entries = run(main())
    # route(2) was inserted before its duplicate was seen; a modify makes the last one stick.
    assert report.ok and (report.inserted, report.modified) == (2, 1)
    assert len(entries) == 2
    last = [e for e in entries if e.match[1].lpm.value == bytes([10, 0, 2, 0])]
    assert last[0].action.action.params[0].value == b"\x05"  # the last one wins
    assert len(report.warnings) == 2 and "different actions" in report.warnings[1]


# --- resilience -----------------------------------------------------------------------------


def test_one_switch_down_others_programmed_then_resynced_when_it_returns() -> None:
    async def main() -> None:
        with reserved_port() as port:
            await one_down_then_back(
                [FakeP4RuntimeServer(), FakeP4RuntimeServer(), FakeP4RuntimeServer(port)]
            )

    async def one_down_then_back(fakes: list[FakeP4RuntimeServer]) -> None:
        await fakes[0].start()
        await fakes[1].start()
        down = fakes[2]  # not started: nothing listens on its port
        try:
            names = ["sw0", "sw1", "sw2"]
            targets = [target(n, f) for n, f in zip(names, fakes, strict=True)]
            async with FabricSession(targets, FAST) as fabric:
                report = await fabric.push({n: state(10) for n in names})
                assert report["sw0"].ok and report["sw1"].ok
                assert report["sw0"].inserted == report["sw1"].inserted == 14
                r2 = report["sw2"]
                assert not r2.reachable and not r2.ok
                assert r2.errors[0].startswith(f"sw2 ({down.address}): unreachable: ")
                status = await fabric.status()
                assert not status["sw2"].reachable and down.address in (status["sw2"].error or "")
                counts = {"ingress.routing.ipv4_lpm": 10, "ingress.routing.port_mac": 4}
                assert status["sw0"].entries == counts

                synced: asyncio.Future[SwitchReport] = asyncio.get_running_loop().create_future()

                def on_sync(r: SwitchReport) -> None:
                    if r.name == "sw2" and not synced.done():
                        synced.set_result(r)

                keeper = asyncio.create_task(
                    fabric.keep_in_sync(lambda: {n: state(10) for n in names}, on_sync=on_sync)
                )
                await down.start()
                resynced = await asyncio.wait_for(synced, TIMEOUT)
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
                assert resynced.ok and resynced.pipeline_pushed and resynced.inserted == 14
                assert len(down.table_entries(LPM)) == 10
                assert all(len(f.write_sizes) == 2 for f in fakes[:2])  # inserts + default: untouched since
        finally:
            for fake in fakes:
                await fake.stop()

    run(main())


def test_restarted_switch_is_resynced_by_keep_in_sync() -> None:
    async def main() -> None:
        async with (
            FakeP4RuntimeServer() as fake,
            FakeP4RuntimeServer() as other,
            FabricSession([target("sw0", fake), target("sw1", other)], FAST) as fabric,
        ):
            await fabric.push({"sw0": state(10), "sw1": state(5)})
            reports: asyncio.Queue[SwitchReport] = asyncio.Queue()
            keeper = asyncio.create_task(fabric.keep_in_sync(on_sync=reports.put_nowait))
            other_writes = len(other.write_sizes)
            await fake.stop()  # bmv2 killed: its connections are cut...
            await fake.start()  # ... and restarted empty on the same port
            report = await asyncio.wait_for(reports.get(), TIMEOUT)
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            assert report.name == "sw0" and report.ok
            assert report.pipeline_pushed and (report.inserted, report.modified) == (14, 1)
            assert len(fake.table_entries(LPM)) == 10 and fake.set_pipeline_calls == 1
            assert len(other.write_sizes) == other_writes

    run(main())


def test_several_switches_pushed_at_once_each_with_its_own_state() -> None:
    async def main() -> None:
        fakes = [FakeP4RuntimeServer() for _ in range(5)]
        for fake in fakes:
            await fake.start()
        try:
            events: list[ProgressEvent] = []

            async def body(fabric: FabricSession) -> PushReport:
                return await fabric.push({f"sw{i}": state(10 * (i + 1)) for i in range(5)}, events.append)

            report = await with_fabric(fakes, body)
            assert report.ok
            for i, fake in enumerate(fakes):
                assert report[f"sw{i}"].inserted == 10 * (i + 1) + 4
                assert len(fake.table_entries(LPM)) == 10 * (i + 1)
            stages = {(e.switch, e.stage) for e in events}
            assert all((f"sw{i}", "done") in stages for i in range(5))
            finals = [e for e in events if e.stage == "write" and e.switch == "sw4"]
            assert finals[-1].done == finals[-1].total == 55
        finally:
            for fake in fakes:
                await fake.stop()

    run(main())


def test_refused_pipeline_push_is_reported_with_the_reason() -> None:
    async def main() -> tuple[SwitchReport, str]:
        async with FakeP4RuntimeServer() as fake:
            fake.refuse_pipeline = "bad bmv2 JSON"
            report = await with_fabric([fake], lambda f: f.push({"sw0": state(1)}))
            return report["sw0"], fake.address

    report, address = run(main())
    assert report.errors == [
        f"sw0 ({address}): unreachable: pipeline push failed: INVALID_ARGUMENT: bad bmv2 JSON"
    ]


def test_election_id_is_configurable_and_backup_cannot_write() -> None:
    async def main() -> tuple[SwitchReport, SwitchReport]:
        async with FakeP4RuntimeServer() as fake:
            high = SessionOptions(election_id=50, backoff=FAST.backoff)
            low = SessionOptions(election_id=20, backoff=FAST.backoff)
            async with FabricSession([target("sw0", fake)], high) as primary:
                await primary.wait_connected()
                async with FabricSession([target("sw0", fake)], low) as backup:
                    refused = (await backup.push({"sw0": state(2)}))["sw0"]
                accepted = (await primary.push({"sw0": state(2)}))["sw0"]
            return refused, accepted

    refused, accepted = run(main())
    assert accepted.ok and accepted.inserted == 6
    assert refused.errors == [
        "sw0: write access refused: NOT_PRIMARY another controller is primary (election id 50 > ours 20)"
    ]


def test_read_counters_and_status() -> None:
    async def main() -> None:
        async with FakeP4RuntimeServer() as fake:

            async def body(fabric: FabricSession) -> None:
                await fabric.push({"sw0": state(7)})
                fake.set_counter("port_rx", 3, packets=5, octets=640)
                cells = await fabric.read_counters("port_rx", [2, 3])
                assert cells["sw0"][3].packets == 5 and cells["sw0"][3].bytes == 640
                assert cells["sw0"][2].packets == 0
                every = await fabric.read_counters("ingress.stats.port_rx")
                assert len(every["sw0"]) == 512
                status = (await fabric.status())["sw0"]
                assert status.reachable and status.primary and status.pipeline_cookie_matches
                assert status.entries == {LPM: 7, "ingress.routing.port_mac": 4}

            await with_fabric([fake], body)

    run(main())

"""hpn.runtime.batching and .sync without a server: order, batching, errors, streaming.

The write function is a fake that records each WriteRequest (parsed back from the bytes
the writer framed) and can hold a request until the test lets it finish, so "the switch is
busy" is an event the test controls, not a sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import finsy as fy
import grpc
import pytest
from finsy import pbutil
from finsy.proto import p4r, rpc_code, rpc_status

from hpn.runtime import wire
from hpn.runtime.batching import CHECK_EVERY, BatchWriter
from hpn.runtime.encoding import Encoded, EntryEncoder
from hpn.runtime.errors import SwitchUnreachable
from hpn.runtime.reconcile import ReadPlan
from hpn.runtime.sync import encode_while, sync_entries

DATA = Path(__file__).parent / "data"
SCHEMA = fy.P4Schema(DATA / "runtime_fixture.p4info.txtpb", DATA / "runtime_fixture.json")
ENCODER = EntryEncoder(SCHEMA)
INSERT, MODIFY, DELETE = p4r.Update.INSERT, p4r.Update.MODIFY, p4r.Update.DELETE
TIMEOUT = 10.0


def route(i: int, port: int = 1) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        "ipv4_lpm", match=fy.Match(plane=0, dst_addr=(i << 8, 24)), action=fy.Action("set_port", port=port)
    )


def item(i: int, port: int = 1) -> Encoded:
    return ENCODER.encode(route(i, port))


def rpc_error(
    code: grpc.StatusCode, message: str, details: Sequence[tuple[int, str]] = ()
) -> fy.P4ClientError:
    """A P4ClientError as finsy makes it from a failed Write, with optional per-update details."""
    trailer = grpc.aio.Metadata()
    if details:
        status = rpc_status.Status(code=code.value[0], message=message)
        status.details.extend(pbutil.to_any(p4r.Error(canonical_code=c, message=m)) for c, m in details)
        trailer = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return fy.P4ClientError(grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailer, message), "Write")


class FakeSwitch:
    """Records WriteRequests; `hold()` makes the next request wait until `release()`."""

    def __init__(self) -> None:
        self.requests: list[list[p4r.Update]] = []
        self.table: dict[bytes, p4r.TableEntry] = {}
        self._gate: asyncio.Event | None = None
        self._held = asyncio.Event()
        self.started = asyncio.Event()
        self.reject: set[bytes] = set()  # entries whose insert fails ALREADY_EXISTS
        self.lose_details = False
        self.unreachable = False

    def hold(self) -> None:
        self._gate = self._held = asyncio.Event()

    def release(self) -> None:
        self._held.set()

    async def write(self, framed: Sequence[bytes]) -> None:
        request = p4r.WriteRequest.FromString(wire.write_request(b"", framed))
        self.requests.append(list(request.updates))
        self.started.set()
        if self._gate is not None:
            gate, self._gate = self._gate, None
            await asyncio.wait_for(gate.wait(), TIMEOUT)
        if self.unreachable:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE, "gone")
        failed = [
            i
            for i, u in enumerate(request.updates)
            if u.entity.table_entry.SerializeToString() in self.reject
        ]
        if failed:
            if self.lose_details:  # what bmv2 does when the details overflow gRPC metadata
                raise rpc_error(grpc.StatusCode.UNKNOWN, "Write failure.")
            details = [
                (rpc_code.ALREADY_EXISTS, "exists") if i in failed else (rpc_code.OK, "")
                for i in range(len(request.updates))
            ]
            raise rpc_error(grpc.StatusCode.UNKNOWN, "Write failure.", details)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def sizes(switch: FakeSwitch) -> list[int]:
    return [len(r) for r in switch.requests]


async def insert_all(switch: FakeSwitch, items: Sequence[Encoded], batch_size: int) -> BatchWriter:
    """Insert `items` through a BatchWriter the way the reconcile loop does."""
    async with BatchWriter(switch.write, batch_size=batch_size) as writer:
        for one in items:
            if writer.add(INSERT, one):
                await writer.flush()
        await writer.drain()
    return writer


def test_updates_go_out_in_order_in_requests_of_at_most_batch_size() -> None:
    switch = FakeSwitch()
    writer = run(insert_all(switch, [item(i) for i in range(25)], batch_size=10))
    assert writer.result.written == 25 and writer.result.requests == len(switch.requests)
    assert max(sizes(switch)) <= 10 and sum(sizes(switch)) == 25
    sent = [u.entity.table_entry for r in switch.requests for u in r]
    assert sent == [item(i).entry() for i in range(25)]


def test_first_request_is_small_and_later_ones_fill_up_while_the_switch_is_busy() -> None:
    switch = FakeSwitch()

    async def main() -> None:
        async with BatchWriter(switch.write, batch_size=500) as writer:
            switch.hold()  # the switch works on the first request until released
            n = 0
            for _ in range(CHECK_EVERY):
                n += 1
                if writer.add(INSERT, item(n)):
                    await writer.flush()
            await asyncio.wait_for(switch.started.wait(), TIMEOUT)
            assert sizes(switch) == [CHECK_EVERY]  # sent at once: the switch was idle
            for _ in range(700):  # the switch is busy: these pile up, 500 go out next
                n += 1
                if writer.add(INSERT, item(n)):
                    await writer.flush()
            switch.release()
            await writer.drain()

    run(main())
    assert sizes(switch) == [CHECK_EVERY, 500, 200]


def port_mac(port: int) -> Encoded:
    return ENCODER.encode(
        fy.P4TableEntry("port_mac", match=fy.Match(port=port), action=fy.Action("set_mac", mac=1))
    )


def test_requests_overlap_only_within_one_table_and_update_type() -> None:
    switch = FakeSwitch()

    async def main() -> list[int]:
        async with BatchWriter(switch.write, batch_size=100) as writer:
            switch.hold()  # the first request stays at the switch until released
            for i in range(CHECK_EVERY):  # routes: go at once, the switch is idle
                if writer.add(INSERT, item(i)):
                    await writer.flush()
            for i in range(100):  # more routes, a full request: may overlap the first
                if writer.add(INSERT, item(1000 + i)):
                    await writer.flush()
            overlapping = len(switch.requests)
            for port in range(30):  # another table: must wait for both
                if writer.add(INSERT, port_mac(port)):
                    await writer.flush()
            draining = asyncio.ensure_future(writer.drain())
            for _ in range(20):  # give the writer every chance to start it too early
                await asyncio.sleep(0)
            waiting = len(switch.requests)
            switch.release()
            await draining
            return [overlapping, waiting]

    overlapping, waiting = run(main())
    assert overlapping == 2  # the second route request went out while the first was held
    assert waiting == 2  # the port_mac request did not
    assert sizes(switch) == [CHECK_EVERY, 100, 30]
    tables = [{u.entity.table_entry.table_id for u in r} for r in switch.requests]
    assert tables[2] == {SCHEMA.tables["port_mac"].id}


def test_rejected_updates_are_named_by_index_and_the_others_count_as_written() -> None:
    switch = FakeSwitch()
    switch.reject = {item(3).data, item(17).data}
    writer = run(insert_all(switch, [item(i) for i in range(20)], batch_size=8))
    assert [(r.index, r.code) for r in writer.result.rejected] == [
        (3, "ALREADY_EXISTS"),
        (17, "ALREADY_EXISTS"),
    ]
    assert writer.result.written == 18


def test_a_failure_without_details_is_bisected_down_to_the_bad_update() -> None:
    switch = FakeSwitch()
    switch.reject = {item(5).data}
    switch.lose_details = True
    writer = run(insert_all(switch, [item(i) for i in range(16)], batch_size=16))
    assert [r.index for r in writer.result.rejected] == [5]
    assert writer.result.written == 15
    assert len(switch.requests) > 1  # the halves were sent again


def test_a_switch_level_failure_stops_the_writer() -> None:
    switch = FakeSwitch()
    switch.unreachable = True
    with pytest.raises(fy.P4ClientError):
        run(insert_all(switch, [item(i) for i in range(8)], batch_size=4))
    assert len(switch.requests) == 1  # nothing more is sent once the switch is gone


# --- sync ---------------------------------------------------------------------------------------


class CountingEncoder(EntryEncoder):
    """Counts the entities encoded so far."""

    def __init__(self) -> None:
        super().__init__(SCHEMA)
        self.count = 0

    def encode(self, entity: Any) -> Encoded:
        self.count += 1
        return super().encode(entity)


def test_sync_writes_while_it_is_still_encoding_the_desired_state() -> None:
    switch = FakeSwitch()
    encoder = CountingEncoder()
    encoded_at_first_write: list[int] = []

    async def write(framed: Sequence[bytes]) -> None:
        if not encoded_at_first_write:
            encoded_at_first_write.append(encoder.count)
        await switch.write(framed)

    async def read(_plan: ReadPlan) -> list[bytes]:
        return []

    desired = [route(i) for i in range(2000)]
    result = run(sync_entries(desired, encoder, read, write, switch="sw", batch_size=500))
    assert result.applied.inserted == 2000 and not result.invalid
    assert encoded_at_first_write[0] < 1000  # the first request left long before the end


def test_sync_orders_inserts_before_modifies_before_deletes() -> None:
    switch = FakeSwitch()
    on_switch = [item(i, port=1).data for i in range(300)]  # 0..299; 100..199 change, 200..299 go
    desired = [route(i, port=1) for i in range(100)] + [route(i, port=2) for i in range(100, 200)]
    desired += [route(i) for i in range(300, 450)]  # new

    async def read(_plan: ReadPlan) -> list[bytes]:
        return on_switch

    result = run(sync_entries(desired, ENCODER, read, switch.write, switch="sw", batch_size=64))
    kinds = [u.type for r in switch.requests for u in r]
    assert kinds == [INSERT] * 150 + [MODIFY] * 100 + [DELETE] * 100
    assert all(len({u.type for u in r}) == 1 for r in switch.requests)  # no request mixes phases
    applied = result.applied
    assert (applied.inserted, applied.modified, applied.deleted, result.diff.unchanged) == (
        150,
        100,
        100,
        100,
    )


def test_an_entity_that_cannot_be_encoded_is_named_and_holds_back_deletes() -> None:
    switch = FakeSwitch()
    bad = fy.P4TableEntry(
        "ipv4_lpm", match=fy.Match(plane=0, dst_addr="10.0.0.0/8"), action=fy.Action("set_port", port=999)
    )

    async def read(_plan: ReadPlan) -> list[bytes]:
        return [item(i).data for i in range(10)]  # nothing desired keeps these

    result = run(
        sync_entries([route(100), bad, route(101)], ENCODER, read, switch.write, switch="sw", batch_size=64)
    )
    assert result.applied.inserted == 2 and result.applied.deleted == 0
    assert result.deletes_held_back == 10
    assert len(result.invalid) == 1
    assert result.invalid[0].startswith("sw: cannot encode ipv4_lpm {'plane': 0, 'dst_addr': '10.0.0.0/8'}")
    assert "999" in result.invalid[0]


def test_an_unknown_table_fails_before_anything_is_read_or_written() -> None:
    switch = FakeSwitch()
    reads: list[ReadPlan] = []

    async def read(plan: ReadPlan) -> list[bytes]:
        reads.append(plan)
        return []

    with pytest.raises(ValueError, match="no_such_table"):
        run(
            sync_entries(
                [route(1), fy.P4TableEntry("no_such_table")],
                ENCODER,
                read,
                switch.write,
                switch="sw",
                batch_size=8,
            )
        )
    assert reads == [] and switch.requests == []


def test_encode_while_stops_when_told_and_leaves_bad_entities_for_sync() -> None:
    bad = fy.P4TableEntry("port_mac", match=fy.Match(port=1), action=fy.Action("set_mac", mac="zz"))
    entities: list[fy.P4TableEntry] = [route(i) for i in range(600)] + [bad]
    turns = iter([True, True])  # two slices, then "connected"
    out = run(encode_while(entities, ENCODER, lambda: next(turns, False)))
    encoded = sum(isinstance(e, Encoded) for e in out)
    assert 0 < encoded < 600 and out[-1] is bad
    everything = run(encode_while(entities, ENCODER, lambda: True))
    assert sum(isinstance(e, Encoded) for e in everything) == 600 and everything[-1] is bad


def test_switch_unreachable_is_raised_to_the_caller() -> None:
    async def read(_plan: ReadPlan) -> list[bytes]:
        raise SwitchUnreachable("sw", "unix:/x", "not connected")

    with pytest.raises(SwitchUnreachable):
        run(sync_entries([route(1)], ENCODER, read, FakeSwitch().write, switch="sw", batch_size=8))

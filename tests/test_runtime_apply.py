"""`FabricSession.apply`: a change already known, written as given, against the fake switch
that enforces references (tests/fake_p4rt.py) with the fabric's program."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import finsy as fy
import pytest
from finsy.proto import p4r, rpc_code

from fake_p4rt import reserved_port
from fake_reads import ReadsKept
from hpn.pipeline import names
from hpn.pipeline.p4info import BMV2_JSON_PATH, P4INFO_PATH
from hpn.runtime import Backoff, FabricSession, SessionOptions, SwitchReport, SwitchTarget
from hpn.runtime.encoding import DesiredEntity, Encoded, EntryEncoder

PROFILE = names.NH_SELECTOR
BACKOFF = Backoff(initial=0.02, factor=2.0, maximum=0.2, jitter=0.0)
FAST = SessionOptions(own_all_tables=True, backoff=BACKOFF, connect_timeout=5.0)
TIMEOUT = 20.0
T = TypeVar("T")

pytestmark = pytest.mark.skipif(not P4INFO_PATH.exists(), reason=f"{P4INFO_PATH} missing: run `make p4`")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def member(mid: int, port: int) -> fy.P4ActionProfileMember:
    return fy.P4ActionProfileMember(
        PROFILE, member_id=mid, action=fy.P4TableAction(names.SET_EGRESS_PORT, port=port)
    )


def group(gid: int, *ports: int) -> fy.P4ActionProfileGroup:
    return fy.P4ActionProfileGroup(
        PROFILE, group_id=gid, max_size=3, members=[fy.P4Member(p + 2, weight=(1, p)) for p in ports]
    )


def entry(group_id: int, bucket: int, sel_group: int) -> fy.P4TableEntry:
    return fy.P4TableEntry(
        names.NEXT_HOP.name,
        match=fy.P4TableMatch(group_id=group_id, bucket=bucket),
        action=fy.P4IndirectAction(group_id=sel_group),
    )


@dataclass(frozen=True)
class Updates:
    inserts: Sequence[DesiredEntity] = ()
    modifies: Sequence[DesiredEntity] = ()
    deletes: Sequence[DesiredEntity] = ()


BEFORE: list[DesiredEntity] = [member(4, 2), member(5, 3), group(7, 2, 3), entry(1, 0, 7)]
CHANGE = Updates(
    inserts=[member(6, 4), group(8, 4), entry(1, 1, 8)],
    modifies=[group(7, 2)],  # member 5 (port 3) leaves the group ...
    deletes=[member(5, 3)],  # ... and then goes
)
AFTER: list[DesiredEntity] = [
    member(4, 2),
    member(6, 4),
    group(7, 2),
    group(8, 4),
    entry(1, 0, 7),
    entry(1, 1, 8),
]


async def on_fake(body: Callable[[FabricSession, ReadsKept], Awaitable[T]]) -> T:
    fake = ReadsKept()
    async with fake:
        target = SwitchTarget("sw", fake.address, 1, P4INFO_PATH, BMV2_JSON_PATH)
        async with FabricSession([target], FAST) as fabric:
            await fabric.wait_connected()
            return await body(fabric, fake)


def kinds(updates: Sequence[p4r.Update]) -> list[tuple[str, str]]:
    return [(p4r.Update.Type.Name(u.type), u.entity.WhichOneof("entity") or "") for u in updates]


def test_the_updates_are_written_as_given_and_only_the_modified_groups_are_read() -> None:
    async def body(fabric: FabricSession, fake: ReadsKept) -> None:
        assert (await fabric.push({"sw": BEFORE}))["sw"].ok
        written, reads = len(fake.write_updates), len(fake.reads)
        report = (await fabric.apply({"sw": CHANGE}))["sw"]
        assert report.ok, report.errors
        # the group lets go of member 5's watch port before it drops it (PI needs that)
        assert (report.inserted, report.modified, report.deleted) == (3, 2, 1)
        sent = fake.write_updates[written:]
        assert kinds(sent) == [
            ("INSERT", "action_profile_member"),
            ("INSERT", "action_profile_group"),
            ("INSERT", "table_entry"),
            ("MODIFY", "action_profile_group"),
            ("MODIFY", "action_profile_group"),
            ("DELETE", "action_profile_member"),
        ]
        released = sent[3].entity.action_profile_group
        assert [(m.member_id, m.WhichOneof("watch_kind")) for m in released.members] == [
            (4, "watch_port"),
            (5, None),
        ]
        asked = fake.entries_read(reads)
        assert [(e.WhichOneof("entity"), e.action_profile_group.group_id) for e in asked] == [
            ("action_profile_group", 7)
        ]
        assert (await fabric.diff({"sw": AFTER}))["sw"].is_empty

    run(on_fake(body))


def test_no_group_modified_nothing_read() -> None:
    async def body(fabric: FabricSession, fake: ReadsKept) -> None:
        assert (await fabric.push({"sw": BEFORE}))["sw"].ok
        reads = len(fake.reads)
        report = (await fabric.apply({"sw": Updates(inserts=[member(6, 4)])}))["sw"]
        assert report.ok and report.inserted == 1, report.errors
        assert fake.entries_read(reads) == []

    run(on_fake(body))


def test_a_refused_update_is_named_and_the_later_phases_are_not_sent() -> None:
    async def body(fabric: FabricSession, fake: ReadsKept) -> SwitchReport:
        assert (await fabric.push({"sw": BEFORE}))["sw"].ok
        written = len(fake.write_updates)

        def refuse_group_8s_entry(update: p4r.Update) -> tuple[int, str] | None:
            points_at = update.entity.table_entry.action.action_profile_group_id
            return (rpc_code.RESOURCE_EXHAUSTED, "Table is full") if points_at == 8 else None

        fake.reject = refuse_group_8s_entry
        report = (await fabric.apply({"sw": CHANGE}))["sw"]
        assert kinds(fake.write_updates[written:]) == [
            ("INSERT", "action_profile_member"),
            ("INSERT", "action_profile_group"),
            ("INSERT", "table_entry"),
        ]
        held = {gid: [m.member_id for m in g.members] for (_, gid), g in fake.groups.items()}
        assert held == {7: [4, 5], 8: [6]}  # group 7 not modified ...
        assert sorted(mid for _, mid in fake.members) == [4, 5, 6]  # ... nor member 5 deleted
        return report

    report = run(on_fake(body))
    assert not report.ok and (report.inserted, report.modified, report.deleted) == (2, 0, 0)
    assert len(report.rejected) == 1 and report.rejected[0].code == "RESOURCE_EXHAUSTED"
    assert report.errors[0].startswith("sw: INSERT ")
    assert report.errors[1] == "sw: 2 later updates not sent after one was refused"


def test_a_switch_not_pushed_since_it_connected_is_not_written() -> None:
    async def body(fabric: FabricSession, fake: ReadsKept) -> tuple[SwitchReport, SwitchReport]:
        refused = (await fabric.apply({"sw": Updates(inserts=[member(4, 2)])}))["sw"]
        assert fake.write_updates == []
        assert (await fabric.push({"sw": []}))["sw"].ok
        return refused, (await fabric.apply({"sw": Updates(inserts=[member(4, 2)])}))["sw"]

    refused, written = run(on_fake(body))
    assert refused.reachable and not refused.ok
    assert refused.errors == [
        "sw: not pushed since it connected (it may have restarted empty): "
        "its updates were not written; it needs a push"
    ]
    assert written.ok and written.inserted == 1


def test_an_unreachable_switch_is_reported_by_name_and_address() -> None:
    async def main() -> tuple[SwitchReport, str]:
        with reserved_port() as port:
            address = f"127.0.0.1:{port}"
            target = SwitchTarget("sw", address, 1, P4INFO_PATH, BMV2_JSON_PATH)
            async with FabricSession([target], FAST) as fabric:
                return (await fabric.apply({"sw": CHANGE}))["sw"], address

    report, address = run(main())
    assert not report.reachable and not report.ok
    assert report.errors[0].startswith(f"sw ({address}): unreachable: ")


def test_unknown_switches_are_refused_by_name() -> None:
    async def body(fabric: FabricSession, _fake: ReadsKept) -> None:
        with pytest.raises(ValueError, match="unknown switches: nope"):
            await fabric.apply({"nope": CHANGE})

    run(on_fake(body))


def test_entities_two_switches_share_are_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same entity objects for two switches of one program: each encoded once, and
    both switches written all of them."""
    encoded: list[object] = []
    encode = EntryEncoder.encode

    def counted(self: EntryEncoder, entity: DesiredEntity) -> Encoded:
        encoded.append(entity)
        return encode(self, entity)

    async def main() -> dict[str, SwitchReport]:
        fakes = [ReadsKept(device_id=1), ReadsKept(device_id=2)]
        for fake in fakes:
            await fake.start()
        try:
            targets = [
                SwitchTarget(f"sw{i}", f.address, f.device_id, P4INFO_PATH, BMV2_JSON_PATH)
                for i, f in enumerate(fakes)
            ]
            async with FabricSession(targets, FAST) as fabric:
                assert (await fabric.push({"sw0": BEFORE, "sw1": BEFORE})).ok
                monkeypatch.setattr(EntryEncoder, "encode", counted)
                report = await fabric.apply({"sw0": CHANGE, "sw1": CHANGE})
                monkeypatch.undo()
                diffs = await fabric.diff({"sw0": AFTER, "sw1": AFTER})
                assert all(d.is_empty for d in diffs.values()), {n: d.summary() for n, d in diffs.items()}
                return report.switches
        finally:
            for fake in fakes:
                await fake.stop()

    reports = run(main())
    assert all(r.ok and r.updates == 6 for r in reports.values()), reports
    distinct = [*CHANGE.inserts, *CHANGE.modifies, *CHANGE.deletes]
    assert sorted(map(id, encoded)) == sorted(map(id, distinct))

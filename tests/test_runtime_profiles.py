"""Action-profile members and groups in the runtime: keys, canonical form, wire framing,
read-back, reconcile order, and a push to the fake switch that enforces references."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import finsy as fy
import pytest
from finsy.proto import p4r

from fake_p4rt import FakeP4RuntimeServer
from hpn.pipeline import load_balancing, names
from hpn.pipeline.p4info import BMV2_JSON_PATH, P4INFO_PATH, load_schema
from hpn.pipeline.targets import Target
from hpn.runtime import FabricSession, SessionOptions, SwitchTarget, wire
from hpn.runtime.encoding import EntryEncoder, decode_read_back
from hpn.runtime.reconcile import ReadPlan, plan_diff
from hpn.runtime.sync import sync_entries

PROFILE = names.NH_SELECTOR


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


@pytest.fixture(scope="module")
def encoder() -> EntryEncoder:
    return EntryEncoder(load_schema())


def test_a_member_and_a_group_with_one_number_are_different_keys(encoder: EntryEncoder) -> None:
    m = encoder.encode(member(5, 3))
    g = encoder.encode(group(5, 3))
    assert m.table_id == g.table_id == encoder.profile_id_of(PROFILE)
    assert (m.entity, g.entity) == (wire.ENTITY_MEMBER, wire.ENTITY_GROUP)
    assert m.key != g.key


def test_group_read_back_in_another_shape_is_the_same_group(encoder: EntryEncoder) -> None:
    desired = encoder.encode(group(9, 1, 2))
    answered = p4r.ActionProfileGroup(
        action_profile_id=desired.table_id, group_id=9, max_size=0
    )  # a server may answer max_size as it likes, members in any order, padded ports
    for port in (2, 1):
        answered.members.append(
            p4r.ActionProfileGroup.Member(member_id=port + 2, weight=1, watch_port=bytes([0, port]))
        )
    (back,) = decode_read_back([(wire.ENTITY_GROUP, answered.SerializeToString())])
    assert (back.key, back.data) == (desired.key, desired.data)


def test_groups_compare_without_watch_ports_but_are_written_with_them(encoder: EntryEncoder) -> None:
    """PI answers every member of a group with the last member's watch port: the
    comparison leaves watch ports out, the write keeps them."""
    desired = encoder.encode(group(9, 1, 2))
    answered = p4r.ActionProfileGroup(action_profile_id=desired.table_id, group_id=9)
    for port in (1, 2):
        answered.members.append(
            p4r.ActionProfileGroup.Member(member_id=port + 2, weight=1, watch_port=b"\x02")
        )
    (back,) = decode_read_back([(wire.ENTITY_GROUP, answered.SerializeToString())])
    assert back.data == desired.data
    written = p4r.ActionProfileGroup()
    written.ParseFromString(desired.payload)
    assert [m.watch_port for m in written.members] == [b"\x01", b"\x02"]


def test_update_framing_matches_protobuf_for_every_entity_kind(encoder: EntryEncoder) -> None:
    for item in (
        encoder.encode(member(4, 2)),
        encoder.encode(group(7, 2, 3)),
        encoder.encode(entry(1, 0, 7)),
    ):
        update = p4r.Update(type=p4r.Update.INSERT, entity=item.entity_message())
        request = p4r.WriteRequest(updates=[update])
        assert wire.framed_update(p4r.Update.INSERT, item.payload, item.entity) == request.SerializeToString(
            deterministic=True
        )


def test_read_response_gives_every_entity_kind_and_skips_others(encoder: EntryEncoder) -> None:
    items = [encoder.encode(member(4, 2)), encoder.encode(group(7, 2)), encoder.encode(entry(1, 0, 7))]
    response = p4r.ReadResponse(entities=[i.entity_message() for i in items])
    response.entities.append(p4r.Entity(counter_entry=p4r.CounterEntry(counter_id=1)))
    got = wire.read_response_entities(response.SerializeToString())
    assert [kind for kind, _ in got] == [wire.ENTITY_MEMBER, wire.ENTITY_GROUP, wire.ENTITY_TABLE_ENTRY]
    assert [(i.key, i.data) for i in decode_read_back(got)] == [(i.key, i.data) for i in items]


def test_deletes_go_entries_then_groups_then_members(encoder: EntryEncoder) -> None:
    actual = [encoder.encode(e) for e in (member(4, 2), group(7, 2), entry(1, 0, 7))]
    diff = plan_diff([], actual, encoder, owned=[actual[2].table_id])
    assert [d.entity for d in diff.deletes] == [wire.ENTITY_TABLE_ENTRY]
    diff = plan_diff([member(9, 5)], actual, encoder, owned=[actual[2].table_id])
    assert [d.entity for d in diff.deletes] == [
        wire.ENTITY_TABLE_ENTRY,
        wire.ENTITY_GROUP,
        wire.ENTITY_MEMBER,
    ]


def test_push_to_a_switch_that_checks_references() -> None:
    asyncio.run(_push_to_a_switch_that_checks_references())


async def _push_to_a_switch_that_checks_references() -> None:
    async with FakeP4RuntimeServer() as fake:
        target = SwitchTarget("sw", fake.address, 1, P4INFO_PATH, BMV2_JSON_PATH)
        state = [member(4, 2), member(5, 3), group(7, 2, 3), entry(1, 0, 7)]
        async with FabricSession([target], SessionOptions(own_all_tables=True)) as fabric:
            await fabric.wait_connected()
            first = (await fabric.push({"sw": state}))["sw"]
            assert first.ok and first.inserted == 4, first.errors
            again = (await fabric.push({"sw": state}))["sw"]
            assert again.ok and again.inserted == again.modified == again.deleted == 0
            # a member leaves the group, and then goes: the group first lets go of the
            # member's watch port, then drops it (two modifies), then the member is deleted
            shrunk = [member(4, 2), group(7, 2), entry(1, 0, 7)]
            third = (await fabric.push({"sw": shrunk}))["sw"]
            assert third.ok and (third.modified, third.deleted) == (2, 1), third.errors
            released = fake.write_updates[-3].entity.action_profile_group
            assert [(m.member_id, m.WhichOneof("watch_kind")) for m in released.members] == [
                (4, "watch_port"),
                (5, None),
            ]
            # a member replaced by another: the first write keeps the current set (the
            # group never holds more members than it did), the second swaps them
            swapped = [member(4, 2), member(6, 4), group(7, 4), entry(1, 0, 7)]
            fourth = (await fabric.push({"sw": swapped}))["sw"]
            assert fourth.ok and (fourth.inserted, fourth.modified) == (1, 2), fourth.errors
            released = fake.write_updates[-2].entity.action_profile_group
            assert [(m.member_id, m.WhichOneof("watch_kind")) for m in released.members] == [(4, None)]
            # everything goes: the fake refuses a member in use or a group pointed at,
            # so this only passes in the order entries, groups, members
            last = (await fabric.push({"sw": []}))["sw"]
            assert last.ok and last.deleted == 4, last.errors
        assert not fake.members and not fake.groups


class SlowSwitch:
    """Records each WriteRequest as it is sent and as it is answered. A request takes a few
    turns of the event loop to be answered, as a gRPC call does, so a writer that would let
    a later request overlap it gets the chance to."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, list[int]]] = []  # (sent | answered, request, member ids)
        self._count = 0

    async def write(self, framed: Sequence[bytes]) -> None:
        request = p4r.WriteRequest.FromString(wire.write_request(b"", framed))
        number, self._count = self._count, self._count + 1
        members = [
            u.entity.action_profile_member.member_id
            for u in request.updates
            if u.entity.WhichOneof("entity") == "action_profile_member"
        ]
        self.events.append(("sent", number, members))
        for _ in range(20):  # the switch works on it; the writer may send more meanwhile
            await asyncio.sleep(0)
        self.events.append(("answered", number, members))


@pytest.mark.parametrize("batch_size", [1, 2, 4, 1000])
def test_the_sentinel_member_is_created_alone_before_the_other_members(
    encoder: EntryEncoder, batch_size: int
) -> None:
    """bmv2 gives the member it creates first the lowest handle, which the program's pick
    relies on (hpn.pipeline.load_balancing): the sentinel's request carries no other member
    and is answered before any other member of the profile is sent, however the members
    are split into requests."""
    members = load_balancing.member_entries(range(1, 12), Target.BMV2)
    switch = SlowSwitch()

    async def read(_plan: ReadPlan) -> list[tuple[int, bytes]]:
        return []

    result = asyncio.run(
        sync_entries(members, encoder, read, switch.write, switch="sw", batch_size=batch_size)
    )
    assert result.applied.inserted == len(members) == 12 and not result.applied.errors
    sentinel = load_balancing.SENTINEL_MEMBER_ID
    sent = next(n for kind, n, ids in switch.events if kind == "sent" and sentinel in ids)
    assert ("sent", sent, [sentinel]) in switch.events  # alone in its request
    answered = switch.events.index(("answered", sent, [sentinel]))
    others = [i for i, (kind, _, ids) in enumerate(switch.events) if kind == "sent" and set(ids) - {sentinel}]
    assert len(others) >= 1 and min(others) > answered

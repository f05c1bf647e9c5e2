"""Action-profile members and groups in the runtime: keys, canonical form, wire framing,
read-back, reconcile order, and a push to the fake switch that enforces references."""

from __future__ import annotations

import asyncio

import finsy as fy
import pytest
from finsy.proto import p4r

from fake_p4rt import FakeP4RuntimeServer
from hpn.pipeline import names
from hpn.pipeline.p4info import BMV2_JSON_PATH, P4INFO_PATH, load_schema
from hpn.runtime import FabricSession, SessionOptions, SwitchTarget, wire
from hpn.runtime.encoding import EntryEncoder, decode_read_back
from hpn.runtime.reconcile import plan_diff

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

"""hpn.runtime.encoding and .wire: the hand-written bytes equal what protobuf and finsy make.

The push path never builds protobuf messages for entries it writes, so every byte the fast
encoder and the WriteRequest framing produce is checked here against finsy's encoder +
canonicalize + the protobuf library's deterministic serialization: for every entity of a
whole fabric's plan, for values in every form finsy accepts, and for the shapes that are
left to finsy on purpose.
"""

from __future__ import annotations

import dataclasses
import itertools
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import finsy as fy
import pytest
from finsy.proto import U128, p4r
from google.protobuf.message import DecodeError

from hpn.pipeline import load_schema, switch_entities
from hpn.routing.compute import compute_fabric_state
from hpn.runtime import encoding, wire
from hpn.runtime.canonical import canonicalize
from hpn.runtime.encoding import Encoded, EntryEncoder, decode_read_back, encode_message
from hpn.runtime.reconcile import plan_diff
from hpn.topology import load_fabric

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
FIXTURE = fy.P4Schema(DATA / "runtime_fixture.p4info.txtpb", DATA / "runtime_fixture.json")
SHAPES = fy.P4Schema(DATA / "encoding_fixture.p4info.txtpb")


def by_finsy(entity: fy.P4TableEntry, schema: fy.P4Schema) -> Encoded:
    """The reference: finsy's encoder, canonicalized, serialized by protobuf."""
    return encode_message(canonicalize(entity.encode_entry(schema)))


def key_by_protobuf(entry: p4r.TableEntry) -> bytes:
    only_key = p4r.TableEntry(
        table_id=entry.table_id,
        match=entry.match,
        priority=entry.priority,
        is_default_action=entry.is_default_action,
    )
    return bytes(only_key.SerializeToString(deterministic=True))


def assert_fast_and_equal(encoder: EntryEncoder, entity: fy.P4TableEntry) -> Encoded:
    fast = encoder._encode_fast(entity)  # raises _Fallback if the fast path refused it
    assert fast == by_finsy(entity, encoder.schema), entity
    assert fast.key == key_by_protobuf(fast.entry())
    assert fast.data == fast.entry().SerializeToString(deterministic=True)
    return fast


def test_every_entity_of_a_fabric_plan_takes_the_fast_path_with_identical_bytes() -> None:
    schema = load_schema()
    encoder = EntryEncoder(schema)
    states = compute_fabric_state(load_fabric(ROOT / "topologies/hpn-mini.yaml"))
    count = 0
    tables: set[int] = set()
    for state in states.values():
        for entity in switch_entities(state):
            # entries pointing at selector groups, and the members and groups themselves,
            # take finsy's path (hpn.runtime.profiles); everything else the fast one
            if isinstance(entity, fy.P4TableEntry) and not isinstance(entity.action, fy.P4IndirectAction):
                tables.add(assert_fast_and_equal(encoder, entity).table_id)
                count += 1
    assert count >= 250  # 12 switches of hpn-mini
    # every direct table of the bmv2 program (next_hop is the selector's, written through groups)
    names = {schema.tables[table_id].alias for table_id in tables}
    assert names == {
        "ingress_port_plane",
        "ipv4_lpm",
        "plane_port",
        "lb_group",
        "ecn_port",
        "int_port",
        "gateway_arp",
        "cpu_punt",
    }


@pytest.mark.parametrize(
    "dst",
    [
        "10.1.2.0/24",
        "10.1.2.3/24",  # host bits set: finsy masks them off, so must we
        "10.1.2.3",
        (0x0A010200, 24),
        (0x0A010203, 24),
        0x0A010203,
        IPv4Network("10.1.2.0/24"),
        IPv4Address("10.1.2.3"),
        "0x0a010200/24",
        (0, 0),  # prefix 0: "don't care", the field is left out
        "0.0.0.0/0",
        (0xFFFFFFFF, 32),
        (0, 32),
    ],
)
def test_lpm_values_in_every_form_match_finsy(dst: object) -> None:
    entity = fy.P4TableEntry(
        "ipv4_lpm", match=fy.Match(plane=1, dst_addr=dst), action=fy.Action("set_port", port=3)
    )
    assert EntryEncoder(FIXTURE).encode(entity) == by_finsy(entity, FIXTURE)


@pytest.mark.parametrize("mac", ["02:00:00:00:00:0a", 0x02000000000A, 0, "0x1"])
def test_exact_and_param_values_in_every_form_match_finsy(mac: object) -> None:
    encoder = EntryEncoder(FIXTURE)
    for port in (0, 1, 255, 511, "7"):
        entity = fy.P4TableEntry("port_mac", match=fy.Match(port=port), action=fy.Action("set_mac", mac=mac))
        assert encoder.encode(entity) == by_finsy(entity, FIXTURE)
        assert encoder.encode(entity) == by_finsy(entity, FIXTURE)  # again, from the memo


def test_field_order_aliases_defaults_and_scalars_match_finsy() -> None:
    encoder = EntryEncoder(FIXTURE)
    entities = [
        # match fields given in reverse order, by full name and by alias
        fy.P4TableEntry(
            "ingress.routing.ipv4_lpm",
            match=fy.Match(dst_addr="10.0.0.0/8", plane=0),
            action=fy.Action("ingress.routing.set_port", port=1),
        ),
        fy.P4TableEntry(
            "lb_params",
            is_default_action=True,
            action=fy.Action("set_lb_params", hash_seed=2**32 - 1, flowlet_gap_us=0),
        ),
        fy.P4TableEntry("ipv4_lpm", match=fy.Match(plane=1, dst_addr="10.0.0.0/8")),  # no action
        fy.P4TableEntry(
            "ipv4_lpm",
            match=fy.Match(plane=1, dst_addr="10.0.0.0/8"),
            action=fy.Action("drop"),
            priority=-5,
            metadata=b"\x00cookie",
            controller_metadata=2**40,
            idle_timeout_ns=10**9,
        ),
        fy.P4TableEntry("ipv4_lpm", match=fy.Match(plane=1, dst_addr="10.0.0.0/8"), priority=300),
    ]
    for entity in entities:
        assert_fast_and_equal(encoder, entity)


def test_shapes_left_to_finsy_are_encoded_by_finsy() -> None:
    encoder = EntryEncoder(SHAPES)
    ternary = fy.P4TableEntry(
        "acl",
        match=fy.Match(src="10.0.0.0/&255.0.0.0", dport="10...20", vlan=5),
        action=fy.Action("fwd", port=3),
        priority=10,
    )
    one_shot = fy.P4TableEntry("ecmp", match=fy.Match(dst=1), action=fy.Action("fwd", port=2))
    counted = fy.P4TableEntry(
        "ipv4_lpm",
        match=fy.Match(plane=1, dst_addr="10.0.0.0/8"),
        action=fy.Action("set_port", port=1),
        counter_data=fy.P4CounterData(packet_count=3),
    )
    assert encoder.encode(ternary) == by_finsy(ternary, SHAPES)
    assert encoder.encode(one_shot) == by_finsy(one_shot, SHAPES)
    assert encoder.encode(one_shot).entry().action.HasField("action_profile_action_set")
    fixture = EntryEncoder(FIXTURE)
    assert fixture.encode(counted) == by_finsy(counted, FIXTURE)
    assert not fixture.encode(counted).entry().HasField("counter_data")  # runtime data is not intent


@pytest.mark.parametrize(
    ("entity", "message"),
    [
        (fy.P4TableEntry("nope", match=fy.Match(port=1)), "nope"),
        (fy.P4TableEntry("port_mac", match=fy.Match(prot=1), action=fy.Action("set_mac", mac=1)), "prot"),
        (fy.P4TableEntry("port_mac", match=fy.Match(port=512), action=fy.Action("set_mac", mac=1)), "512"),
        (fy.P4TableEntry("port_mac", match=fy.Match(port=-1), action=fy.Action("set_mac", mac=1)), "-1"),
        (
            fy.P4TableEntry("port_mac", match=fy.Match(port=1), action=fy.Action("set_port", port=1)),
            "set_port",
        ),
        (
            fy.P4TableEntry(
                "lb_params", is_default_action=True, action=fy.Action("set_lb_params", hash_seed=1)
            ),
            "missing",
        ),
        (fy.P4TableEntry("port_mac", match=fy.Match(port=1), action=fy.Action("set_mac", mac="zz")), "zz"),
    ],
)
def test_bad_entities_raise_finsys_error(entity: fy.P4TableEntry, message: str) -> None:
    with pytest.raises(Exception, match=message) as ours:
        EntryEncoder(FIXTURE).encode(entity)
    with pytest.raises(Exception) as theirs:
        entity.encode_entry(FIXTURE)
    assert str(ours.value) == str(theirs.value)


def test_protobuf_entries_and_encoded_entries_are_accepted() -> None:
    encoder = EntryEncoder(FIXTURE)
    entity = fy.P4TableEntry("port_mac", match=fy.Match(port=3), action=fy.Action("set_mac", mac=9))
    encoded = encoder.encode(entity)
    assert encoder.encode(encoded) is encoded
    assert encoder.encode(entity.encode_entry(FIXTURE)) == encoded
    assert encoder.table_id(encoded) == encoder.table_id(entity) == FIXTURE.tables["port_mac"].id


def test_read_back_with_padding_reordering_and_counters_equals_desired() -> None:
    desired = EntryEncoder(FIXTURE).encode(
        fy.P4TableEntry(
            "ipv4_lpm", match=fy.Match(plane=0, dst_addr="10.1.0.0/24"), action=fy.Action("set_port", port=3)
        )
    )
    back = desired.entry()
    back.match[0].exact.value = b"\x00" + back.match[0].exact.value
    back.match[1].lpm.value = back.match[1].lpm.value.rjust(4, b"\x00")
    back.action.action.params[0].value = b"\x00\x03"
    back.match.reverse()
    back.counter_data.packet_count = 9
    back.time_since_last_hit.elapsed_ns = 5
    assert decode_read_back([back.SerializeToString()]) == [desired]


# --- wire framing -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 127, 128, 300, 2**31 - 1, -1, -(2**31)])
def test_varint_of_int32_matches_protobuf(value: int) -> None:
    assert p4r.TableEntry(priority=value).SerializeToString() == wire.PRIORITY + wire.varint(value)


@pytest.mark.parametrize("value", [1, 2**32, 2**64 - 1])
def test_varint_of_uint64_matches_protobuf(value: int) -> None:
    expected = p4r.TableEntry(controller_metadata=value).SerializeToString()
    assert expected == wire.CONTROLLER_METADATA + wire.varint(value)


def test_write_request_bytes_parse_as_the_updates_given() -> None:
    encoder = EntryEncoder(FIXTURE)
    items = [
        encoder.encode(
            fy.P4TableEntry(
                "ipv4_lpm",
                match=fy.Match(plane=0, dst_addr=(i << 8, 24)),
                action=fy.Action("set_port", port=i % 512),
            )
        )
        for i in range(0, 1 << 20, 997)  # entries of several sizes
    ]
    kinds = [p4r.Update.INSERT, p4r.Update.MODIFY, p4r.Update.DELETE]
    framed = [wire.framed_update(kinds[i % 3], item.data) for i, item in enumerate(items)]
    election = (7 << 64) | 12
    data = wire.write_request(wire.write_request_header(3, election >> 64, election & (2**64 - 1)), framed)
    request = p4r.WriteRequest.FromString(data)
    assert request.device_id == 3 and U128.decode(request.election_id) == election
    assert [u.type for u in request.updates] == [kinds[i % 3] for i in range(len(items))]
    assert [u.entity.table_entry for u in request.updates] == [item.entry() for item in items]
    expected = p4r.WriteRequest(
        device_id=3,
        election_id=U128.encode(election),
        updates=[
            p4r.Update(type=kinds[i % 3], entity=p4r.Entity(table_entry=item.entry()))
            for i, item in enumerate(items)
        ],
    )
    # Same bytes as protobuf's own serialization (header first is protobuf's field order too).
    assert data == expected.SerializeToString(deterministic=True)


# --- reading back: canonical entries split from their bytes -----------------------------------


def test_canonical_read_back_is_split_from_bytes_exactly_as_protobuf_would() -> None:
    encoder = EntryEncoder(load_schema())
    states = compute_fabric_state(load_fabric(ROOT / "topologies/hpn-mini.yaml"))
    items = [encoder.encode(e) for state in states.values() for e in switch_entities(state)]
    for item in items:
        if item.is_table_entry:
            assert wire.split_entry(item.data) == tuple(item)[:4]
    ternary = EntryEncoder(SHAPES).encode(
        fy.P4TableEntry(
            "acl",
            match=fy.Match(src="10.0.0.0/&255.0.0.0", dport="10...20", vlan=5),
            action=fy.Action("fwd", port=3),
            priority=10,
        )
    )
    assert wire.split_entry(ternary.data) == tuple(ternary)[:4]


def _variants(entry: p4r.TableEntry) -> dict[str, p4r.TableEntry]:
    """What a server may answer for `entry`, beyond its canonical form."""

    def copy() -> p4r.TableEntry:
        out = p4r.TableEntry()
        out.CopyFrom(entry)
        return out

    padded, reordered, counted, params = copy(), copy(), copy(), copy()
    padded.match[1].lpm.value = padded.match[1].lpm.value.rjust(4, b"\x00")
    reordered.match.reverse()
    counted.counter_data.packet_count = 7
    counted.time_since_last_hit.elapsed_ns = 3
    params.action.action.params[0].value = b"\x00" + params.action.action.params[0].value
    return {"padded": padded, "reordered": reordered, "counted": counted, "params": params}


def test_non_canonical_read_back_falls_back_to_protobuf_and_still_matches() -> None:
    desired = EntryEncoder(FIXTURE).encode(
        fy.P4TableEntry(
            "ipv4_lpm", match=fy.Match(plane=0, dst_addr="0.0.5.0/24"), action=fy.Action("set_port", port=3)
        )
    )
    for name, variant in _variants(desired.entry()).items():
        data = variant.SerializeToString()
        split = wire.split_entry(data)
        if name == "counted":  # runtime data is dropped from the bytes directly
            assert split == tuple(desired)[:4]
        else:
            assert split is None, name
        assert decode_read_back([data]) == [desired], name
    explicit_zero = desired.data + b"\x20\x00"  # priority 0 written out: protobuf would omit it
    assert wire.split_entry(explicit_zero) is None
    assert decode_read_back([explicit_zero]) == [desired]
    with pytest.raises(DecodeError):  # truncated: protobuf's own error, not an IndexError
        decode_read_back([desired.data[:-1]])


def test_read_back_identical_to_a_desired_entry_is_that_entry() -> None:
    encoder = EntryEncoder(FIXTURE)

    def mac_entry(port: int, mac: int) -> Encoded:
        return encoder.encode(
            fy.P4TableEntry("port_mac", match=fy.Match(port=port), action=fy.Action("set_mac", mac=mac))
        )

    desired = [mac_entry(p, 1) for p in range(4)]
    changed = mac_entry(3, 2)
    padded = desired[2].entry()
    padded.match[0].exact.value = b"\x00\x02"
    read_back = [desired[0].data, desired[1].data, padded.SerializeToString(), changed.data]
    known = {e.data: e for e in desired}
    got = decode_read_back(read_back, known)
    assert got[0] is desired[0] and got[1] is desired[1]  # recognised, not parsed
    assert got[2] == desired[2] and got[2] is not desired[2]  # canonicalized, then equal
    assert got[3] == changed  # same key as desired[3], other value: a modify


def test_read_response_bytes_yield_their_table_entries() -> None:
    encoder = EntryEncoder(FIXTURE)
    items = [
        encoder.encode(
            fy.P4TableEntry("port_mac", match=fy.Match(port=p), action=fy.Action("set_mac", mac=p))
        )
        for p in range(300)
    ]
    response = p4r.ReadResponse(
        entities=[p4r.Entity(table_entry=i.entry()) for i in items[:150]]
        + [p4r.Entity(counter_entry=p4r.CounterEntry(counter_id=1))]
        + [p4r.Entity(table_entry=i.entry()) for i in items[150:]]
    )
    assert wire.read_response_table_entries(response.SerializeToString()) == [i.data for i in items]


def _with_unknown_fields(entry: p4r.TableEntry) -> bytes:
    """`entry` as a switch with newer protos may send it: fields our protos do not know, at
    the top, inside a match field and inside the action."""
    unknown = b"\xa0\x01\x07"  # field 20, varint 7: unknown to every message here
    base = p4r.TableEntry()
    base.CopyFrom(entry)
    base.ClearField("match")
    base.ClearField("action")
    matches = b"".join(wire.delimited(wire.MATCH, m.SerializeToString() + unknown) for m in entry.match)
    action = wire.delimited(wire.TABLE_ACTION, entry.action.action.SerializeToString() + unknown)
    return base.SerializeToString() + matches + wire.delimited(wire.ACTION, action) + unknown


def test_read_back_with_fields_newer_than_our_protos_equals_desired() -> None:
    encoder = EntryEncoder(FIXTURE)
    entity = fy.P4TableEntry(
        "ipv4_lpm", match=fy.Match(plane=0, dst_addr="0.0.5.0/24"), action=fy.Action("set_port", port=3)
    )
    desired = encoder.encode(entity)
    data = _with_unknown_fields(desired.entry())
    parsed = p4r.TableEntry()
    parsed.ParseFromString(data)
    assert parsed.SerializeToString(deterministic=True) != desired.data  # they are there
    assert decode_read_back([data]) == [desired]
    assert plan_diff([entity], [data], encoder).is_empty  # no INSERT + DELETE of a live entry


def _outcome(encoder: EntryEncoder, port: object) -> object:
    """The bytes an action argument encodes to, or finsy's error about it."""
    entity = fy.P4TableEntry(
        "ipv4_lpm", match=fy.Match(plane=0, dst_addr="0.0.5.0/24"), action=fy.Action("set_port", port=port)
    )
    try:
        return encoder.encode(entity).data
    except (ValueError, TypeError) as ex:
        return f"{type(ex).__name__}: {ex}"


@pytest.mark.parametrize("order", list(itertools.permutations([1, True, 1.0, "1"])), ids=repr)
def test_action_bytes_do_not_depend_on_what_was_encoded_before(order: tuple[object, ...]) -> None:
    """1, True and 1.0 are equal dict keys; finsy accepts 1 and True and refuses 1.0."""
    encoder = EntryEncoder(FIXTURE)
    seen = [_outcome(encoder, port) for port in order]
    assert seen == [_outcome(EntryEncoder(FIXTURE), port) for port in order]


def test_the_fast_path_knows_every_field_of_finsys_entities() -> None:
    """Fails when finsy's P4TableEntry (or P4TableAction) grows a field: the fast path would
    leave it out of the bytes. Until encoding.py handles or refuses it, FAST_PATH is off."""
    entry_fields = {f.name for f in dataclasses.fields(fy.P4TableEntry)}
    assert entry_fields == encoding.FAST_FIELDS | set(encoding.REFUSED_FIELDS)
    assert {f.name for f in dataclasses.fields(fy.P4TableAction)} == encoding.FAST_ACTION_FIELDS
    assert encoding.FAST_PATH


REFUSED_VALUES: dict[str, object] = {
    "meter_config": fy.P4MeterConfig(cir=1, cburst=1, pir=1, pburst=1),
    "counter_data": fy.P4CounterData(packet_count=1),
    "meter_counter_data": fy.P4MeterCounterData(
        green=fy.P4CounterData(), yellow=fy.P4CounterData(), red=fy.P4CounterData()
    ),
    "time_since_last_hit": 5,
    "is_const": True,
}


@pytest.mark.parametrize("name", encoding.REFUSED_FIELDS)
def test_an_entity_with_a_field_the_fast_path_does_not_write_goes_to_finsy(name: str) -> None:
    entity = fy.P4TableEntry(
        "ipv4_lpm",
        match=fy.Match(plane=0, dst_addr="0.0.5.0/24"),
        action=fy.Action("set_port", port=3),
        **{name: REFUSED_VALUES[name]},  # type: ignore[arg-type]
    )
    with pytest.raises(encoding._Fallback):
        EntryEncoder(FIXTURE)._encode_fast(entity)

"""hpn.runtime.wire against protobuf's own parser: properties over generated and broken bytes.

`split_entry` decides from the bytes alone what protobuf + `canonicalize` would make of a
read-back entry. Whatever bytes it gets, it must either say "ask protobuf" (None) or give
exactly protobuf's answer, and never raise.
"""

from __future__ import annotations

import pytest
from finsy.proto import p4r
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hpn.runtime import wire
from hpn.runtime.canonical import canonicalize
from hpn.runtime.encoding import encode_message

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.integers(min_value=0, max_value=(1 << 32) - 1)
values = st.binary(max_size=6) | st.sampled_from([b"", b"\x00", b"\x00\x00\x05", b"\x0a", b"\x00\x0a"])


@st.composite
def field_matches(draw: st.DrawFn) -> p4r.FieldMatch:
    match = p4r.FieldMatch(field_id=draw(ids))
    kind = draw(st.sampled_from(["exact", "lpm", "ternary", "range", "optional", "none"]))
    if kind == "exact":
        match.exact.value = draw(values)
    elif kind == "lpm":
        match.lpm.value = draw(values)
        match.lpm.prefix_len = draw(st.integers(min_value=-1, max_value=130))
    elif kind == "ternary":
        match.ternary.value, match.ternary.mask = draw(values), draw(values)
    elif kind == "range":
        match.range.low, match.range.high = draw(values), draw(values)
    elif kind == "optional":
        match.optional.value = draw(values)
    return match


@st.composite
def actions(draw: st.DrawFn) -> p4r.Action:
    action = p4r.Action(action_id=draw(ids))
    for param_id in draw(st.lists(ids, max_size=4)):
        action.params.add(param_id=param_id, value=draw(values))
    return action


@st.composite
def table_entries(draw: st.DrawFn) -> p4r.TableEntry:
    entry = p4r.TableEntry(table_id=draw(ids), priority=draw(st.integers(-3, 1 << 20)))
    entry.match.extend(draw(st.lists(field_matches(), max_size=4)))
    kind = draw(st.sampled_from(["action", "profile_member", "profile_set", "none"]))
    if kind == "action":
        entry.action.action.CopyFrom(draw(actions()))
    elif kind == "profile_member":
        entry.action.action_profile_member_id = draw(ids)
    elif kind == "profile_set":
        entry.action.action_profile_action_set.action_profile_actions.add(action=draw(actions()), weight=2)
    entry.is_default_action = draw(st.booleans())
    entry.controller_metadata = draw(st.integers(0, 1 << 40))
    entry.idle_timeout_ns = draw(st.integers(-1, 1 << 40))
    entry.metadata = draw(st.binary(max_size=4))
    if draw(st.booleans()):
        entry.counter_data.packet_count = draw(st.integers(0, 1 << 40))
    if draw(st.booleans()):
        entry.time_since_last_hit.elapsed_ns = draw(st.integers(0, 1 << 40))
    entry.is_const = draw(st.booleans())
    return entry


def by_protobuf(data: bytes) -> tuple[int, bytes, bytes, bool] | None:
    """What protobuf + canonicalize make of `data` (None: protobuf refuses the bytes)."""
    entry = p4r.TableEntry()
    try:
        entry.ParseFromString(data)
    except Exception:  # protobuf's DecodeError, or RuntimeWarning-like errors on bad UTF-8
        return None
    return tuple(encode_message(canonicalize(entry)))[:4]  # type: ignore[return-value]


def assert_agrees(data: bytes) -> None:
    split = wire.split_entry(data)
    if split is not None:
        assert split == by_protobuf(data)


@FUZZ
@given(table_entries())
def test_split_entry_agrees_with_protobuf_on_any_entry(entry: p4r.TableEntry) -> None:
    assert_agrees(entry.SerializeToString())
    canonical = encode_message(canonicalize(entry))
    assert wire.split_entry(canonical.data) in (None, tuple(canonical)[:4])


@FUZZ
@given(table_entries(), st.data())
def test_split_entry_agrees_with_protobuf_on_broken_bytes(entry: p4r.TableEntry, data: st.DataObject) -> None:
    raw = bytearray(entry.SerializeToString())
    assume(raw)
    how = data.draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if how == "truncate":
        del raw[at:]
    elif how == "flip":
        raw[at] ^= data.draw(st.integers(1, 255))
    elif how == "insert":
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=12))
    else:
        del raw[at]
    assert_agrees(bytes(raw))


_MESSAGES: dict[str, dict[int, str]] = {
    "TableEntry": {2: "FieldMatch", 3: "TableAction", 6: "", 7: "", 10: "", 12: ""},
    "FieldMatch": {2: "", 3: "", 4: "", 6: "", 7: ""},
    "TableAction": {1: "Action", 3: ""},
    "Action": {4: ""},
    "": {},  # a message of scalars and bytes only
}
"""Which length-delimited fields of which message hold a message (of which kind)."""


def _long_varint(value: int, extra: int) -> bytes:
    """`value` as a varint `extra` bytes longer than needed: same number, other bytes."""
    out = bytearray(wire.varint(value))
    out[-1] |= 0x80
    out += b"\x80" * (extra - 1) + b"\x00"
    return bytes(out)


def _reencode(data: bytes, kind: str, draw: st.DrawFn) -> bytes:
    """`data` (a message of `kind`) with some varints and lengths written longer, some
    values widened to 64 bits: bytes protobuf reads as the same or a truncated value."""
    out = bytearray()
    i = 0
    while i < len(data):
        tag, i = wire.read_varint(data, i)
        out += wire.varint(tag)
        if tag & 7 == 0:
            value, i = wire.read_varint(data, i)
            how = draw(st.sampled_from(["keep", "long", "wide"]))
            if how == "long":
                out += _long_varint(value, draw(st.integers(1, 3)))
            elif how == "wide":  # what a 64-bit writer would send for a 32-bit field
                out += wire.varint(value | draw(st.sampled_from([1 << 32, 1 << 40, 1 << 63])))
            else:
                out += wire.varint(value)
        elif tag & 7 == 2:
            size, i = wire.read_varint(data, i)
            body = data[i : i + size]
            i += size
            inner = _MESSAGES[kind].get(tag >> 3)
            if inner is not None:
                body = _reencode(body, inner, draw)
            long = draw(st.booleans())
            out += _long_varint(len(body), 1) if long else wire.varint(len(body))
            out += body
        else:
            raise AssertionError(f"protobuf wrote wire type {tag & 7}")
    return bytes(out)


@FUZZ
@given(table_entries(), st.data())
def test_split_entry_agrees_with_protobuf_on_other_encodings(
    entry: p4r.TableEntry, data: st.DataObject
) -> None:
    canonical = encode_message(canonicalize(entry)).entry()
    for message in (entry, canonical):
        assert_agrees(_reencode(message.SerializeToString(), "TableEntry", data.draw))


@FUZZ
@given(st.binary(max_size=64))
def test_split_entry_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    assert_agrees(data)


@pytest.mark.parametrize("runtime", [b"\x32\x02\xff\xff", b"\x3a\x01\x08", b"\x52\x03\x08\x80\x80"])
def test_runtime_data_protobuf_refuses_is_refused_too(runtime: bytes) -> None:
    """Counters, meters and idle time are dropped unread, but not when they do not parse."""
    data = p4r.TableEntry(table_id=5).SerializeToString() + runtime
    assert by_protobuf(data) is None
    assert wire.split_entry(data) is None


@pytest.mark.parametrize(
    ("data", "at"),
    [
        (b"", 0),  # nothing there
        (b"\x80\x80", 0),  # runs off the end
        (b"\x81" * 11 + b"\x01", 0),  # longer than the 10 bytes of a 64-bit varint
        (b"\x08\x96\x01", 1),  # fine on its own, but not before byte 2
    ],
)
def test_read_varint_refuses_varints_past_their_end(data: bytes, at: int) -> None:
    with pytest.raises(ValueError, match="varint"):
        wire.read_varint(data, at, end=2 if at == 1 else None)


def test_read_varint_reads_up_to_64_bits() -> None:
    assert wire.read_varint(wire.varint((1 << 64) - 1), 0) == ((1 << 64) - 1, 10)
    assert wire.read_varint(b"\x08\x96\x01", 1) == (150, 3)

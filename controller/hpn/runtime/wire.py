"""The few pieces of protobuf wire format the push path writes by hand.

Building thousands of `p4.v1.TableEntry` messages field by field, wrapping each in an
`Update` and copying them into a `WriteRequest` costs more Python time per entry than bmv2
needs to install it. Entries are therefore kept as their serialized canonical bytes
(hpn.runtime.encoding), and a WriteRequest is the concatenation of its framed parts.
Only length-delimited fields, varints and the P4Runtime field numbers below are needed;
tests check every byte against the protobuf library's own deterministic serialization.
"""

from __future__ import annotations

from collections.abc import Sequence

from finsy.proto import p4r
from google.protobuf.message import DecodeError

# Tags (field number << 3 | wire type) of the messages written here.
TABLE_ID = b"\x08"  # TableEntry.table_id, varint
MATCH = b"\x12"  # TableEntry.match, message
ACTION = b"\x1a"  # TableEntry.action, message
PRIORITY = b"\x20"  # TableEntry.priority, varint (int32)
CONTROLLER_METADATA = b"\x28"  # TableEntry.controller_metadata, varint
IS_DEFAULT_ACTION = b"\x40\x01"  # TableEntry.is_default_action = true
IDLE_TIMEOUT_NS = b"\x48"  # TableEntry.idle_timeout_ns, varint (int64)
METADATA = b"\x5a"  # TableEntry.metadata, bytes
FIELD_ID = b"\x08"  # FieldMatch.field_id
EXACT = b"\x12"  # FieldMatch.exact
LPM = b"\x22"  # FieldMatch.lpm
VALUE = b"\x0a"  # FieldMatch.Exact.value, FieldMatch.LPM.value
PREFIX_LEN = b"\x10"  # FieldMatch.LPM.prefix_len
TABLE_ACTION = b"\x0a"  # TableAction.action
ACTION_ID = b"\x08"  # Action.action_id
PARAM = b"\x22"  # Action.params
PARAM_ID = b"\x10"  # Action.Param.param_id
PARAM_VALUE = b"\x1a"  # Action.Param.value

_SMALL = [bytes([n]) for n in range(128)]


def varint(value: int) -> bytes:
    """Base-128 varint; negative values as 64-bit two's complement (int32/int64 fields)."""
    if 0 <= value < 128:
        return _SMALL[value]
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def delimited(tag: bytes, data: bytes) -> bytes:
    """A length-delimited field: tag, length, data."""
    size = len(data)
    return tag + (_SMALL[size] if size < 128 else varint(size)) + data


# Update: type (1, varint) and entity (2).
_UPDATE_TYPE = b"\x08"
_UPDATE_ENTITY = b"\x12"
# Entity fields (all messages): the kinds of entity a push writes.
ENTITY_TABLE_ENTRY = 2
ENTITY_MEMBER = 3  # action_profile_member
ENTITY_GROUP = 4  # action_profile_group
_WRITE_UPDATES = b"\x22"  # WriteRequest.updates (4)


_FRAMES: dict[tuple[int, int, int], bytes] = {}


def update_head(kind: int, entry_size: int, entity: int = ENTITY_TABLE_ENTRY) -> bytes:
    """Bytes before a serialized entity message of `entry_size` bytes in a WriteRequest:
    the `updates` field (4) holding an Update of `kind` whose Entity holds the message in
    field `entity` (a TableEntry by default)."""
    head = _FRAMES.get((kind, entry_size, entity))
    if head is None:
        wrapped = bytes([entity << 3 | 2]) + varint(entry_size)
        update = _UPDATE_TYPE + varint(kind) + _UPDATE_ENTITY + varint(len(wrapped) + entry_size) + wrapped
        head = _WRITE_UPDATES + varint(len(update) + entry_size) + update
        if len(_FRAMES) < 4096:
            _FRAMES[(kind, entry_size, entity)] = head
    return head


def framed_update(kind: int, entry: bytes, entity: int = ENTITY_TABLE_ENTRY) -> bytes:
    """One `updates` field of a WriteRequest: an Update of `kind` for a serialized entity
    message (a TableEntry unless `entity` says otherwise)."""
    return update_head(kind, len(entry), entity) + entry


def write_request_header(device_id: int, election_high: int, election_low: int, role: str = "") -> bytes:
    """WriteRequest fields other than the updates: device_id (1), election_id (3), role (6).

    Field order is free on the wire; the updates simply follow.
    """
    election = b""
    if election_high:
        election += b"\x08" + varint(election_high)
    if election_low:
        election += b"\x10" + varint(election_low)
    header = b""
    if device_id:
        header += b"\x08" + varint(device_id)
    header += delimited(b"\x1a", election)
    if role:
        header += delimited(b"\x32", role.encode())
    return header


def write_request(header: bytes, updates: Sequence[bytes]) -> bytes:
    """A serialized WriteRequest from its header and framed updates."""
    return header + b"".join(updates)


# --- reading: canonical entries split without building protobuf messages -------------------

_KEY_FIELDS = frozenset({1, 2, 4, 8})  # table_id, match, priority, is_default_action
_WIDE_FIELDS = frozenset({5, 9, 13})  # controller_metadata (uint64), idle_timeout_ns (int64), is_const
_VALUE_ONLY_FIELDS = frozenset({3, 5, 9, 11})  # action, controller_metadata, idle_timeout_ns, metadata
_RUNTIME_FIELDS = frozenset({6, 7, 10, 12, 13})  # meter/counter data, idle time, is_const: dropped
_MATCH_KINDS = {
    0x12: (0x0A,),  # exact: value
    0x1A: (0x0A, 0x12),  # ternary: value, mask
    0x22: (0x0A, 0x10),  # lpm: value, prefix_len
    0x32: (0x0A, 0x12),  # range: low, high
    0x3A: (0x0A,),  # optional: value
}
"""FieldMatch kind tag -> the tags its message holds, in order (all needed: no zero values)."""


class WireError(ValueError):
    """Bytes that are not the protobuf wire format they should be."""


_VARINT_BYTES = 10
"""Longest varint: 64 bits in groups of 7."""


def read_varint(data: bytes, i: int, end: int | None = None) -> tuple[int, int]:
    """(value, index after it) of the varint at `data[i]`, which must end before `end`
    (default: the end of `data`) and within 10 bytes; WireError otherwise."""
    limit = len(data) if end is None else min(end, len(data))
    if i < limit:
        byte = data[i]
        if byte < 0x80:
            return byte, i + 1
    value = shift = 0
    stop = min(limit, i + _VARINT_BYTES)
    start = i
    while i < stop:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7
    raise WireError(f"varint at byte {start} does not end before byte {stop}")


_UINT32 = 1 << 32
_INT32_MAX = 1 << 31
_NEGATIVE_INT32 = (1 << 64) - (1 << 31)  # int32 -1 .. -2**31 as protobuf writes them (10 bytes)


def _canonical_varint(data: bytes, i: int, end: int, signed: bool = False) -> tuple[int, int]:
    """Like `read_varint`, for the varints of an entry in canonical form: the shortest
    encoding of a non-zero 32-bit value (`signed`: int32, else uint32). Protobuf would
    re-encode anything else differently, so such bytes cannot be compared as they are."""
    value, after = read_varint(data, i, end)
    if not value or (after - i > 1 and data[after - 1] == 0):
        raise WireError(f"varint at byte {i} is not in canonical form")
    if value >= (_INT32_MAX if signed else _UINT32) and not (signed and value >= _NEGATIVE_INT32):
        raise WireError(f"varint at byte {i} is out of range")
    return value, after


def _canonical_size(data: bytes, i: int, end: int) -> tuple[int, int]:
    """(length, index after it) of a length prefix in its shortest encoding, the bytes it
    announces within `end`."""
    size, after = read_varint(data, i, end)
    if (after - i > 1 and data[after - 1] == 0) or after + size > end:
        raise WireError(f"length at byte {i} is not in canonical form or runs past byte {end}")
    return size, after


def _canonical_fields(data: bytes, i: int, end: int, tags: tuple[int, ...]) -> bool:
    """The message in data[i:end] holds exactly `tags`, in order; its bytestrings are
    canonical P4Runtime values (no leading zero byte) and its varints non-zero."""
    for tag in tags:
        if i >= end or data[i] != tag:
            return False
        if tag & 7 == 0:
            _, i = _canonical_varint(data, i + 1, end, signed=True)  # LPM prefix_len, int32
        else:
            size, i = _canonical_size(data, i + 1, end)
            if not size or (size > 1 and data[i] == 0):
                return False
            i += size
    return i == end


def _canonical_action(data: bytes, i: int, end: int) -> bool:
    """TableAction{action: Action{action_id, params sorted by id, canonical values}}, or
    TableAction{action_profile_member_id | action_profile_group_id} (a non-zero varint)."""
    if data[i] in (0x10, 0x18):  # member id (2), group id (3)
        _, j = _canonical_varint(data, i + 1, end)  # uint32, shortest form, non-zero
        return j == end
    if data[i] != 0x0A:
        return False
    size, i = _canonical_size(data, i + 1, end)
    if i + size != end or i >= end or data[i] != 0x08:
        return False
    _, i = _canonical_varint(data, i + 1, end)
    last = 0
    while i < end:
        if data[i] != 0x22:
            return False
        size, i = _canonical_size(data, i + 1, end)
        param_end = i + size
        if i >= param_end or data[i] != 0x10:
            return False
        param_id, i = _canonical_varint(data, i + 1, param_end)
        if param_id <= last or not _canonical_fields(data, i, param_end, (0x1A,)):
            return False
        last = param_id
        i = param_end
    return True


def split_entry(data: bytes) -> tuple[int, bytes, bytes, bool] | None:
    """(table id, key, data, is default) of a serialized TableEntry, as `encode_message`
    of its canonical form would give them, when it can be told from the bytes alone:
    fields in number order, values already canonical, match fields sorted, a plain action.
    Runtime data (counters, meters, idle time, is_const) is dropped. None otherwise (and
    for bytes that do not parse): the caller then canonicalizes it with protobuf.

    bmv2 answers reads in canonical form, so this is how a read-back is compared: several
    times faster than building and canonicalizing protobuf messages.
    """
    try:
        return _split_entry(data)
    except WireError:
        return None


def _split_entry(data: bytes) -> tuple[int, bytes, bytes, bool] | None:
    key: list[bytes] = []
    value: list[bytes] = []
    table_id = 0
    default = False
    last_field = 0
    last_match = 0
    i, end = 0, len(data)
    while i < end:
        start = i
        tag = data[i]
        field = tag >> 3
        if tag & 0x80 or field < last_field or (field == last_field and field != 2):
            return None
        last_field = field
        if tag & 7 == 0:
            if field in _WIDE_FIELDS:  # 64-bit: any shortest non-zero varint
                number, i = read_varint(data, i + 1)
                if not number or (i - start > 2 and data[i - 1] == 0) or number >> 64:
                    return None
            else:
                number, i = _canonical_varint(data, i + 1, end, signed=field == 4)
                if field == 8 and number != 1:
                    return None
            if field == 1:
                table_id = number
            elif field == 8:
                default = True
        elif tag & 7 == 2:
            size, body = _canonical_size(data, i + 1, end)
            i = body + size
            if not size and field != 11:
                return None
            if field == 2:
                if data[body] != 0x08:
                    return None
                field_id, j = _canonical_varint(data, body + 1, i)
                tags = _MATCH_KINDS.get(data[j]) if j < i else None
                if field_id <= last_match or tags is None:
                    return None
                last_match = field_id
                size, j = _canonical_size(data, j + 1, i)
                if j + size != i or not _canonical_fields(data, j, i, tags):
                    return None
            elif field == 3:
                if not _canonical_action(data, body, i):
                    return None
            elif field == 11 and not size:
                return None
        else:
            return None
        if field in _KEY_FIELDS:
            piece = data[start:i]
            key.append(piece)
            value.append(piece)
        elif field in _VALUE_ONLY_FIELDS:
            value.append(data[start:i])
        elif field not in _RUNTIME_FIELDS or not _parses(data[start:i]):
            return None
    if not table_id:
        return None
    return table_id, b"".join(key), b"".join(value), default


def _parses(piece: bytes) -> bool:
    """Whether protobuf reads this one field of a TableEntry (runtime data is dropped
    unread here, but bytes protobuf would refuse must be refused here too)."""
    try:
        p4r.TableEntry().ParseFromString(piece)
    except DecodeError:
        return False
    return True


def read_response_table_entries(data: bytes) -> list[bytes]:
    """The serialized TableEntry of every table entity in a serialized ReadResponse."""
    return [body for entity, body in read_response_entities(data) if entity == ENTITY_TABLE_ENTRY]


_READ_KINDS = frozenset({ENTITY_TABLE_ENTRY, ENTITY_MEMBER, ENTITY_GROUP})


def read_response_entities(data: bytes) -> list[tuple[int, bytes]]:
    """(Entity field, serialized message) of every table entry, action-profile member and
    group in a serialized ReadResponse; other entities are skipped."""
    entries: list[tuple[int, bytes]] = []
    i, end = 0, len(data)
    while i < end:
        tag = data[i]
        if tag & 7 != 2:
            raise ValueError(f"not a ReadResponse: field tag {tag:#x} at byte {i}")
        size, body = read_varint(data, i + 1)
        i = body + size
        if i > end:
            raise WireError(f"not a ReadResponse: field at byte {body} runs past the end")
        if tag != 0x0A or not size:  # ReadResponse.entities
            continue
        field = data[body] >> 3
        if data[body] & 7 == 2 and field in _READ_KINDS:
            size, start = read_varint(data, body + 1, i)
            if start + size > i:
                raise WireError(f"not a ReadResponse: entity at byte {start} runs past its end")
            entries.append((field, data[start : start + size]))
    return entries

"""Desired and read-back table entries -> canonical serialized bytes and their keys.

The reconcile loop compares entries and the writer sends them; neither needs protobuf
objects. An `Encoded` entry is its canonical serialization (`data`) plus its key: the
serialization of just the fields that identify it on the switch (table, match, priority,
default flag), so two entries are the same switch entry exactly when their keys are equal,
and hold the same thing exactly when their data are equal.

`EntryEncoder` writes the bytes of the common shape of desired entity directly, with the
P4Info lookups cached per table and action: a `P4TableEntry` of a direct table whose
match fields are exact or LPM, with a plain action (or none) and no meter, counter or
idle-time data. That is several times faster than building protobuf messages, which
costs more per entry than bmv2 needs to install one. Everything else (other shapes,
values the fast path does not recognise, unknown names) goes through finsy's encoder and
`canonicalize`, so those results and error messages are finsy's. Tests check that both
paths give identical bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

import finsy as fy
from finsy import P4Schema, p4values
from finsy.p4schema import P4MatchType
from finsy.proto import p4r

from hpn.runtime import profiles, wire
from hpn.runtime.canonical import canonical_entry, canonicalize

_VALUE_FIELDS = ("action", "controller_metadata", "idle_timeout_ns", "metadata")
"""TableEntry fields that are not part of the key (after `canonicalize`)."""

FAST_FIELDS = frozenset(
    {"table_id", "match", "action", "is_default_action", "priority", "metadata", "controller_metadata"}
    | {"idle_timeout_ns"}
)
"""Fields of finsy's `P4TableEntry` that the fast path writes."""
REFUSED_FIELDS = ("meter_config", "counter_data", "meter_counter_data", "time_since_last_hit", "is_const")
"""Fields it does not write: an entity with any of them set is encoded by finsy."""
FAST_ACTION_FIELDS = frozenset({"name", "args"})
"""Fields of finsy's `P4TableAction` that the fast path writes."""


def _fast_path_covers_finsy() -> bool:
    """Whether finsy's entity classes have exactly the fields the fast path knows. A field
    added by a newer finsy would be dropped silently from the bytes, so then every entity
    goes through finsy (and a test says why)."""
    entry = {f.name for f in dataclasses.fields(fy.P4TableEntry)}
    action = {f.name for f in dataclasses.fields(fy.P4TableAction)}
    return entry == FAST_FIELDS | set(REFUSED_FIELDS) and action == FAST_ACTION_FIELDS


FAST_PATH = _fast_path_covers_finsy()


class Encoded(NamedTuple):
    """One table entry (or action-profile member or group, hpn.runtime.profiles) in
    canonical serialized form. `table_id` is the table, or the member's or group's action
    profile; `entity` the field of p4.v1.Entity that holds it."""

    table_id: int
    key: bytes  # serialized TableEntry with only table_id, match, priority, is_default_action
    data: bytes  # serialized canonical TableEntry
    is_default: bool
    entity: int = wire.ENTITY_TABLE_ENTRY
    written: bytes = b""  # what is written, when it is not `data` (a group: hpn.runtime.profiles)

    @property
    def is_default_action(self) -> bool:
        return self.is_default

    @property
    def payload(self) -> bytes:
        """The serialized message an update carries."""
        return self.written or self.data

    @property
    def is_table_entry(self) -> bool:
        return self.entity == wire.ENTITY_TABLE_ENTRY

    def entry(self) -> p4r.TableEntry | profiles.ProfileMessage:
        """The entry as a protobuf message (for messages and inspection)."""
        if self.entity != wire.ENTITY_TABLE_ENTRY:
            return profiles.parse_profile_message(self.entity, self.payload)
        entry = p4r.TableEntry()
        entry.ParseFromString(self.data)
        return entry

    def entity_message(self) -> p4r.Entity:
        """The p4.v1.Entity holding it."""
        entry = self.entry()
        if isinstance(entry, p4r.TableEntry):
            return p4r.Entity(table_entry=entry)
        if isinstance(entry, p4r.ActionProfileMember):
            return p4r.Entity(action_profile_member=entry)
        return p4r.Entity(action_profile_group=entry)


DesiredEntity = fy.P4TableEntry | p4r.TableEntry | Encoded | profiles.ProfileEntity
"""What hpn.pipeline produces: finsy table entries, action-profile members and groups.
Protobuf entries are accepted too, and entities encoded beforehand (`EntryEncoder.encode`,
e.g. while the switches connect)."""


def encode_message(entry: p4r.TableEntry) -> Encoded:
    """Encode a canonical entry (see `canonicalize`). Modifies `entry`: pass a copy to keep it."""
    data = bytes(entry.SerializeToString(deterministic=True))
    for name in _VALUE_FIELDS:
        entry.ClearField(name)  # type: ignore[arg-type]
    key = bytes(entry.SerializeToString(deterministic=True))
    return Encoded(int(entry.table_id), key, data, bool(entry.is_default_action))


def decode_read_back(
    entries: Iterable[bytes | tuple[int, bytes]], known: Mapping[bytes, Encoded] | None = None
) -> list[Encoded]:
    """Serialized entries read from a switch, as encoded entries. An item is a serialized
    TableEntry, or (Entity field, serialized message) as `wire.read_response_entities`
    gives them; members and groups are canonicalized with protobuf (hpn.runtime.profiles).

    An entry byte-identical to one in `known` (desired entries by their `data`) is that
    entry: nothing to parse, which is what an unchanged switch costs. Others are split as
    they are when already canonical (`wire.split_entry`), else parsed and canonicalized.
    """
    out: list[Encoded] = []
    for item in entries:
        if isinstance(item, tuple):
            kind, data = item
            if kind != wire.ENTITY_TABLE_ENTRY:
                profile, key, value, entity, _ = profiles.decode_profile_bytes(kind, data)
                out.append(Encoded(profile, key, value, False, entity))
                continue
        else:
            data = item
        same = known.get(data) if known else None
        if same is not None:
            out.append(same)
            continue
        split = wire.split_entry(data)
        if split is None:  # not canonical, or not parseable: protobuf says what is wrong
            entry = p4r.TableEntry()
            entry.ParseFromString(data)
            out.append(encode_message(canonicalize(entry)))
        else:
            out.append(Encoded(*split))
    return out


_T = TypeVar("_T", bound=Hashable)

_MEMO_LIMIT = 1 << 16
"""Most remembered encodings per match field or action; the memo starts over beyond it."""


def _remember(memo: dict[_T, bytes], key: _T, value: bytes) -> None:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = value


class _Field:
    """One match field and the wire bytes around its value, by value length.

    A FieldMatch inside a TableEntry is `MATCH len [field_id] EXACT len VALUE len value`
    (LPM: `... LPM len VALUE len value PREFIX_LEN prefix`); every byte but the value
    depends only on the value's length (and the prefix), so those are computed once.
    """

    __slots__ = ("bitwidth", "field_id", "heads", "id_bytes", "lpm", "memo")

    def __init__(self, field_id: int, lpm: bool, bitwidth: int) -> None:
        self.field_id = field_id
        self.id_bytes = wire.FIELD_ID + wire.varint(field_id)
        self.lpm = lpm
        self.bitwidth = bitwidth
        self.memo: dict[int, bytes] = {}  # exact value -> encoded field
        self.heads: dict[tuple[int, int], tuple[bytes, bytes]] = {}  # (size, prefix) -> parts

    def parts(self, size: int, prefix: int = 0) -> tuple[bytes, bytes]:
        """(bytes before the value, bytes after it) for a value of `size` bytes."""
        known = self.heads.get((size, prefix))
        if known is not None:
            return known
        if self.lpm:
            tail = wire.PREFIX_LEN + wire.varint(prefix)
            inner_size = 1 + len(wire.varint(size)) + size + len(tail)
            kind = wire.LPM
        else:
            tail = b""
            inner_size = 1 + len(wire.varint(size)) + size
            kind = wire.EXACT
        body_size = len(self.id_bytes) + 1 + len(wire.varint(inner_size)) + inner_size
        head = (
            wire.MATCH
            + wire.varint(body_size)
            + self.id_bytes
            + kind
            + wire.varint(inner_size)
            + wire.VALUE
            + wire.varint(size)
        )
        self.heads[(size, prefix)] = (head, tail)
        return head, tail


class _Param:
    """One action parameter and the wire bytes before its value, by value length."""

    __slots__ = ("_heads", "bitwidth", "id_bytes", "param_id")

    def __init__(self, param_id: int, bitwidth: int) -> None:
        self.param_id = param_id
        self.id_bytes = wire.PARAM_ID + wire.varint(param_id)
        self.bitwidth = bitwidth
        self._heads: dict[int, bytes] = {}

    def head(self, size: int) -> bytes:
        head = self._heads.get(size)
        if head is None:
            body_size = len(self.id_bytes) + 1 + len(wire.varint(size)) + size
            head = self._heads[size] = (
                wire.PARAM + wire.varint(body_size) + self.id_bytes + wire.PARAM_VALUE + wire.varint(size)
            )
        return head


@dataclass(frozen=True, slots=True)
class _Action:
    id_bytes: bytes  # Action.action_id, already encoded
    params: Mapping[str, _Param]
    memo: dict[tuple[tuple[str, int], ...], bytes] = field(default_factory=dict)  # int args -> field


@dataclass(frozen=True, slots=True)
class _Table:
    id: int
    head: bytes  # TableEntry.table_id, already encoded
    fast: bool  # direct table, only exact/LPM fields, all widths > 0
    fields: Mapping[str, _Field]  # by name and alias
    actions: Mapping[str, _Action]  # by name and alias


def _unsupported(entity: object) -> TypeError:
    kind = type(entity).__name__
    return TypeError(
        f"desired state holds {kind}; the runtime reconciles table entries and action-profile "
        "members and groups only"
    )


class _Fallback(Exception):
    """The entity leaves the fast path; finsy encodes it (and words any error)."""


def _first(item: tuple[int, bytes]) -> int:
    return item[0]


def _number(value: int, width: int) -> bytes:
    """Canonical bytestring of an int field value (P4Runtime 8.4): no leading zero bytes."""
    if not 0 <= value < 1 << width:
        raise _Fallback
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


def _finsy_exact(value: object, width: int) -> bytes:
    try:
        return p4values.encode_exact(value, width)  # type: ignore[arg-type]
    except Exception:  # finsy raises (and words) it again on the slow path
        raise _Fallback from None


def _exact_field(spec: _Field, value: object) -> bytes:
    if type(value) is int:
        data = _number(value, spec.bitwidth)
        head, _ = spec.parts(len(data))
        encoded = head + data
        _remember(spec.memo, value, encoded)
        return encoded
    data = _finsy_exact(value, spec.bitwidth)
    head, _ = spec.parts(len(data))
    return head + data


def _lpm_field(spec: _Field, value: object) -> bytes | None:
    """The encoded field, or None for prefix 0 ("don't care": the field is left out)."""
    width = spec.bitwidth
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        number, prefix = value
        if not 0 <= prefix <= width:
            raise _Fallback
        if prefix < width:
            number &= ~((1 << (width - prefix)) - 1)
        data = _number(number, width)
    elif type(value) is int:
        data, prefix = _number(value, width), width
    else:
        try:
            data, prefix = p4values.encode_lpm(value, width)  # type: ignore[arg-type]
        except Exception:
            raise _Fallback from None
    if not prefix:
        return None
    head, tail = spec.parts(len(data), prefix)
    return head + data + tail


class EntryEncoder:
    """Encodes desired entities against one P4Info, caching its lookups."""

    def __init__(self, schema: P4Schema) -> None:
        self.schema = schema
        self._tables: dict[str | int, _Table] = {}

    def table_id(self, entity: DesiredEntity) -> int:
        """Id of the entity's table (ValueError naming it when the P4Info has none)."""
        if isinstance(entity, fy.P4TableEntry):
            return self.table_id_of(entity.table_id)
        if isinstance(entity, Encoded):
            return entity.table_id
        if isinstance(entity, p4r.TableEntry):
            return int(entity.table_id)
        if isinstance(entity, (fy.P4ActionProfileMember, fy.P4ActionProfileGroup)):
            return self.profile_id_of(entity.action_profile_id)
        raise _unsupported(entity)

    def profile_id_of(self, profile: str | int) -> int:
        """Id of an action profile given by name, alias or id (ValueError when unknown)."""
        if not profile:
            raise ValueError("desired action-profile entity without an action profile")
        try:
            return int(self.schema.action_profiles[profile].id)
        except Exception as ex:  # finsy raises its own lookup error type
            raise ValueError(str(ex)) from ex

    def table_id_of(self, table: str | int) -> int:
        """Id of a table given by name, alias or id (ValueError naming it when unknown)."""
        if not table:
            raise ValueError("desired table entry without a table")
        return self._table(table).id

    def encode(self, entity: DesiredEntity) -> Encoded:
        """Canonical bytes and key; raises ValueError/TypeError naming what is wrong."""
        if FAST_PATH and type(entity) is fy.P4TableEntry:
            try:
                return self._encode_fast(entity)
            except _Fallback:
                pass
        if isinstance(entity, Encoded):
            return entity
        if isinstance(entity, p4r.TableEntry):
            return encode_message(canonical_entry(entity))
        if isinstance(entity, fy.P4TableEntry):
            if not entity.table_id:
                raise ValueError(f"desired table entry without a table: {entity!r}")
            return encode_message(canonicalize(entity.encode_entry(self.schema)))
        if isinstance(entity, (fy.P4ActionProfileMember, fy.P4ActionProfileGroup)):
            profile, key, data, kind, written = profiles.encode_profile_entity(entity, self.schema)
            return Encoded(profile, key, data, False, kind, written if written != data else b"")
        raise _unsupported(entity)

    def _table(self, name: str | int) -> _Table:
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = self._plan_table(name)
        return table

    def _plan_table(self, name: str | int) -> _Table:
        try:
            table = self.schema.tables[name]
        except Exception as ex:  # finsy raises its own lookup error type
            raise ValueError(str(ex)) from ex
        fast = table.action_profile is None
        fields: dict[str, _Field] = {}
        for mf in table.match_fields:
            # Width 0 is an SDN string (P4Runtime 8.4.3): bytes, not a number; finsy's job.
            fast = fast and mf.match_type in (P4MatchType.EXACT, P4MatchType.LPM) and mf.bitwidth > 0
            fields[mf.name] = fields[mf.alias] = _Field(mf.id, mf.match_type == P4MatchType.LPM, mf.bitwidth)
        actions: dict[str, _Action] = {}
        for ref in table.actions:
            params = {param.name: _Param(param.id, param.bitwidth) for param in ref.params}
            fast = fast and all(param.bitwidth > 0 for param in ref.params)
            actions[ref.name] = actions[ref.alias] = _Action(wire.ACTION_ID + wire.varint(ref.id), params)
        return _Table(table.id, wire.TABLE_ID + wire.varint(table.id), fast, fields, actions)

    def _encode_fast(self, entity: fy.P4TableEntry) -> Encoded:
        """The hot path of a push: kept to few calls, the common cases inline."""
        if (
            entity.meter_config is not None
            or entity.counter_data is not None
            or entity.meter_counter_data is not None
            or entity.time_since_last_hit is not None
            or entity.is_const
        ):
            raise _Fallback
        table = self._tables.get(entity.table_id)
        if table is None:
            if not entity.table_id:
                raise _Fallback
            try:
                table = self._table(entity.table_id)
            except ValueError:
                raise _Fallback from None
        if not table.fast:
            raise _Fallback
        match = entity.match
        key = table.head + self._matches(table, match) if match else table.head
        action = entity.action
        if action is None:
            data = key
        elif type(action) is fy.P4TableAction:
            data = key + self._action(table, action)
        else:
            raise _Fallback
        # Scalars after the action, in field-number order: priority 4, controller_metadata 5,
        # is_default_action 8, idle_timeout_ns 9, metadata 11.
        priority = entity.priority
        if priority:
            extra = wire.PRIORITY + wire.varint(priority)
            key += extra
            data += extra
        if entity.controller_metadata:
            data += wire.CONTROLLER_METADATA + wire.varint(entity.controller_metadata)
        default = bool(entity.is_default_action)
        if default:
            key += wire.IS_DEFAULT_ACTION
            data += wire.IS_DEFAULT_ACTION
        if entity.idle_timeout_ns:
            data += wire.IDLE_TIMEOUT_NS + wire.varint(entity.idle_timeout_ns)
        if entity.metadata:
            data += wire.delimited(wire.METADATA, entity.metadata)
        return Encoded(table.id, key, data, default)

    @staticmethod
    def _matches(table: _Table, match: fy.P4TableMatch) -> bytes:
        fields = table.fields
        parts: list[tuple[int, bytes]] = []
        ordered = True
        for name, value in match.items():
            spec = fields.get(name)
            if spec is None:
                raise _Fallback
            if spec.lpm:
                encoded = _lpm_field(spec, value)
                if encoded is None:
                    continue
            else:
                encoded = spec.memo.get(value) if type(value) is int else None  # type: ignore[call-overload]
                if encoded is None:
                    encoded = _exact_field(spec, value)
            if parts and spec.field_id <= parts[-1][0]:
                ordered = False
            parts.append((spec.field_id, encoded))
        if not ordered:
            parts.sort(key=_first)
            if len({field_id for field_id, _ in parts}) != len(parts):
                raise _Fallback  # a field given twice (name and alias): finsy decides
        return b"".join([part for _, part in parts])

    @staticmethod
    def _action(table: _Table, action: fy.P4TableAction) -> bytes:
        spec = table.actions.get(action.name)
        if spec is None:
            raise _Fallback
        args = action.args
        # Only plain ints are remembered: 1, 1.0 and True are equal dict keys, but finsy
        # encodes (or refuses) each in its own way, and the result must not depend on
        # which one came first.
        memo_key = tuple(args.items()) if all(type(v) is int for v in args.values()) else None
        cached = spec.memo.get(memo_key) if memo_key is not None else None
        if cached is not None:
            return cached
        if args and len(args) != len(spec.params):
            raise _Fallback  # finsy names the missing parameters
        params: list[tuple[int, bytes]] = []
        for name, value in args.items():
            param = spec.params.get(name)
            if param is None:
                raise _Fallback
            data = (
                _number(value, param.bitwidth) if type(value) is int else _finsy_exact(value, param.bitwidth)
            )
            params.append((param.param_id, param.head(len(data)) + data))
        if len(params) > 1:
            params.sort(key=_first)
            if len({p[0] for p in params}) != len(params):
                raise _Fallback
        body = spec.id_bytes + b"".join([p[1] for p in params])
        encoded = wire.delimited(wire.ACTION, wire.delimited(wire.TABLE_ACTION, body))
        if memo_key is not None:
            _remember(spec.memo, memo_key, encoded)
        return encoded

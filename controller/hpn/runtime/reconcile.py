"""Desired vs actual: which tables to read back, and the difference to write.

The desired state of a switch is a list of table entries (finsy entities built by
hpn.pipeline). The tables it mentions are owned: every entry in them that is not desired
is deleted, every desired entry that is missing is inserted, and every entry whose action
differs is modified. Default entries (`is_default_action=True`) are only ever MODIFY'd.
Entries of const tables are skipped on both sides. Entries are compared as canonical
serialized bytes (hpn.runtime.encoding), so padding or field order in what a switch
answers never counts as a difference. An unchanged fabric costs reads only, no writes.

`Reconciler` takes desired entries one at a time, so a push can write the inserts while
it is still encoding the rest (hpn.runtime.sync). Writing is make-before-break: inserts
first (a new next-hop group exists before a route points at it), then modifies, then
deletes (an old group goes only once no route uses it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import finsy as fy
from finsy import P4Schema
from finsy.proto import p4r

from hpn.runtime import profiles, wire
from hpn.runtime.batching import BatchWriter, WriteFn
from hpn.runtime.encoding import DesiredEntity, Encoded, EntryEncoder, decode_read_back
from hpn.runtime.errors import EntryError, describe_action, describe_entry, entry_error


@dataclass
class Diff:
    """What a switch needs so that its owned tables equal the desired state.

    `error` is set (and the lists are empty) when the switch could not be read.
    """

    inserts: list[Encoded] = field(default_factory=list)
    modifies: list[Encoded] = field(default_factory=list)
    deletes: list[Encoded] = field(default_factory=list)
    unchanged: int = 0
    skipped_const: int = 0
    duplicates: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def total(self) -> int:
        """Number of updates needed."""
        return len(self.inserts) + len(self.modifies) + len(self.deletes)

    @property
    def is_empty(self) -> bool:
        return self.total == 0 and self.error is None

    def summary(self) -> str:
        if self.error is not None:
            return f"error: {self.error}"
        return f"+{len(self.inserts)} ~{len(self.modifies)} -{len(self.deletes)} ={self.unchanged}"

    def lines(self, schema: P4Schema) -> list[str]:
        """One readable line per update: `+ table {match} -> action(...)`, `~ ...`, `- ...`."""
        out: list[str] = []
        for sign, items in (("-", self.deletes), ("~", self.modifies), ("+", self.inserts)):
            for item in items:
                entry = item.entry()
                action = describe_action(entry, schema) if sign != "-" else ""
                line = f"{sign} {describe_entry(entry, schema)}"
                out.append(f"{line} -> {action}" if action else line)
        return out


@dataclass
class ApplyResult:
    """What was written: counts of accepted updates and every rejected entry."""

    inserted: int = 0
    modified: int = 0
    deleted: int = 0
    errors: list[EntryError] = field(default_factory=list)
    requests: int = 0
    largest_request: int = 0

    @property
    def updates(self) -> int:
        return self.inserted + self.modified + self.deleted


def const_table_ids(schema: P4Schema) -> frozenset[int]:
    return frozenset(t.id for t in schema.tables if t.is_const)


@dataclass(frozen=True)
class ReadPlan:
    """Which tables (and action profiles: their members and groups) to read back."""

    tables: frozenset[int]
    defaults: frozenset[int]
    profiles: frozenset[int] = frozenset()

    def requests(self) -> list[p4r.Entity]:
        """Wildcard reads: all entries of each table, plus each needed default entry, and
        all members and groups of each action profile."""
        reads = [p4r.Entity(table_entry=p4r.TableEntry(table_id=t)) for t in sorted(self.tables)]
        reads += [
            p4r.Entity(table_entry=p4r.TableEntry(table_id=t, is_default_action=True))
            for t in sorted(self.defaults)
        ]
        for profile in sorted(self.profiles):
            reads.append(p4r.Entity(action_profile_member=p4r.ActionProfileMember(action_profile_id=profile)))
            reads.append(p4r.Entity(action_profile_group=p4r.ActionProfileGroup(action_profile_id=profile)))
        return reads

    def owns(self, item: Encoded) -> bool:
        """Whether `item` (read back) is in what this plan reconciles."""
        if item.is_table_entry:
            return item.table_id in self.tables
        return item.table_id in self.profiles


_PROFILE_TYPES = (fy.P4ActionProfileMember, fy.P4ActionProfileGroup)


def read_plan(
    desired: Iterable[DesiredEntity], encoder: EntryEncoder, owned: Collection[int] = ()
) -> ReadPlan:
    """Tables and action profiles mentioned by `desired` (plus `owned` tables and action
    profiles, by id), const tables excluded.

    Raises ValueError/TypeError for an entity of an unknown table, profile or type, before
    anything is read or written.
    """
    consts = const_table_ids(encoder.schema)
    mentioned: set[tuple[str | int, bool]] = set()
    profile_names: set[str | int] = set()
    for e in desired:
        if isinstance(e, _PROFILE_TYPES):
            profile_names.add(e.action_profile_id)
        elif isinstance(e, Encoded) and not e.is_table_entry:
            profile_names.add(e.table_id)
        else:
            try:
                mentioned.add((e.table_id, bool(e.is_default_action)))
            except AttributeError:
                mentioned.add((encoder.table_id(e), bool(e.is_default_action)))  # raises TypeError
    profile_ids_known = {p.id for p in encoder.schema.action_profiles}
    tables = {t for t in owned if t not in profile_ids_known}
    defaults: set[int] = set()
    for table, default in mentioned:
        table_id = table if isinstance(table, int) and table else encoder.table_id_of(table)
        tables.add(table_id)
        if default:
            defaults.add(table_id)
    profile_ids = frozenset(
        p if isinstance(p, int) and p else encoder.profile_id_of(p) for p in profile_names
    ) | {t for t in owned if t in profile_ids_known}
    return ReadPlan(frozenset(tables - consts), frozenset(defaults - consts), profile_ids)


class Reconciler:
    """Compares desired entries, one at a time, with what a switch holds.

    `add` says whether the entry is a new insert, to be written at once. Modifies and
    deletes are known only once every desired entry was seen: `diff()`. A key given twice
    is reported in `duplicates`; the last one is what the switch ends up with (an insert
    already written is then overwritten by a modify).
    """

    def __init__(self, actual: Iterable[Encoded], plan: ReadPlan, schema: P4Schema) -> None:
        self._schema = schema
        self._consts = const_table_ids(schema)
        self.found: dict[bytes, Encoded] = {
            e.key: e for e in actual if plan.owns(e) and not (e.is_table_entry and e.table_id in self._consts)
        }
        self._wanted: dict[bytes, Encoded] = {}
        self._inserts: list[Encoded] = []
        self._modifies: dict[bytes, Encoded] = {}
        self._skipped_const = 0
        self._duplicates: list[str] = []

    def add(self, item: Encoded) -> bool:
        """Take one desired entry; True when it is a new insert."""
        if item.is_table_entry and item.table_id in self._consts:
            self._skipped_const += 1
            return False
        key = item.key
        previous = self._wanted.get(key)
        self._wanted[key] = item
        if previous is not None:
            same = previous.data == item.data
            note = "identical" if same else "different actions; the last one is kept"
            self._duplicates.append(f"{describe_entry(item.entry(), self._schema)} ({note})")
            if same:
                return False
        have = self.found.get(key)
        if have is None:
            # A default entry is only ever modified; a duplicate of a new entry overwrites
            # the insert already made for the first one.
            if item.is_default or previous is not None:
                self._modifies[key] = item
                return False
            self._inserts.append(item)
            return True
        if have.data == item.data:
            self._modifies.pop(key, None)
        else:
            self._modifies[key] = item
        return False

    def diff(self) -> Diff:
        """Everything decided so far; deletes are what no desired entry claimed."""
        wanted, found, modifies = self._wanted, self.found, self._modifies
        return Diff(
            inserts=list(self._inserts),
            modifies=[m for key, item in modifies.items() for m in modify_steps(item, found.get(key))],
            deletes=sorted(
                (e for k, e in found.items() if k not in wanted and not e.is_default), key=_delete_order
            ),
            unchanged=sum(1 for k in wanted if k in found and k not in modifies),
            skipped_const=self._skipped_const,
            duplicates=list(self._duplicates),
        )


def modify_steps(item: Encoded, current: Encoded | None) -> list[Encoded]:
    """The updates one MODIFY takes: a group that loses members first lets go of their
    watch ports (hpn.runtime.profiles.release_before_removal)."""
    if item.entity != wire.ENTITY_GROUP or current is None:
        return [item]
    first = profiles.release_before_removal(item.payload, current.payload)
    if first is None:
        return [item]
    release = item._replace(data=first, written=first)
    return [release, item]


_DELETE_RANK = {wire.ENTITY_TABLE_ENTRY: 0, wire.ENTITY_GROUP: 1, wire.ENTITY_MEMBER: 2}


def _delete_order(item: Encoded) -> int:
    """Entries before the groups they point at, groups before the members they hold."""
    return _DELETE_RANK.get(item.entity, 0)


ReadBack = Encoded | p4r.TableEntry | bytes | tuple[int, bytes]
"""A read-back entity as `plan_diff` takes it: encoded, a protobuf table entry, or
serialized (a TableEntry, or (Entity field, message) as `wire.read_response_entities`)."""


def _read_back(entry: ReadBack) -> Encoded:
    if isinstance(entry, Encoded):
        return entry
    if isinstance(entry, p4r.TableEntry):
        return decode_read_back([bytes(entry.SerializeToString())])[0]
    return decode_read_back([entry])[0]


def plan_diff(
    desired: Sequence[DesiredEntity],
    actual: Iterable[ReadBack],
    encoder: EntryEncoder,
    *,
    owned: Collection[int] = (),
) -> Diff:
    """The whole difference at once (for `hpnctl diff` and tests); `actual` is what was
    read back: serialized, encoded or as protobuf messages."""
    found = [_read_back(e) for e in actual]
    reconciler = Reconciler(found, read_plan(desired, encoder, owned), encoder.schema)
    for entity in desired:
        reconciler.add(encoder.encode(entity))
    return reconciler.diff()


def applied(writer: BatchWriter, switch: str, schema: P4Schema) -> ApplyResult:
    """Counts per update type and the named rejections of everything `writer` sent."""
    rejected = writer.result.rejected
    counts = Counter(writer.kinds)
    counts.subtract(writer.kinds[r.index] for r in rejected)
    return ApplyResult(
        inserted=counts[p4r.Update.INSERT],
        modified=counts[p4r.Update.MODIFY],
        deleted=counts[p4r.Update.DELETE],
        errors=[
            entry_error(switch, writer.update(r.index).message(), r.code, r.message, schema) for r in rejected
        ],
        requests=writer.result.requests,
        largest_request=writer.result.largest_request,
    )


async def apply_diff(
    diff: Diff,
    write: WriteFn,
    *,
    switch: str,
    schema: P4Schema,
    batch_size: int,
) -> ApplyResult:
    """Write `diff` (inserts, then modifies, then deletes) in batches; name every rejection."""
    async with BatchWriter(write, batch_size=batch_size) as writer:
        for kind, items in (
            (p4r.Update.INSERT, diff.inserts),
            (p4r.Update.MODIFY, diff.modifies),
            (p4r.Update.DELETE, diff.deletes),
        ):
            for item in items:
                if writer.add(kind, item):
                    await writer.flush()
            await writer.drain()
    return applied(writer, switch, schema)

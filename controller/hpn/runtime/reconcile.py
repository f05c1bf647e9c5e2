"""Desired vs actual: read back, diff in canonical form, write only the difference.

The desired state of a switch is a list of table entries (finsy entities built by
hpn.pipeline). The tables it mentions are owned: every entry in them that is not desired
is deleted, every desired entry that is missing is inserted, and every entry whose action
differs is modified. Default entries (`is_default_action=True`) are only ever MODIFY'd.
Entries of const tables are skipped on both sides. Applying is make-before-break:
inserts first (a new next-hop group exists before a route points at it), then modifies,
then deletes (an old group goes only once no route uses it), so a failover push drops
no packet for want of an entry. Keys of the three lists are disjoint by construction.
An unchanged fabric costs reads only, no writes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

import finsy as fy
from finsy import P4Schema
from finsy.proto import p4r

from hpn.runtime.batching import WriteFn, write_batched
from hpn.runtime.canonical import canonical_entry, canonicalize, entry_key, entry_value
from hpn.runtime.errors import EntryError, describe_action, describe_entry, entry_error

DesiredEntity = fy.P4TableEntry | p4r.TableEntry
"""What hpn.pipeline produces: finsy table entries (raw protobuf entries also accepted)."""


@dataclass
class Diff:
    """What a switch needs so that its owned tables equal the desired state.

    Entries are canonical `p4.v1.TableEntry` messages. `error` is set (and the lists are
    empty) when the switch could not be read.
    """

    inserts: list[p4r.TableEntry] = field(default_factory=list)
    modifies: list[p4r.TableEntry] = field(default_factory=list)
    deletes: list[p4r.TableEntry] = field(default_factory=list)
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
        for sign, entries in (("-", self.deletes), ("~", self.modifies), ("+", self.inserts)):
            for entry in entries:
                action = describe_action(entry, schema) if sign != "-" else ""
                line = f"{sign} {describe_entry(entry, schema)}"
                out.append(f"{line} -> {action}" if action else line)
        return out


@dataclass
class ApplyResult:
    """What `apply_diff` wrote: counts of accepted updates and every rejected entry."""

    inserted: int = 0
    modified: int = 0
    deleted: int = 0
    errors: list[EntryError] = field(default_factory=list)
    requests: int = 0
    largest_request: int = 0

    @property
    def updates(self) -> int:
        return self.inserted + self.modified + self.deleted


def encode_desired(entity: DesiredEntity, schema: P4Schema) -> p4r.TableEntry:
    """Encode one desired entity to a canonical protobuf table entry."""
    if isinstance(entity, p4r.TableEntry):
        return canonical_entry(entity)
    if isinstance(entity, fy.P4TableEntry):
        if not entity.table_id:
            raise ValueError(f"desired table entry without a table: {entity!r}")
        return canonicalize(entity.encode_entry(schema))
    raise TypeError(f"desired state holds {type(entity).__name__}; the runtime reconciles table entries only")


def _is_const(entry: p4r.TableEntry, const_tables: Collection[int]) -> bool:
    return entry.table_id in const_tables or entry.is_const


def const_table_ids(schema: P4Schema) -> frozenset[int]:
    return frozenset(t.id for t in schema.tables if t.is_const)


@dataclass(frozen=True)
class ReadPlan:
    """Which tables to read back for a desired state (table ids)."""

    tables: frozenset[int]
    defaults: frozenset[int]

    def requests(self) -> list[p4r.Entity]:
        """Wildcard reads: all entries of each table, plus each needed default entry."""
        reads = [p4r.TableEntry(table_id=t) for t in sorted(self.tables)]
        reads += [p4r.TableEntry(table_id=t, is_default_action=True) for t in sorted(self.defaults)]
        return [p4r.Entity(table_entry=r) for r in reads]


def read_plan(desired: Iterable[p4r.TableEntry], schema: P4Schema, owned: Collection[int] = ()) -> ReadPlan:
    """Tables mentioned by `desired` (plus `owned` ones), const tables excluded."""
    consts = const_table_ids(schema)
    tables = set(owned)
    defaults: set[int] = set()
    for entry in desired:
        tables.add(entry.table_id)
        if entry.is_default_action:
            defaults.add(entry.table_id)
    return ReadPlan(frozenset(tables - consts), frozenset(defaults - consts))


def plan_diff(
    desired: Sequence[p4r.TableEntry],
    actual: Iterable[p4r.TableEntry],
    schema: P4Schema,
    *,
    owned: Collection[int] = (),
) -> Diff:
    """Diff canonical `desired` entries against read-back `actual` ones.

    Owned tables are those of the desired entries plus `owned`. Duplicate desired keys
    keep the last entry and are listed in `Diff.duplicates`.
    """
    consts = const_table_ids(schema)
    diff = Diff()
    wanted: dict[bytes, p4r.TableEntry] = {}
    for entry in desired:
        if _is_const(entry, consts):
            diff.skipped_const += 1
            continue
        key = entry_key(entry)
        previous = wanted.get(key)
        if previous is not None:
            same = entry_value(previous) == entry_value(entry)
            note = "identical" if same else "different actions; the last one is kept"
            diff.duplicates.append(f"{describe_entry(entry, schema)} ({note})")
            del wanted[key]  # re-insert so the last occurrence decides the order too
        wanted[key] = entry

    plan = read_plan(wanted.values(), schema, owned)
    found: dict[bytes, p4r.TableEntry] = {}
    for raw in actual:
        if _is_const(raw, consts) or raw.table_id not in plan.tables:
            continue
        entry = canonical_entry(raw)
        found[entry_key(entry)] = entry

    for key, entry in wanted.items():
        have = found.get(key)
        if have is None:
            (diff.modifies if entry.is_default_action else diff.inserts).append(entry)
        elif entry_value(have) != entry_value(entry):
            diff.modifies.append(entry)
        else:
            diff.unchanged += 1
    for key, entry in found.items():
        if key not in wanted and not entry.is_default_action:
            diff.deletes.append(entry)
    return diff


def _updates(kind: p4r.Update.Type.ValueType, entries: Sequence[p4r.TableEntry]) -> list[p4r.Update]:
    return [p4r.Update(type=kind, entity=p4r.Entity(table_entry=e)) for e in entries]


async def apply_diff(
    diff: Diff,
    write: WriteFn,
    *,
    switch: str,
    schema: P4Schema,
    batch_size: int,
    on_progress: Callable[[int], None] | None = None,
) -> ApplyResult:
    """Write `diff` (inserts, then modifies, then deletes) in batches; name every rejection."""
    result = ApplyResult()
    phases = (
        (p4r.Update.INSERT, diff.inserts),
        (p4r.Update.MODIFY, diff.modifies),
        (p4r.Update.DELETE, diff.deletes),
    )
    for kind, entries in phases:
        if not entries:
            continue
        updates = _updates(kind, entries)
        batch = await write_batched(
            write, updates, batch_size=batch_size, on_progress=on_progress, canonical=True
        )
        if kind == p4r.Update.DELETE:
            result.deleted += batch.written
        elif kind == p4r.Update.MODIFY:
            result.modified += batch.written
        else:
            result.inserted += batch.written
        result.requests += batch.requests
        result.largest_request = max(result.largest_request, batch.largest_request)
        result.errors += [
            entry_error(switch, updates[r.index], r.code, r.message, schema) for r in batch.rejected
        ]
    return result

"""One switch's reconcile, streamed: read back, then encode, compare and write together.

The switch is read first (only the tables the desired state mentions); entities are
encoded while the read is under way (and, by `FabricSession`, while the switch is still
connecting: `encode_while`). Then each entity is encoded if it is not yet, compared, and
every new insert goes to a `BatchWriter` at once, so the switch installs entries while
the rest are still being encoded.
Modifies follow once all inserts are in, deletes once all modifies are in
(make-before-break, see hpn.runtime.reconcile).

An entity that cannot be encoded (a bad value) is reported by name and skipped; the
others are still written, but no entry is deleted in that push: its key is unknown, so
deleting what it would have replaced could cut traffic the controller meant to keep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field

import finsy as fy
from finsy.proto import p4r

from hpn.runtime.batching import BatchWriter, WriteFn
from hpn.runtime.encoding import DesiredEntity, Encoded, EntryEncoder, decode_read_back
from hpn.runtime.reconcile import ApplyResult, Diff, ReadPlan, Reconciler, applied, read_plan

ReadFn = Callable[[ReadPlan], Awaitable[list[tuple[int, bytes]]]]
"""Reads the planned tables and profiles of the switch: (Entity field, serialized message)
(`SwitchSession.read_entries`)."""


@dataclass
class SyncResult:
    """What one switch needed (`diff`), what was written (`applied`) and what was refused
    before writing (`invalid`: desired entities that could not be encoded, named)."""

    diff: Diff
    applied: ApplyResult
    invalid: list[str] = field(default_factory=list)
    deletes_held_back: int = 0


def _describe_entity(entity: DesiredEntity) -> str:
    if isinstance(entity, fy.P4ActionProfileMember):
        return f"member {entity.action_profile_id} #{entity.member_id}"
    if isinstance(entity, fy.P4ActionProfileGroup):
        return f"group {entity.action_profile_id} #{entity.group_id}"
    if isinstance(entity, (p4r.TableEntry, Encoded)):
        return f"table entry of table id {entity.table_id}"
    table = entity.table_id
    match = dict(entity.match) if entity.match else {}
    return f"{table} {match}" + (" (default entry)" if entity.is_default_action else "")


ENCODE_SLICE = 32
"""Entities encoded between two turns of the event loop in `encode_while`."""


async def encode_while(
    entities: Sequence[DesiredEntity], encoder: EntryEncoder, waiting: Callable[[], bool]
) -> list[DesiredEntity]:
    """Encode entities ahead, slice by slice, for as long as `waiting()` (e.g. while the
    switch connects), letting the event loop run between slices. Returns the entities with
    the ones encoded so far replaced by their `Encoded` form; any that fail are left as
    they are, for `sync_entries` to report.
    """
    out = list(entities)
    for start in range(0, len(out), ENCODE_SLICE):
        if not waiting():
            break
        for i in range(start, min(start + ENCODE_SLICE, len(out))):
            with contextlib.suppress(ValueError, TypeError):  # reported by sync_entries
                out[i] = encoder.encode(out[i])
        await asyncio.sleep(0)  # the connection makes progress between slices
    return out


async def sync_entries(
    entities: Sequence[DesiredEntity],
    encoder: EntryEncoder,
    read: ReadFn,
    write: WriteFn,
    *,
    switch: str,
    batch_size: int,
    owned: Collection[int] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> SyncResult:
    """Make the switch's owned tables hold exactly `entities`; write only differences.

    Raises ValueError/TypeError (nothing written) for an entity of an unknown table or
    type, P4ClientError/RuntimeFailure when the switch itself fails. `on_progress(done,
    known)` follows the writes: updates answered so far, updates known so far.
    """
    plan = read_plan(entities, encoder, owned)
    reading = asyncio.ensure_future(read(plan))
    try:
        entities = await encode_while(entities, encoder, lambda: not reading.done())
        read_back = await reading
    finally:
        if not reading.done():
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
    # Entries the switch holds exactly as desired are recognised by their bytes.
    known = {e.data: e for e in entities if isinstance(e, Encoded) and e.is_table_entry}
    reconciler = Reconciler(decode_read_back(read_back, known), plan, encoder.schema)
    invalid: list[str] = []
    done = 0

    def answered(count: int) -> None:
        nonlocal done
        done += count
        if on_progress is not None:
            on_progress(done, len(writer.items))

    async with BatchWriter(write, batch_size=batch_size, on_progress=answered) as writer:
        for entity in entities:
            try:
                item = encoder.encode(entity)
            except (ValueError, TypeError) as ex:
                invalid.append(f"{switch}: cannot encode {_describe_entity(entity)}: {ex}")
                continue
            if reconciler.add(item) and writer.add(p4r.Update.INSERT, item):
                await writer.flush()
        await writer.drain()
        diff = reconciler.diff()
        for item in diff.modifies:
            if writer.add(p4r.Update.MODIFY, item):
                await writer.flush()
        await writer.drain()
        held_back = len(diff.deletes) if invalid else 0
        if not invalid:
            for item in diff.deletes:
                if writer.add(p4r.Update.DELETE, item):
                    await writer.flush()
            await writer.drain()
    return SyncResult(diff, applied(writer, switch, encoder.schema), invalid, held_back)

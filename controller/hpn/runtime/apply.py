"""One switch's updates as the caller gives them: a change already known, not reconciled.

`push` reads a switch back and writes the difference from its whole desired list. A caller
that knows the difference already (hpn.operations builds it from what changed) gives
`apply_updates` the inserts, modifies and deletes, and exactly those are written:
inserts, then modifies, then deletes (make-before-break, as in hpn.runtime.reconcile),
each phase through a `BatchWriter`, so a switch installs the first while the rest are
still being sent.

Nothing is read back, except the groups being modified: a group MODIFY that drops a member
with a watch port goes after one that releases it (`reconcile.modify_steps`), and that
needs the members the switch holds. They are read in one request that goes out with the
first inserts.

A phase in which the switch refuses an update ends the writes: what came before stays,
nothing later is sent (a modify may point at what was refused, a delete take away what
the refused update was to replace), and the result names the refused updates and counts
those not sent. The caller then owes the switch its whole list (`FabricSession.push`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from finsy.proto import p4r

from hpn.runtime import profiles, wire
from hpn.runtime.batching import BatchWriter, WriteFn
from hpn.runtime.encoding import DesiredEntity, Encoded, EntryEncoder, decode_read_back
from hpn.runtime.reconcile import ApplyResult, applied, modify_steps

ReadEntitiesFn = Callable[[list[p4r.Entity]], Awaitable[list[tuple[int, bytes]]]]
"""One ReadRequest of these entities: (Entity field, serialized message) of each answered
(`SwitchSession.read_entities`)."""


class EntityUpdates(Protocol):
    """What one switch must be written, in write order per kind (deletes in delete order)."""

    @property
    def inserts(self) -> Sequence[DesiredEntity]: ...

    @property
    def modifies(self) -> Sequence[DesiredEntity]: ...

    @property
    def deletes(self) -> Sequence[DesiredEntity]: ...


class SharedEncodings:
    """Entities encoded once for every switch of one program, for one `apply`: the
    operations loop gives a hundred switches the same group objects (a ToR-agg cable on
    the pod: 61,000 updates, 900 distinct entities). By identity: each entity is held
    until the memo goes, so its id stays its own."""

    def __init__(self) -> None:
        self._memo: dict[tuple[int, int], tuple[DesiredEntity, Encoded]] = {}

    def encoder(self, encoder: EntryEncoder) -> Callable[[DesiredEntity], Encoded]:
        """`encoder.encode`, remembered for every encoder of the same schema."""
        schema, memo = id(encoder.schema), self._memo

        def encode(entity: DesiredEntity) -> Encoded:
            found = memo.get((schema, id(entity)))
            if found is None:
                found = memo[(schema, id(entity))] = (entity, encoder.encode(entity))
            return found[1]

        return encode


@dataclass
class UpdatesResult:
    """What `apply_updates` wrote (`applied`), and how many updates it did not send after
    the switch refused one (`not_sent`)."""

    applied: ApplyResult
    not_sent: int = 0


async def apply_updates(
    updates: EntityUpdates,
    encoder: EntryEncoder,
    read: ReadEntitiesFn,
    write: WriteFn,
    *,
    switch: str,
    batch_size: int,
    shared: SharedEncodings | None = None,
) -> UpdatesResult:
    """Write `updates` to one switch: inserts, modifies, deletes; stop after a phase the
    switch refused an update in. `shared`: encodings shared with other switches.

    Raises ValueError/TypeError (nothing written) for an entity that cannot be encoded,
    P4ClientError/RuntimeFailure when the switch itself fails (the read of the groups
    included).
    """
    encode = encoder.encode if shared is None else shared.encoder(encoder)
    inserts = [encode(e) for e in updates.inserts]
    modifies = [encode(e) for e in updates.modifies]
    deletes = [encode(e) for e in updates.deletes]
    groups = [m for m in modifies if m.entity == wire.ENTITY_GROUP]
    reading = asyncio.ensure_future(_held_groups(groups, read)) if groups else None
    phases = ((p4r.Update.INSERT, inserts), (p4r.Update.MODIFY, modifies), (p4r.Update.DELETE, deletes))
    not_sent = 0
    try:
        async with BatchWriter(write, batch_size=batch_size) as writer:
            for i, (kind, items) in enumerate(phases):
                if writer.result.rejected:
                    not_sent = sum(len(later) for _, later in phases[i:])
                    break
                if kind == p4r.Update.MODIFY:
                    items = await _modify_steps(items, reading)
                for item in items:
                    if writer.add(kind, item):
                        await writer.flush()
                await writer.drain()
    finally:
        if reading is not None and not reading.done():
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
    return UpdatesResult(applied(writer, switch, encoder.schema), not_sent)


async def _modify_steps(
    modifies: list[Encoded], reading: asyncio.Future[dict[bytes, Encoded]] | None
) -> list[Encoded]:
    """The modifies, each group's preceded by the release of the watch ports it drops."""
    held = {} if reading is None else await reading
    return [step for item in modifies for step in modify_steps(item, held.get(item.key))]


async def _held_groups(groups: list[Encoded], read: ReadEntitiesFn) -> dict[bytes, Encoded]:
    """The switch's version of each of `groups`, by key (a server may answer more)."""
    requests = []
    for group in groups:
        message = profiles.parse_profile_message(group.entity, group.payload)
        assert isinstance(message, p4r.ActionProfileGroup)
        requests.append(
            p4r.Entity(
                action_profile_group=p4r.ActionProfileGroup(
                    action_profile_id=message.action_profile_id, group_id=message.group_id
                )
            )
        )
    wanted = {g.key for g in groups}
    return {e.key: e for e in decode_read_back(await read(requests)) if e.key in wanted}

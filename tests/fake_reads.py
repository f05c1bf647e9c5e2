"""The fake P4Runtime switch (tests/fake_p4rt.py) with reads as P4Runtime specifies them for
one member or group, and one that keeps what each ReadRequest asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from finsy.proto import p4r

from fake_p4rt import FakeP4RuntimeServer


def _one(entity: p4r.Entity) -> tuple[str, int, int] | None:
    """(kind, profile, id) of a read of one member or group; None for a wildcard read."""
    kind = entity.WhichOneof("entity")
    if kind == "action_profile_member" and entity.action_profile_member.member_id:
        return kind, entity.action_profile_member.action_profile_id, entity.action_profile_member.member_id
    if kind == "action_profile_group" and entity.action_profile_group.group_id:
        return kind, entity.action_profile_group.action_profile_id, entity.action_profile_group.group_id
    return None


class ByIdReads(FakeP4RuntimeServer):
    """A read of a member or group that names its id is answered with that one alone (the
    fake answers every member or group of the profile): as a P4Runtime server does, and
    what a client reading a few groups of a switch holding hundreds pays for."""

    async def Read(  # type: ignore[override]
        self, request: p4r.ReadRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[p4r.ReadResponse]:
        named = [(e, one) for e in request.entities if (one := _one(e)) is not None]
        if not named or self.config is None:
            async for reply in super().Read(request, context):
                yield reply
            return
        rest = p4r.ReadRequest()
        rest.CopyFrom(request)
        del rest.entities[:]
        rest.entities.extend(e for e in request.entities if _one(e) is None)
        if rest.entities:
            async for reply in super().Read(rest, context):
                yield reply
        found = []
        for _, (kind, profile, number) in named:
            if kind == "action_profile_member" and (profile, number) in self.members:
                found.append(p4r.Entity(action_profile_member=self.members[(profile, number)]))
            elif kind == "action_profile_group" and (profile, number) in self.groups:
                found.append(p4r.Entity(action_profile_group=self.groups[(profile, number)]))
        yield p4r.ReadResponse(entities=found)


class ReadsKept(ByIdReads):
    """`reads`: the entities of every ReadRequest, in order (counters included)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.reads: list[list[p4r.Entity]] = []

    async def Read(  # type: ignore[override]
        self, request: p4r.ReadRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[p4r.ReadResponse]:
        self.reads.append(list(request.entities))
        async for reply in super().Read(request, context):
            yield reply

    def entries_read(self, since: int = 0) -> list[p4r.Entity]:
        """The table entries, members and groups asked for by the reads from `since` on."""
        kinds = ("table_entry", "action_profile_member", "action_profile_group")
        return [e for read in self.reads[since:] for e in read if e.WhichOneof("entity") in kinds]

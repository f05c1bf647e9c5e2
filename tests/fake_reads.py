"""The fake P4Runtime switch (tests/fake_p4rt.py), keeping what each ReadRequest asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from finsy.proto import p4r

from fake_p4rt import FakeP4RuntimeServer


class ReadsKept(FakeP4RuntimeServer):
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

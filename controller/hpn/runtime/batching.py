"""Stream updates to one switch as WriteRequests, in order, without losing an error.

`BatchWriter` takes updates one at a time (serialized entries, hpn.runtime.encoding) and
sends them in WriteRequests while the caller is still producing the next ones:

- requests go out in the order updates were added, and a request is only sent once the
  switch has answered every earlier one, so what was added first is installed first
  (make-before-break relies on it). The one exception: consecutive requests of one
  update type to one table may overlap (two in flight), as distinct keys of one table
  cannot depend on each other; the switch then always has the next one at hand;
- except that the first member inserted into each action profile goes in a request of
  its own, sent once every earlier request is answered and answered before anything
  added after it is sent. A switch numbers members in the order it creates them (bmv2
  gives the first the lowest handle, and with it the first place in every group, which
  hpn.pipeline's sentinel member relies on), while P4Runtime lets a server apply the
  updates of one request, or of overlapping requests, in any order;
- requests are at most `batch_size` updates. While the switch is idle, what has been
  added goes out at once (looked at every `CHECK_EVERY` updates), so the first request
  is small and the switch starts working at once; while it is busy, the next request
  fills up. bmv2 returns one error detail per update in gRPC trailing metadata (about
  100 bytes each): gRPC's default 8 KB limit would drop every detail of a failed batch
  of a hundred updates, so the runtime's channel accepts 4 MB (hpn.runtime.channel);
- requests run with the default CONTINUE_ON_ERROR semantics: the good updates of a failed
  batch are applied, and the error names each rejected one;
- a failed request whose error has no per-update details is split in halves and retried
  until each rejected update is found. Some of its updates may already have been applied,
  so during that retry an INSERT answered ALREADY_EXISTS and a DELETE answered NOT_FOUND
  count as done;
- a whole-RPC failure about the switch itself (unreachable, not primary, no pipeline)
  stops the writer: the next `flush` or `drain` raises it.

The caller must not add two updates of the same type for one key (P4Runtime leaves that
undefined inside a batch); the reconcile loop never does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import NamedTuple

from finsy import GRPCStatusCode, P4ClientError
from finsy.proto import p4r

from hpn.runtime import wire
from hpn.runtime.encoding import Encoded
from hpn.runtime.errors import SWITCH_CODES

WriteFn = Callable[[Sequence[bytes]], Awaitable[None]]
"""Sends one WriteRequest made of these framed updates (`wire.framed_update`); raises
finsy's P4ClientError, with per-update details, on failure."""

MAX_IN_FLIGHT = 2
"""Requests in flight at once, when their order cannot matter (see `_hand_over`)."""

CHECK_EVERY = 64
"""Updates added between two looks at the switch: if it is idle, what was added so far
goes out at once (so the first request is small and the switch starts at once); while it
is busy, updates pile up into the next request, up to `batch_size`."""


@dataclass(frozen=True)
class Rejection:
    """One update the switch refused: its index in the order of `add`, code and message."""

    index: int
    code: str
    message: str


@dataclass
class BatchResult:
    """What a `BatchWriter` wrote."""

    written: int = 0  # updates accepted by the switch
    rejected: list[Rejection] = field(default_factory=list)
    requests: int = 0  # WriteRequests sent
    largest_request: int = 0


class Update(NamedTuple):
    """An update as added: its type and entry (kept to name it if rejected)."""

    kind: int  # p4r.Update.INSERT / MODIFY / DELETE
    item: Encoded

    def message(self) -> p4r.Update:
        return p4r.Update(type=self.kind, entity=self.item.entity_message())  # type: ignore[arg-type]


def _is_idempotent_retry(update: Update, code: GRPCStatusCode) -> bool:
    return (update.kind == p4r.Update.INSERT and code == GRPCStatusCode.ALREADY_EXISTS) or (
        update.kind == p4r.Update.DELETE and code == GRPCStatusCode.NOT_FOUND
    )


_MEMBER, _INSERT = wire.ENTITY_MEMBER, p4r.Update.INSERT

_MIXED = (-1, -1, -1)
"""Tag of a request whose updates are not all of one type and one table."""


class BatchWriter:
    """Ordered, pipelined, batched writes to one switch; use as `async with`.

    Call `add` for each update and, when it returns True, `await flush()`; then `await
    drain()` once. `on_progress(n)` is called as each request is answered, with the
    number of updates it carried.
    """

    def __init__(
        self,
        write: WriteFn,
        *,
        batch_size: int,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self._write = write
        self._batch_size = batch_size
        self._check_every = min(CHECK_EVERY, batch_size)
        self._on_progress = on_progress
        self.kinds: list[int] = []  # type of each update added, in order
        self.items: list[Encoded] = []  # entry of each update added, in order
        self.result = BatchResult()
        self._pending: list[bytes] = []  # framed updates of the request being assembled
        self._pending_start = 0  # index of its first update
        self._pending_tag: tuple[int, int, int] | None = None  # (type, table, entity) of all
        self._in_flight: set[asyncio.Task[None]] = set()
        self._in_flight_tag: tuple[int, int, int] = _MIXED
        self._profiles_begun: set[int] = set()  # action profiles a member was inserted into
        self._alone: int | None = None  # index of an update added, to be sent on its own
        self._entered = False
        self._failure: BaseException | None = None

    async def __aenter__(self) -> BatchWriter:
        self._entered = True
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._entered = False
        tasks = list(self._in_flight)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def update(self, index: int) -> Update:
        """The `index`-th update added."""
        return Update(self.kinds[index], self.items[index])

    def add(self, kind: int, item: Encoded) -> bool:
        """Queue one update. True when it is time to `await flush()`."""
        if self._alone is not None:
            raise RuntimeError("BatchWriter.add called again before flush()")
        self.kinds.append(kind)
        self.items.append(item)
        if item.entity == _MEMBER and kind == _INSERT and item.table_id not in self._profiles_begun:
            self._profiles_begun.add(item.table_id)
            self._alone = len(self.items) - 1
            return True
        pending = self._pending
        if not pending:
            self._pending_tag = (kind, item.table_id, item.entity)
        elif self._pending_tag != (kind, item.table_id, item.entity):
            self._pending_tag = _MIXED
        pending.append(wire.framed_update(kind, item.payload, item.entity))
        return len(pending) >= self._batch_size or len(pending) % self._check_every == 0

    async def flush(self) -> None:
        """Hand over a full request (waiting while the switch has enough to do), or let
        answers in and hand over what there is if the switch has nothing to do."""
        self._raise_failure()
        if self._alone is not None:
            await self._send_alone()
            return
        if len(self._pending) >= self._batch_size:
            await self._hand_over()
            return
        await asyncio.sleep(0)  # gRPC completes calls on the event loop: let it run
        if not self._in_flight and self._pending:
            await self._hand_over()

    async def drain(self) -> None:
        """Send what is pending and wait until every request has been answered."""
        self._raise_failure()
        if self._alone is not None:
            await self._send_alone()
        if self._pending:
            await self._hand_over()
        await self._wait_answered()
        self.result.rejected.sort(key=lambda r: r.index)

    async def _wait_answered(self) -> None:
        """Wait until every request sent has been answered."""
        while self._in_flight:
            await asyncio.wait(self._in_flight)
        self._raise_failure()

    async def _send_alone(self) -> None:
        """Send what was added before the update marked to go alone and wait for all of it
        to be answered; then send that update in a request of its own and wait for it."""
        index = self._alone
        assert index is not None
        self._alone = None
        if self._pending:
            await self._hand_over()
        await self._wait_answered()
        item = self.items[index]
        self._pending = [wire.framed_update(self.kinds[index], item.payload, item.entity)]
        self._pending_start, self._pending_tag = index, _MIXED
        await self._hand_over()
        await self._wait_answered()

    async def _hand_over(self) -> None:
        """Start the request assembled so far once the order allows it.

        Two requests may be in flight together only if both hold updates of one type to
        one table, the same for both: the switch may apply them in either order, which
        cannot matter for distinct keys of one table in one phase. Keeping the next
        request queued at the switch means it never waits for this process to notice an
        answer. Anything else waits until the switch has answered everything before it.
        """
        if not self._entered:
            raise RuntimeError("BatchWriter used outside `async with`")
        chunk, start = self._pending, self._pending_start
        tag = self._pending_tag or _MIXED
        self._pending, self._pending_start, self._pending_tag = [], len(self.items), None
        while self._in_flight and (
            len(self._in_flight) >= MAX_IN_FLIGHT or tag == _MIXED or tag != self._in_flight_tag
        ):
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
        self._raise_failure()
        self._in_flight_tag = tag
        task = asyncio.create_task(self._send_chunk(start, chunk), name="hpn-runtime:write")
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        await asyncio.sleep(0)  # the request starts now

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def _send_chunk(self, start: int, chunk: list[bytes]) -> None:
        try:
            if self._failure is None:
                await self._send(list(range(start, start + len(chunk))), chunk, retry=False)
                if self._on_progress is not None:
                    self._on_progress(len(chunk))
        except asyncio.CancelledError:
            raise
        except BaseException as ex:  # kept and raised to the producer by flush/drain
            self._failure = ex

    async def _send(self, indices: list[int], chunk: list[bytes], *, retry: bool) -> None:
        result = self.result
        result.requests += 1
        result.largest_request = max(result.largest_request, len(chunk))
        try:
            await self._write(chunk)
        except P4ClientError as ex:
            if ex.details:
                failed = set()
                for pos, detail in ex.details.items():
                    if not 0 <= pos < len(indices):
                        continue
                    failed.add(pos)
                    update = self.update(indices[pos])
                    if retry and _is_idempotent_retry(update, detail.canonical_code):
                        result.written += 1
                        continue
                    code = detail.canonical_code.name
                    result.rejected.append(Rejection(indices[pos], code, detail.message))
                result.written += len(chunk) - len(failed)
                return
            if ex.code in SWITCH_CODES:
                raise
            if len(indices) == 1:
                if retry and _is_idempotent_retry(self.update(indices[0]), ex.code):
                    result.written += 1
                else:
                    result.rejected.append(Rejection(indices[0], ex.code.name, ex.message))
                return
            half = len(indices) // 2
            await self._send(indices[:half], chunk[:half], retry=True)
            await self._send(indices[half:], chunk[half:], retry=True)
            return
        result.written += len(chunk)

"""Write many updates as few WriteRequests, without losing a single per-entry error.

- Chunks of at most `batch_size` updates: bmv2 returns one error detail per update in gRPC
  trailing metadata, and a big failed batch overflows the metadata limit so every
  per-entry error is lost (DESIGN.md, Known traps). finsy also raises the client's limit
  to 64 KB; the chunk size keeps us far below it.
- Duplicate keys inside one batch are undefined behaviour in P4Runtime: the last update
  of a (type, key) wins and the earlier ones are dropped before writing.
- Batches run with the default CONTINUE_ON_ERROR semantics: the good updates of a failed
  batch are applied, and the error names each rejected one.
- A failed chunk whose error has no per-update details is split in halves and retried
  until each rejected update is found. Some of its updates may already have been applied,
  so during that retry an INSERT answered ALREADY_EXISTS and a DELETE answered NOT_FOUND
  count as done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from finsy import GRPCStatusCode, P4ClientError
from finsy.proto import p4r

from hpn.runtime.canonical import canonical_entry, entry_key
from hpn.runtime.errors import SWITCH_CODES

WriteFn = Callable[[list[p4r.Update]], Awaitable[None]]
"""Sends one WriteRequest with these updates; raises finsy's P4ClientError on failure."""


@dataclass(frozen=True)
class Rejection:
    """One update the switch refused: its index in the caller's list, code and message."""

    index: int
    code: str
    message: str


@dataclass
class BatchResult:
    """Outcome of `write_batched`."""

    written: int = 0  # updates accepted by the switch
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)  # indices dropped as duplicates
    requests: int = 0  # WriteRequests sent
    largest_request: int = 0


def update_key(update: p4r.Update, *, canonical: bool = False) -> tuple[int, str, bytes]:
    """(type, entity kind, canonical key) of an update, for duplicate detection.

    `canonical=True` promises the table entry is canonical already (skips a copy).
    """
    kind = update.entity.WhichOneof("entity") or ""
    if kind == "table_entry":
        entry = update.entity.table_entry
        return (update.type, kind, entry_key(entry if canonical else canonical_entry(entry)))
    return (update.type, kind, bytes(update.entity.SerializeToString(deterministic=True)))


def dedupe(updates: Sequence[p4r.Update], *, canonical: bool = False) -> tuple[list[int], list[int]]:
    """(indices to write, indices dropped): for each (type, key) only the last survives."""
    last: dict[tuple[int, str, bytes], int] = {}
    for i, update in enumerate(updates):
        last[update_key(update, canonical=canonical)] = i
    keep = sorted(last.values())
    kept = set(keep)
    return keep, [i for i in range(len(updates)) if i not in kept]


def _is_idempotent_retry(update: p4r.Update, code: GRPCStatusCode) -> bool:
    return (update.type == p4r.Update.INSERT and code == GRPCStatusCode.ALREADY_EXISTS) or (
        update.type == p4r.Update.DELETE and code == GRPCStatusCode.NOT_FOUND
    )


async def write_batched(
    write: WriteFn,
    updates: Sequence[p4r.Update],
    *,
    batch_size: int,
    on_progress: Callable[[int], None] | None = None,
    canonical: bool = False,
) -> BatchResult:
    """Write `updates` in chunks of at most `batch_size`; collect every rejection.

    Raises P4ClientError only for whole-RPC failures about the switch itself (unreachable,
    not primary, no pipeline): then nothing more can be written to it.
    `on_progress(n)` is called after each chunk with the number of updates it carried.
    `canonical=True` promises the table entries are in canonical form already.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    keep, dropped = dedupe(updates, canonical=canonical)
    result = BatchResult(duplicates=dropped)

    async def send(indices: list[int], retry: bool) -> None:
        batch = [updates[i] for i in indices]
        result.requests += 1
        result.largest_request = max(result.largest_request, len(batch))
        try:
            await write(batch)
        except P4ClientError as ex:
            if ex.details:
                failed = set()
                for pos, detail in ex.details.items():
                    if not 0 <= pos < len(indices):
                        continue
                    failed.add(pos)
                    if retry and _is_idempotent_retry(batch[pos], detail.canonical_code):
                        result.written += 1
                        continue
                    result.rejected.append(
                        Rejection(indices[pos], detail.canonical_code.name, detail.message)
                    )
                result.written += len(batch) - len(failed)
                return
            if ex.code in SWITCH_CODES:
                raise
            if len(indices) == 1:
                if retry and _is_idempotent_retry(batch[0], ex.code):
                    result.written += 1
                else:
                    result.rejected.append(Rejection(indices[0], ex.code.name, ex.message))
                return
            half = len(indices) // 2
            await send(indices[:half], True)
            await send(indices[half:], True)
            return
        result.written += len(batch)

    for start in range(0, len(keep), batch_size):
        chunk = keep[start : start + batch_size]
        await send(chunk, False)
        if on_progress is not None:
            on_progress(len(chunk))
    result.rejected.sort(key=lambda r: r.index)
    return result

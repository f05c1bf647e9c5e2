"""FabricSession: many switches at once, each connected, pushed and re-synced on its own.

```python
async with FabricSession(targets, SessionOptions(election_id=10)) as fabric:
    report = await fabric.push(desired)          # {switch name: [finsy entities]}
    for line in report.errors: print(line)
    await fabric.keep_in_sync()                  # re-sync switches that restart
```

A switch that is down never holds up the others: it is reported by name and address, and
its connection keeps being retried in the background with capped exponential backoff.
When it comes back, its session pushes the pipeline if its cookie differs, and
`keep_in_sync` reconciles its entries from scratch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import finsy as fy
from finsy import P4ClientError
from finsy.proto import p4r

from hpn.runtime.apply import EntityUpdates, SharedEncodings, apply_updates
from hpn.runtime.encoding import DesiredEntity, decode_read_back
from hpn.runtime.errors import CONNECTION_CODES, RuntimeFailure, SwitchUnreachable
from hpn.runtime.options import SessionOptions
from hpn.runtime.reconcile import Diff, plan_diff, read_plan
from hpn.runtime.report import CounterValue, ProgressEvent, PushReport, SwitchReport, SwitchStatus
from hpn.runtime.session import SwitchSession, describe_failure
from hpn.runtime.sync import encode_while, sync_entries
from hpn.runtime.targets import SwitchTarget

LOG = logging.getLogger(__name__)

DesiredState = Mapping[str, Sequence[DesiredEntity]]
"""Per switch name, the complete list of entities it should hold (for the tables listed)."""

Progress = Callable[[ProgressEvent], None]


class FabricSession:
    """P4Runtime sessions to a set of switches, used as `async with FabricSession(...)`."""

    def __init__(self, targets: Iterable[SwitchTarget], options: SessionOptions | None = None) -> None:
        self.options = options or SessionOptions()
        self._links: dict[str, SwitchSession] = {}
        self._changed = asyncio.Event()
        self._desired: dict[str, list[DesiredEntity]] = {}
        programs: dict[tuple[Path, Path], fy.P4Schema] = {}  # one per program, shared
        for target in targets:
            if target.name in self._links:
                raise ValueError(f"duplicate switch name {target.name!r}")
            program = (target.p4info, target.p4blob)
            if program not in programs:
                programs[program] = fy.P4Schema(target.p4info, target.p4blob.read_bytes())
            self._links[target.name] = SwitchSession(
                target, self.options, programs[program], on_change=self._on_switch_change
            )

    async def __aenter__(self) -> FabricSession:
        self.start()
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.close()

    def start(self) -> None:
        """Start connecting to every switch concurrently (returns at once)."""
        for link in self._links.values():
            link.start()

    async def close(self) -> None:
        await asyncio.gather(*(link.stop() for link in self._links.values()))

    @property
    def names(self) -> list[str]:
        return list(self._links)

    def switch(self, name: str) -> SwitchSession:
        try:
            return self._links[name]
        except KeyError:
            raise KeyError(f"unknown switch {name!r} (known: {', '.join(self._links)})") from None

    async def wait_connected(self, names: Iterable[str] | None = None) -> None:
        """Wait until the given (default: all) switches are connected; add your own timeout."""
        await asyncio.gather(*(self.switch(n).wait_up() for n in (names or self.names)))

    async def reachable(self, names: Iterable[str] | None = None) -> list[str]:
        """Wait for each switch's first connection attempt; the names of those that are up."""
        links = [self.switch(n) for n in (names or self.names)]
        await asyncio.gather(*(link.wait_attempted() for link in links))
        return [link.name for link in links if link.is_up]

    def _on_switch_change(self, _link: SwitchSession) -> None:
        self._changed.set()

    def _check_names(self, names: Iterable[str]) -> None:
        unknown = sorted(set(names) - set(self._links))
        if unknown:
            raise ValueError(f"desired state names unknown switches: {', '.join(unknown)}")

    # --- push / diff --------------------------------------------------------------------

    async def push(self, desired: DesiredState, progress: Progress | None = None) -> PushReport:
        """Make every switch in `desired` hold exactly its entities; write only differences.

        Switches are handled concurrently and independently: one that is unreachable or
        rejects entries is reported (see `PushReport`) and the others are still programmed.
        The desired state is remembered for `keep_in_sync`.
        """
        self._check_names(desired)
        self._desired.update({name: list(entities) for name, entities in desired.items()})
        started = time.monotonic()
        reports = await asyncio.gather(
            *(self._sync(self._links[name], list(entities), progress) for name, entities in desired.items())
        )
        return PushReport({r.name: r for r in reports}, time.monotonic() - started)

    async def apply(self, updates: Mapping[str, EntityUpdates]) -> PushReport:
        """Write exactly these updates to each switch named (hpn.runtime.apply): inserts,
        then modifies, then deletes; switches concurrently, none read back.

        For a change the caller already knows (it holds what it pushed last). A switch not
        pushed since it (re)connected is not written (it may have restarted empty): its
        report says so, and it needs a `push`. A report with errors (unreachable, an
        update refused, updates not sent after it) means the switch may hold part of the
        change: push it whole. What `push` remembers for `keep_in_sync` is not changed.
        """
        self._check_names(updates)
        started = time.monotonic()
        shared = SharedEncodings()
        reports = await asyncio.gather(
            *(self._apply_one(self._links[name], changes, shared) for name, changes in updates.items())
        )
        return PushReport({r.name: r for r in reports}, time.monotonic() - started)

    async def _apply_one(
        self, link: SwitchSession, updates: EntityUpdates, shared: SharedEncodings
    ) -> SwitchReport:
        """Write one switch's updates; every failure ends up in the report, never raised."""
        report = SwitchReport(link.name, link.address)
        started = time.monotonic()
        try:
            await link.wait_attempted()
            link.require_up()
            report.reachable = True
            link.require_primary()
            report.primary = True
            async with link.lock:
                if link.synced_generation != link.generation:
                    report.errors.append(
                        f"{link.name}: not pushed since it connected (it may have restarted "
                        "empty): its updates were not written; it needs a push"
                    )
                else:
                    result = await apply_updates(
                        updates,
                        link.encoder,
                        link.read_entities,
                        link.write,
                        switch=link.name,
                        batch_size=self.options.batch_size,
                        shared=shared,
                    )
                    applied = result.applied
                    report.inserted, report.modified, report.deleted = (
                        applied.inserted,
                        applied.modified,
                        applied.deleted,
                    )
                    report.requests, report.largest_request = applied.requests, applied.largest_request
                    report.rejected = applied.errors
                    report.errors += [str(e) for e in applied.errors]
                    if result.not_sent:
                        report.errors.append(
                            f"{link.name}: {result.not_sent} later updates not sent after one was refused"
                        )
        except Exception as ex:  # one switch's failure is its report's, never the fabric's
            report.reachable = report.reachable and link.is_up
            report.errors.append(self._describe(link, ex))
            if not isinstance(ex, (RuntimeFailure, P4ClientError, ValueError, TypeError)):
                LOG.error("%s: unexpected error while writing updates", link.name, exc_info=ex)
        report.seconds = time.monotonic() - started
        for line in report.errors:
            LOG.warning("%s", line)
        return report

    async def diff(self, desired: DesiredState) -> dict[str, Diff]:
        """What `push(desired)` would write, per switch (`Diff.error` if unreadable)."""
        self._check_names(desired)
        results = await asyncio.gather(
            *(self._diff_one(self._links[name], list(entities)) for name, entities in desired.items())
        )
        return dict(zip(desired, results, strict=True))

    async def _diff_one(self, link: SwitchSession, entities: list[DesiredEntity]) -> Diff:
        try:
            await link.wait_attempted()
            owned = self._owned(link)
            actual = await link.read_entries(read_plan(entities, link.encoder, owned))
            return plan_diff(entities, actual, link.encoder, owned=owned)
        except (RuntimeFailure, P4ClientError, ValueError, TypeError) as ex:
            return Diff(error=self._describe(link, ex))

    def _owned(self, link: SwitchSession) -> frozenset[int]:
        """Tables (and action profiles) reconciled even when the desired state has nothing
        in them."""
        if not self.options.own_all_tables:
            return frozenset()
        return frozenset(t.id for t in link.schema.tables) | {p.id for p in link.schema.action_profiles}

    def _describe(self, link: SwitchSession, ex: BaseException) -> str:
        if isinstance(ex, RuntimeFailure):
            return str(ex)
        if isinstance(ex, P4ClientError) and (ex.code in CONNECTION_CODES or not link.is_up):
            return str(SwitchUnreachable(link.name, link.address, f"connection lost: {describe_failure(ex)}"))
        return f"{link.name}: {describe_failure(ex)}"

    async def _sync(
        self, link: SwitchSession, entities: list[DesiredEntity], progress: Progress | None
    ) -> SwitchReport:
        """Reconcile one switch; every failure ends up in the report, never raised."""
        report = SwitchReport(link.name, link.address)
        started = time.monotonic()

        def emit(stage: str, done: int = 0, total: int = 0) -> None:
            if progress is not None:
                progress(ProgressEvent(link.name, stage, done, total))

        try:
            emit("connect")
            entities = await encode_while(entities, link.encoder, lambda: not link.attempted)
            await link.wait_attempted()
            # Marked before anything can fail, so keep_in_sync retries a switch once per
            # connection rather than spinning on a sync that keeps failing the same way.
            link.attempted_generation = link.generation
            link.require_up()
            report.reachable = True
            link.require_primary()
            report.primary = True
            async with link.lock:
                generation = link.generation
                report.pipeline_pushed = link.take_pipeline_push()
                emit("read")

                def on_progress(done: int, known: int) -> None:
                    emit("write", done, known)

                result = await sync_entries(
                    entities,
                    link.encoder,
                    link.read_entries,
                    link.write,
                    switch=link.name,
                    batch_size=self.options.batch_size,
                    owned=self._owned(link),
                    on_progress=on_progress,
                )
                diff, applied = result.diff, result.applied
                report.unchanged = diff.unchanged
                report.warnings += [
                    f"{link.name}: duplicate key in desired state: {d}" for d in diff.duplicates
                ]
                if diff.skipped_const:
                    report.warnings.append(
                        f"{link.name}: skipped {diff.skipped_const} entries of const tables"
                    )
                report.inserted, report.modified, report.deleted = (
                    applied.inserted,
                    applied.modified,
                    applied.deleted,
                )
                report.requests, report.largest_request = applied.requests, applied.largest_request
                report.rejected = applied.errors
                report.errors += result.invalid
                report.errors += [str(e) for e in applied.errors]
                if result.deletes_held_back:
                    report.errors.append(
                        f"{link.name}: {result.deletes_held_back} deletes held back: the desired state "
                        f"has {len(result.invalid)} entries that could not be encoded"
                    )
                if not result.invalid:
                    link.synced_generation = generation
        except Exception as ex:  # one switch's failure is its report's, never the fabric's
            report.reachable = report.reachable and link.is_up
            report.errors.append(self._describe(link, ex))
            if not isinstance(ex, (RuntimeFailure, P4ClientError, ValueError, TypeError)):
                LOG.error("%s: unexpected error during sync", link.name, exc_info=ex)
        report.seconds = time.monotonic() - started
        emit("done" if report.ok else "failed")
        for line in report.errors:
            LOG.warning("%s", line)
        return report

    # --- staying in sync ----------------------------------------------------------------

    async def keep_in_sync(
        self,
        desired: DesiredState | Callable[[], DesiredState] | None = None,
        *,
        on_sync: Callable[[SwitchReport], None] | None = None,
        progress: Progress | None = None,
    ) -> None:
        """Re-sync every switch that (re)connects: pipeline (by its session) and full reconcile.

        Runs until cancelled. `desired` is the state to hold (a mapping, or a callable
        returning the current one); by default the state last given to `push`. A switch is
        synced once per connection: when it restarts it gets a new connection and is synced
        again; `on_sync` receives each resulting report.
        """
        while True:
            self._changed.clear()
            state = desired() if callable(desired) else desired if desired is not None else self._desired
            self._check_names(state)
            stale = [
                self._links[name]
                for name in state
                if self._links[name].is_up
                and self._links[name].generation != self._links[name].attempted_generation
            ]
            if not stale:
                await self._changed.wait()
                continue
            reports = await asyncio.gather(
                *(self._sync(link, list(state[link.name]), progress) for link in stale)
            )
            for report in reports:
                LOG.info("re-synced %s", report.summary())
                if on_sync is not None:
                    on_sync(report)

    # --- reading ------------------------------------------------------------------------

    async def read_counters(
        self, counter: str, indices: Iterable[int] | None = None, *, switches: Iterable[str] | None = None
    ) -> dict[str, dict[int, CounterValue]]:
        """Indirect counter cells (packets, bytes) by counter name and index, per switch.

        `indices=None` reads every cell. Switches that cannot be read are left out of the
        result (and logged).
        """
        names = list(switches) if switches is not None else self.names
        wanted = None if indices is None else list(indices)

        async def one(link: SwitchSession) -> dict[int, CounterValue]:
            if wanted is None:
                requests = [fy.P4CounterEntry(counter)]
            else:
                requests = [fy.P4CounterEntry(counter, index=i) for i in wanted]
            cells: dict[int, CounterValue] = {}
            for entity in await link.read(requests):
                if isinstance(entity, fy.P4CounterEntry) and entity.index is not None:
                    cells[entity.index] = CounterValue(entity.packet_count, entity.byte_count)
            return cells

        links = [self.switch(n) for n in names]
        results = await asyncio.gather(*(one(link) for link in links), return_exceptions=True)
        out: dict[str, dict[int, CounterValue]] = {}
        for link, result in zip(links, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                LOG.warning("reading counter %s: %s", counter, self._describe(link, result))
            else:
                out[link.name] = result
        return out

    async def status(self) -> dict[str, SwitchStatus]:
        """Per switch: reachable, primary, pipeline cookie matches, entries per table."""

        async def one(link: SwitchSession) -> SwitchStatus:
            await link.wait_attempted()
            status = SwitchStatus(link.name, link.address, reachable=link.is_up, primary=link.is_primary)
            if not link.is_up:
                status.error = str(
                    SwitchUnreachable(link.name, link.address, link.last_error or "not connected")
                )
                return status
            try:
                cookie = await link.pipeline_cookie()
                status.pipeline_cookie_matches = cookie == link.schema.p4cookie
                wildcard = p4r.Entity(table_entry=p4r.TableEntry())
                for item in decode_read_back(await link.read_table_entries([wildcard])):
                    table = link.schema.tables.get(item.table_id)
                    name = table.name if table is not None else f"table#{item.table_id}"
                    status.entries[name] = status.entries.get(name, 0) + 1
            except (RuntimeFailure, P4ClientError) as ex:
                status.error = self._describe(link, ex)
                status.reachable = link.is_up
            return status

        results = await asyncio.gather(*(one(link) for link in self._links.values()))
        return {s.name: s for s in results}

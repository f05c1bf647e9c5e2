"""One switch's P4Runtime connection, kept up in the background with capped backoff.

Built on a finsy `Switch` used as an async context manager (one connection per `async
with`), not on finsy's `Controller`/`Switch.run()`: those retry on a fixed 10 s throttle
and hide when a connection attempt failed, whereas a fabric push must report an
unreachable switch by name at once and keep retrying it with exponential backoff while
the others are programmed.

finsy does the handshake: arbitration with our election id, P4Runtime capabilities, and
the pipeline: it reads the switch's pipeline cookie and sends SetForwardingPipelineConfig
only when the cookie differs (`p4force=False`). Whether that push happened is observed
through the device config object handed to finsy (see `_RecordingBlob`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import cast

import finsy as fy
from finsy import P4ClientError, P4Schema, SwitchEvent
from finsy.p4entity import P4Entity
from finsy.proto import p4r

from hpn.runtime.channel import RpcChannel
from hpn.runtime.encoding import EntryEncoder
from hpn.runtime.errors import SwitchRejected, SwitchUnreachable
from hpn.runtime.options import SessionOptions
from hpn.runtime.reconcile import ReadPlan
from hpn.runtime.targets import SwitchTarget

LOG = logging.getLogger(__name__)

_FINSY_LOGGER = "finsy"


class _RecordingBlob:
    """The device config (bmv2 JSON) given to finsy as `SwitchOptions.p4blob`.

    finsy calls `bytes()` on it once to compute the pipeline cookie, and once more every
    time it builds a SetForwardingPipelineConfig request, which it only does when the
    switch's cookie differs from ours. Counting the calls tells whether a push happened.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.reads = 0

    def __bytes__(self) -> bytes:
        self.reads += 1
        return self._data

    def __bool__(self) -> bool:
        return True


class _TaskFailureLog(logging.Handler):
    """Keeps the exception of a failed finsy task of one switch.

    When a finsy switch task fails (e.g. the pipeline push is refused) finsy logs the
    exception and cancels the connection, so the caller only sees a cancellation; the
    log record is where the reason is.
    """

    def __init__(self, switch_name: str) -> None:
        super().__init__(logging.ERROR)
        self._prefix = f"fy:{switch_name}|"
        self.error: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if record.exc_info and args and str(args[0]).startswith(self._prefix):
            self.error = record.exc_info[1]


def describe_failure(ex: BaseException) -> str:
    """A short reason for a failed connection attempt or RPC."""
    if isinstance(ex, P4ClientError):
        return f"{ex.code.name}: {ex.message}" if ex.message else ex.code.name
    if isinstance(ex, TimeoutError):
        return str(ex) or "timed out"
    return str(ex) or type(ex).__name__


class SwitchSession:
    """A switch's connection: connects, reconnects with backoff, counts pipeline pushes.

    `generation` increases each time the switch becomes ready (connected, arbitrated,
    pipeline in place): a sync done for an older generation is stale, e.g. after a
    restart of the switch.
    """

    def __init__(
        self,
        target: SwitchTarget,
        options: SessionOptions,
        device_config: bytes,
        on_change: Callable[[SwitchSession], None] | None = None,
    ) -> None:
        self.target = target
        self._options = options
        self._blob = _RecordingBlob(device_config)
        switch_options = fy.SwitchOptions(
            p4info=target.p4info,
            p4blob=self._blob,
            p4force=options.p4force,
            device_id=target.device_id,
            initial_election_id=options.election_id,
            channel_credentials=options.credentials,
            role_name=options.role,
            role_config=options.role_config,
        )
        self._switch = fy.Switch(target.name, target.address, switch_options)
        self._blob_reads_seen = self._blob.reads  # the cookie computation
        self._on_change = on_change
        self._switch.ee.on(SwitchEvent.CHANNEL_READY, self._on_ready)
        self._switch.ee.on(SwitchEvent.CHANNEL_DOWN, self._on_down)
        self._up = asyncio.Event()
        self._down = asyncio.Event()
        self._attempted = asyncio.Event()
        self._entered = False
        self._rpc: RpcChannel | None = None
        self._encoder: EntryEncoder | None = None
        self._task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        """Held while the switch is read or written as a whole (push, re-sync)."""
        self.generation = 0
        self.attempted_generation = 0  # last generation a sync was started for
        self.synced_generation = 0  # last generation a sync completed for
        self.pipeline_pushes = 0
        self._reported_pushes = 0
        self.attempts = 0
        self.last_error: str | None = None

    # --- identity and state -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def address(self) -> str:
        return self.target.address

    @property
    def switch(self) -> fy.Switch:
        """The finsy switch (connected while `is_up`)."""
        return self._switch

    @property
    def schema(self) -> P4Schema:
        return self._switch.p4info

    @property
    def encoder(self) -> EntryEncoder:
        """Encodes desired entities for this switch's P4Info (lookups cached)."""
        if self._encoder is None or self._encoder.schema is not self.schema:
            self._encoder = EntryEncoder(self.schema)
        return self._encoder

    @property
    def is_up(self) -> bool:
        return self._up.is_set() and self._switch.is_up

    @property
    def is_primary(self) -> bool:
        return self.is_up and self._switch.is_primary

    def take_pipeline_push(self) -> bool:
        """True once for each batch of pipeline pushes not reported yet."""
        pushed = self.pipeline_pushes > self._reported_pushes
        self._reported_pushes = self.pipeline_pushes
        return pushed

    def require_up(self) -> None:
        """Raise `SwitchUnreachable` (naming switch and address) unless connected."""
        if not self.is_up:
            raise SwitchUnreachable(self.name, self.address, self.last_error or "not connected")

    def require_primary(self) -> None:
        self.require_up()
        if not self._switch.is_primary:
            raise SwitchRejected(
                self.name,
                "write access",
                "NOT_PRIMARY",
                f"another controller is primary (election id {self._switch.primary_id} "
                f"> ours {self._switch.election_id})",
            )

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the background (and reconnecting whenever it drops)."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"hpn-runtime:{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    @property
    def attempted(self) -> bool:
        """The first connection attempt has succeeded or failed."""
        return self._attempted.is_set()

    async def wait_attempted(self) -> None:
        """Wait until the first connection attempt succeeded or failed."""
        await self._attempted.wait()

    async def wait_up(self) -> None:
        """Wait until connected (no timeout: wrap in asyncio.wait_for)."""
        await self._up.wait()

    def _notify(self) -> None:
        if self._on_change is not None:
            self._on_change(self)

    def _on_ready(self, _switch: fy.Switch) -> None:
        """finsy: connected, arbitrated and pipeline checked (pushed if the cookie differed)."""
        if self._blob.reads > self._blob_reads_seen:
            self.pipeline_pushes += 1
            LOG.info("%s: pipeline pushed (cookie %#x)", self.name, self.schema.p4cookie)
        self._blob_reads_seen = self._blob.reads
        self.generation += 1
        self.last_error = None
        self._up.set()
        self._attempted.set()
        self._notify()

    def _on_down(self, _switch: fy.Switch) -> None:
        self._up.clear()
        self._down.set()
        self.last_error = "connection lost"
        self._notify()

    async def _supervise(self) -> None:
        delays = self._options.backoff.delays()
        try:
            while True:
                self._down.clear()
                self.attempts += 1
                try:
                    await self._open()
                except asyncio.CancelledError:
                    raise
                except Exception as ex:
                    self.last_error = describe_failure(ex)
                    self._attempted.set()
                    self._notify()
                    delay = next(delays)
                    LOG.warning(
                        "%s (%s): unreachable: %s; retrying in %.2fs",
                        self.name,
                        self.address,
                        self.last_error,
                        delay,
                    )
                    await asyncio.sleep(delay)  # reconnect backoff, not synchronisation
                    continue
                delays = self._options.backoff.delays()
                await self._down.wait()
                LOG.warning("%s (%s): connection lost; reconnecting", self.name, self.address)
                await self._close()
        finally:
            await self._close()

    async def _open(self) -> None:
        """One connection attempt, bounded by `connect_timeout`."""
        rpc = RpcChannel(self.address, self.target.device_id, self._options.credentials, self._options.role)
        self._rpc = rpc  # ready before finsy announces the switch ready
        capture = _TaskFailureLog(self.name)
        finsy_log = logging.getLogger(_FINSY_LOGGER)
        finsy_log.addHandler(capture)
        enter = asyncio.ensure_future(self._switch.__aenter__())
        try:
            done, _ = await asyncio.wait({enter}, timeout=self._options.connect_timeout)
            if not done:
                enter.cancel()
                await asyncio.gather(enter, return_exceptions=True)
                raise TimeoutError(f"no P4Runtime handshake within {self._options.connect_timeout:g}s")
            if enter.cancelled():
                reason = describe_failure(capture.error) if capture.error else "handshake aborted"
                raise ConnectionError(f"handshake failed: {reason}")
            enter.result()
            self._entered = True
        except BaseException:
            if not enter.done():
                enter.cancel()
                await asyncio.gather(enter, return_exceptions=True)
            self._rpc = None
            await rpc.close()
            raise
        finally:
            finsy_log.removeHandler(capture)

    async def _close(self) -> None:
        self._up.clear()
        rpc, self._rpc = self._rpc, None
        if rpc is not None:
            await rpc.close()
        if self._entered:
            self._entered = False
            try:
                await self._switch.__aexit__(None, None, None)
            except Exception:  # closing a dead connection must not stop reconnecting
                LOG.debug("%s: error while closing", self.name, exc_info=True)

    # --- P4Runtime operations -----------------------------------------------------------

    async def write(self, updates: Sequence[bytes]) -> None:
        """One WriteRequest of framed updates (raises P4ClientError with per-update details)."""
        await self._require_rpc().write(self._switch.election_id, updates)

    async def read(self, requests: Sequence[P4Entity]) -> list[P4Entity]:
        """Read entities matching `requests` (finsy wildcards allowed) in one ReadRequest."""
        self.require_up()
        if not requests:
            return []
        # finsy declares Switch.read's overloads as coroutines; it is an async generator.
        stream = cast("AsyncIterator[P4Entity]", self._switch.read(requests))
        return [entity async for entity in stream]

    def _require_rpc(self) -> RpcChannel:
        self.require_up()
        if self._rpc is None:
            raise SwitchUnreachable(self.name, self.address, "not connected")
        return self._rpc

    async def read_table_entries(self, entities: list[p4r.Entity]) -> list[bytes]:
        """One ReadRequest; the table entries answered, each serialized as the switch sent
        it (`encoding.decode_read_back` makes them comparable). Read needs no arbitration
        and goes over the session's own channel (hpn.runtime.channel)."""
        return await self._require_rpc().read_table_entries(entities)

    async def read_entries(self, plan: ReadPlan) -> list[tuple[int, bytes]]:
        """The planned tables and action profiles of the switch, as (Entity field,
        serialized message) (see `RpcChannel.read_entities`)."""
        requests = plan.requests()
        if not requests:
            return []
        return await self._require_rpc().read_entities(requests)

    async def pipeline_cookie(self) -> int | None:
        """The cookie of the pipeline on the switch (None: no pipeline)."""
        return await self._require_rpc().pipeline_cookie()

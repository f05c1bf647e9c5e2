"""One switch's P4Runtime connection, kept up in the background with capped backoff.

The session owns its connect loop. Each connection is one task: it opens finsy's `Switch`
for the StreamChannel (arbitration with our election id and role,
hpn.runtime.finsy_stream) and the session's own channel (hpn.runtime.channel), puts the
pipeline in place, and lasts until the connection is lost; a failed attempt is retried
with exponential backoff. Not finsy's `Controller`/`Switch.run()`: those retry on a fixed
10 s throttle and hide when a connection attempt failed, whereas a fabric push must report
an unreachable switch by name at once and keep retrying it while the others are
programmed.

The pipeline is the session's, not finsy's: while primary, it reads the switch's pipeline
cookie (GetForwardingPipelineConfig, COOKIE_ONLY) and sends SetForwardingPipelineConfig
only when the cookie differs from ours (always on connect with `p4force`). So a push is
known because the session made it, and a refused one is an exception carrying the
switch's reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import cast

import finsy as fy
from finsy import P4ClientError, P4Schema, SwitchEvent
from finsy.proto import p4r

from hpn.runtime.channel import RpcChannel
from hpn.runtime.encoding import EntryEncoder
from hpn.runtime.errors import SwitchRejected, SwitchUnreachable
from hpn.runtime.finsy_stream import connected, stream_switch
from hpn.runtime.options import SessionOptions
from hpn.runtime.reconcile import ReadPlan
from hpn.runtime.targets import SwitchTarget

LOG = logging.getLogger(__name__)


def describe_failure(ex: BaseException) -> str:
    """A short reason for a failed connection attempt or RPC."""
    if isinstance(ex, P4ClientError):
        return f"{ex.code.name}: {ex.message}" if ex.message else ex.code.name
    if isinstance(ex, TimeoutError):
        return str(ex) or "timed out"
    return str(ex) or type(ex).__name__


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class SwitchSession:
    """A switch's connection: connects, reconnects with backoff, counts pipeline pushes.

    `schema` is the program to run on the switch (P4Info and device config, hence the
    cookie). `generation` increases each time the switch becomes ready (connected,
    arbitrated, pipeline in place): a sync done for an older generation is stale, e.g.
    after a restart of the switch.
    """

    def __init__(
        self,
        target: SwitchTarget,
        options: SessionOptions,
        schema: P4Schema,
        on_change: Callable[[SwitchSession], None] | None = None,
    ) -> None:
        self.target = target
        self._options = options
        self._schema = schema
        self._switch = stream_switch(target, options)
        self._on_change = on_change
        self._switch.ee.on(SwitchEvent.CHANNEL_READY, self._on_arbitrated)
        self._switch.ee.on(SwitchEvent.CHANNEL_DOWN, self._on_down)
        self._up = asyncio.Event()
        self._down = asyncio.Event()
        self._stream_changed = asyncio.Event()  # arbitrated again, or down
        self._attempted = asyncio.Event()
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
        """The finsy switch holding the StreamChannel (connected while `is_up`)."""
        return self._switch

    @property
    def schema(self) -> P4Schema:
        """The program this session puts on the switch."""
        return self._schema

    @property
    def encoder(self) -> EntryEncoder:
        """Encodes desired entities for this switch's P4Info (lookups cached)."""
        if self._encoder is None:
            self._encoder = EntryEncoder(self._schema)
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
            await _cancel(task)

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

    def _on_arbitrated(self, _switch: fy.Switch) -> None:
        """finsy: arbitrated (on connect, and again whenever we become primary or backup)."""
        self._stream_changed.set()

    def _on_down(self, _switch: fy.Switch) -> None:
        self._up.clear()
        self._down.set()
        self._stream_changed.set()
        self.last_error = "connection lost"
        self._notify()

    def _failed(self, ex: BaseException) -> None:
        self.last_error = describe_failure(ex)
        self._attempted.set()
        self._notify()

    async def _supervise(self) -> None:
        delays = self._options.backoff.delays()
        connection: asyncio.Task[None] | None = None
        try:
            while True:
                self.attempts += 1
                ready = asyncio.get_running_loop().create_future()
                connection = asyncio.create_task(
                    self._connection(ready), name=f"hpn-runtime:{self.name}:conn"
                )
                try:
                    await self._wait_ready(connection, ready)
                except Exception as ex:
                    await _cancel(connection)
                    self._failed(ex)
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
                await asyncio.wait({connection})
                if not connection.cancelled() and connection.exception() is not None:
                    self._failed(cast("BaseException", connection.exception()))
                LOG.warning("%s (%s): %s; reconnecting", self.name, self.address, self.last_error)
        finally:
            if connection is not None:
                await _cancel(connection)

    async def _wait_ready(self, connection: asyncio.Task[None], ready: asyncio.Future[None]) -> None:
        """Until `connection` is ready; raises why it is not, within `connect_timeout`."""
        timeout = self._options.connect_timeout
        done, _ = await asyncio.wait(
            {connection, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready in done:
            return
        if connection in done:
            if not connection.cancelled():
                connection.result()  # raises what ended it
            raise ConnectionError("connection closed during the handshake")
        raise TimeoutError(f"no P4Runtime handshake within {timeout:g}s")

    async def _connection(self, ready: asyncio.Future[None]) -> None:
        """One connection: StreamChannel and own channel, pipeline, then ready until the
        connection is lost. Sets `ready` the first time the switch is ready."""
        self._down.clear()
        rpc = RpcChannel(self.address, self.target.device_id, self._options.credentials, self._options.role)
        try:
            async with connected(self._switch):
                self._rpc = rpc
                force = self._options.p4force
                while True:
                    self._stream_changed.clear()
                    await self._put_pipeline(rpc, force=force)
                    force = False
                    if self._down.is_set():
                        raise ConnectionError("connection lost during the handshake")
                    self._ready()
                    if not ready.done():
                        ready.set_result(None)
                    await self._stream_changed.wait()
                    if self._down.is_set():
                        return
                    LOG.info("%s: arbitration changed (primary: %s)", self.name, self._switch.is_primary)
        finally:
            self._up.clear()
            self._rpc = None
            await rpc.close()

    async def _put_pipeline(self, rpc: RpcChannel, *, force: bool) -> None:
        """While primary: push our pipeline if the switch's cookie differs (or `force`)."""
        if not self._switch.is_primary:
            return
        cookie = self._schema.p4cookie
        if not force and await rpc.pipeline_cookie() == cookie:
            return
        try:
            await rpc.set_pipeline(self._switch.election_id, self._schema.get_pipeline_config())
        except P4ClientError as ex:
            raise ConnectionError(f"pipeline push failed: {describe_failure(ex)}") from ex
        self.pipeline_pushes += 1
        LOG.info("%s: pipeline pushed (cookie %#x)", self.name, cookie)

    def _ready(self) -> None:
        self.generation += 1
        self.last_error = None
        self._up.set()
        self._attempted.set()
        self._notify()

    # --- P4Runtime operations -----------------------------------------------------------

    async def write(self, updates: Sequence[bytes]) -> None:
        """One WriteRequest of framed updates (raises P4ClientError with per-update details)."""
        await self._require_rpc().write(self._switch.election_id, updates)

    async def read(self, requests: Sequence[fy.P4CounterEntry]) -> list[fy.P4CounterEntry]:
        """Read the counter cells matching `requests` (finsy wildcards allowed) in one
        ReadRequest, through finsy's `Switch.read`."""
        self.require_up()
        if not requests:
            return []
        # finsy declares Switch.read's overloads as coroutines; it is an async generator.
        stream = cast("AsyncIterator[fy.P4CounterEntry]", self._switch.read(requests))
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

    async def read_entities(self, entities: list[p4r.Entity]) -> list[tuple[int, bytes]]:
        """One ReadRequest of these entities (wildcards or specific ones), answered as
        (Entity field, serialized message) (see `RpcChannel.read_entities`)."""
        if not entities:
            return []
        return await self._require_rpc().read_entities(entities)

    async def pipeline_cookie(self) -> int | None:
        """The cookie of the pipeline on the switch (None: no pipeline)."""
        return await self._require_rpc().pipeline_cookie()

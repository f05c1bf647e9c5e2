"""In-process fake P4Runtime server (grpc.aio) for testing hpn.runtime without bmv2.

It behaves like simple_switch_grpc where the runtime can tell: a pipeline is set with a
cookie and replaces all state; table entries are stored under their canonical key and
read back in canonical form (or padded, to exercise the client's canonicalisation);
writes answer per-update `p4.v1.Error` details (ALREADY_EXISTS, NOT_FOUND,
INVALID_ARGUMENT, ...) in `grpc-status-details-bin` like real servers; arbitration on the
StreamChannel makes the highest election id primary and refuses writes from others.

Test hooks: `reject` (mark updates bad), `refuse_pipeline`, `fail_pipeline_reads`,
`drop_details_above` (simulate bmv2's metadata overflow: a failed batch of more updates
than this loses its per-update errors), `fail_next_write`, `write_sizes`, `write_updates`,
`set_counter`, `pipeline_reads`, `stall_reads` (a switch that does not answer reads).
Packet I/O: `packet_outs` (payload, egress port) and `on_packet_out` see what the
controller sends; `punt(payload, ingress_port)` sends a packet-in to the primary.
`stop()` / `start()` simulate a switch going down and coming back on the same port
(state wiped, as after a bmv2 restart, unless `keep_state=True`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from finsy import pbutil
from finsy.proto import U128, p4i, p4r, p4r_grpc, rpc_code, rpc_status

Rejector = Callable[[p4r.Update], "tuple[int, str] | None"]
"""Returns (google.rpc code, message) to reject an update, or None to process it."""

_NO_PIPELINE = "No forwarding pipeline config set for this device."


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """A loopback TCP port nothing listens on, kept for the caller until the block ends.

    The port stays bound (not listening: a connection is refused, as with nothing there),
    so no other program can take it in the meantime; it is bound with SO_REUSEPORT, as
    gRPC binds its servers, so a fake server can still start on it within the block."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def _canon(value: bytes) -> bytes:
    return value.lstrip(b"\x00") or b"\x00"


def _pad(value: bytes, bitwidth: int) -> bytes:
    return value.rjust((bitwidth + 7) // 8, b"\x00")


class _WriteError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Table:
    info: p4i.Table
    fields: dict[int, p4i.MatchField]
    actions: dict[int, p4i.ActionRef]


@dataclass(eq=False)
class _Stream:
    queue: asyncio.Queue[p4r.StreamMessageResponse] = field(default_factory=asyncio.Queue)
    election_id: int | None = None


class FakeP4RuntimeServer(p4r_grpc.P4RuntimeServicer):
    """A P4Runtime device on `address` (127.0.0.1:port) with inspectable state."""

    def __init__(
        self,
        port: int = 0,
        *,
        device_id: int = 1,
        noncanonical_reads: bool = False,
        credentials: grpc.ServerCredentials | None = None,
    ) -> None:
        self.port = port
        self.device_id = device_id
        self.credentials = credentials
        """TLS for every connection (None: plain TCP)."""
        self.noncanonical_reads = noncanonical_reads
        """Pad read-back bytestrings to full width and attach counter data (like some targets)."""
        self._server: grpc.aio.Server | None = None
        self._streams: set[_Stream] = set()
        self.reject: Rejector | None = None
        self.drop_details_above: int | None = None
        self.fail_next_write: tuple[grpc.StatusCode, str] | None = None
        self.refuse_pipeline: str | None = None  # INVALID_ARGUMENT message for every pipeline push
        self.fail_pipeline_reads: tuple[grpc.StatusCode, str] | None = None  # every pipeline read fails
        self.stall_reads: asyncio.Event | None = None  # every Read waits for it to be set
        self.packet_outs: list[tuple[bytes, int]] = []
        self.on_packet_out: Callable[[bytes, int], None] | None = None  # called with each
        self.reset_state()

    # --- state --------------------------------------------------------------------------

    def reset_state(self) -> None:
        """Forget pipeline, entries and counters (what a bmv2 restart does)."""
        self.config: p4r.ForwardingPipelineConfig | None = None
        self.tables: dict[int, _Table] = {}
        self.actions: dict[int, p4i.Action] = {}
        self.counters: dict[int, p4i.Counter] = {}
        self.entries: dict[bytes, p4r.TableEntry] = {}
        self._sizes: dict[int, int] = {}  # entries per table id
        self.defaults: dict[int, p4r.TableEntry] = {}
        self.counter_data: dict[tuple[int, int], p4r.CounterData] = {}
        self.profiles: set[int] = set()  # action profile ids of the pipeline
        self.members: dict[tuple[int, int], p4r.ActionProfileMember] = {}
        self.groups: dict[tuple[int, int], p4r.ActionProfileGroup] = {}
        self.set_pipeline_calls = 0
        self.pipeline_reads: list[int] = []  # response_type of each GetForwardingPipelineConfig
        self.write_sizes: list[int] = []
        self.write_updates: list[p4r.Update] = []
        self.roles: list[tuple[str, str]] = []  # (arbitration | read | write, role name) per request

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def cookie(self) -> int | None:
        return self.config.cookie.cookie if self.config is not None else None

    def table_id(self, name: str) -> int:
        for table_id, table in self.tables.items():
            if name in (table.info.preamble.name, table.info.preamble.alias):
                return table_id
        raise KeyError(name)

    def table_entries(self, name: str) -> list[p4r.TableEntry]:
        table_id = self.table_id(name)
        return [e for e in self.entries.values() if e.table_id == table_id]

    def default_entry(self, name: str) -> p4r.TableEntry | None:
        return self.defaults.get(self.table_id(name))

    def set_counter(self, name: str, index: int, packets: int, octets: int) -> None:
        for counter_id, counter in self.counters.items():
            if name in (counter.preamble.name, counter.preamble.alias):
                self.counter_data[(counter_id, index)] = p4r.CounterData(
                    packet_count=packets, byte_count=octets
                )
                return
        raise KeyError(name)

    @property
    def primary_election_id(self) -> int | None:
        ids = [s.election_id for s in self._streams if s.election_id is not None]
        return max(ids) if ids else None

    # --- server lifecycle ---------------------------------------------------------------

    async def start(self, *, keep_state: bool = False) -> None:
        """Listen (on the same port as before, if any); a restart forgets state by default."""
        assert self._server is None, "already running"
        if not keep_state:
            self.reset_state()
        server = grpc.aio.server()
        p4r_grpc.add_P4RuntimeServicer_to_server(self, server)
        if self.credentials is None:
            self.port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        else:
            self.port = server.add_secure_port(f"127.0.0.1:{self.port}", self.credentials)
        await server.start()
        self._server = server

    async def stop(self) -> None:
        """Stop listening and drop every connection (the switch died)."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop(grace=None)
        self._streams.clear()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def __aenter__(self) -> FakeP4RuntimeServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # --- arbitration --------------------------------------------------------------------

    def _arbitration_reply(self, stream: _Stream) -> p4r.StreamMessageResponse:
        primary = self.primary_election_id
        is_primary = primary is not None and stream.election_id == primary
        code = rpc_code.OK if is_primary else rpc_code.ALREADY_EXISTS
        return p4r.StreamMessageResponse(
            arbitration=p4r.MasterArbitrationUpdate(
                device_id=self.device_id,
                election_id=U128.encode(primary or 0),
                status=rpc_status.Status(code=code, message="primary" if is_primary else "backup"),
            )
        )

    def _announce(self, skip: _Stream | None = None) -> None:
        for other in self._streams:
            if other is not skip and other.election_id is not None:
                other.queue.put_nowait(self._arbitration_reply(other))

    async def StreamChannel(  # type: ignore[override]
        self, request_iterator: AsyncIterator[p4r.StreamMessageRequest], context: grpc.aio.ServicerContext
    ) -> None:
        stream = _Stream()
        self._streams.add(stream)

        async def writer() -> None:
            while True:
                await context.write(await stream.queue.get())

        write_task = asyncio.create_task(writer())
        try:
            async for request in request_iterator:
                if request.WhichOneof("update") == "packet":
                    self._packet_out(request.packet)
                if request.WhichOneof("update") != "arbitration":
                    continue
                arb = request.arbitration
                self.roles.append(("arbitration", arb.role.name))
                if arb.device_id != self.device_id:
                    await context.abort(grpc.StatusCode.NOT_FOUND, f"Unknown device id {arb.device_id}")
                election_id = U128.decode(arb.election_id)
                if any(s is not stream and s.election_id == election_id for s in self._streams):
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Election id already exists")
                old_primary = self.primary_election_id
                stream.election_id = election_id
                stream.queue.put_nowait(self._arbitration_reply(stream))
                if self.primary_election_id != old_primary:
                    self._announce(skip=stream)
        finally:
            was_primary = stream.election_id is not None and stream.election_id == self.primary_election_id
            self._streams.discard(stream)
            write_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await write_task
            if was_primary:
                self._announce()

    # --- packet I/O ---------------------------------------------------------------------

    def _packet_metadata(self, header: str, name: str) -> tuple[int, int]:
        """(id, bitwidth) of a field of the pipeline's packet_in or packet_out header."""
        assert self.config is not None, "no pipeline"
        cpm = next(c for c in self.config.p4info.controller_packet_metadata if c.preamble.name == header)
        field = next(m for m in cpm.metadata if m.name == name)
        return int(field.id), int(field.bitwidth)

    def _packet_out(self, packet: p4r.PacketOut) -> None:
        port_id, _ = self._packet_metadata("packet_out", "egress_port")
        port = next(int.from_bytes(m.value, "big") for m in packet.metadata if m.metadata_id == port_id)
        self.packet_outs.append((packet.payload, port))
        if self.on_packet_out is not None:
            self.on_packet_out(packet.payload, port)

    def punt(self, payload: bytes, ingress_port: int) -> None:
        """A packet-in to the primary controller, as the CPU path sends it."""
        port_id, bitwidth = self._packet_metadata("packet_in", "ingress_port")
        primary = self.primary_election_id
        stream = next(s for s in self._streams if primary is not None and s.election_id == primary)
        value = ingress_port.to_bytes((bitwidth + 7) // 8, "big")
        packet = p4r.PacketIn(
            payload=payload, metadata=[p4r.PacketMetadata(metadata_id=port_id, value=value)]
        )
        stream.queue.put_nowait(p4r.StreamMessageResponse(packet=packet))

    def _check_primary(self, election: p4r.Uint128) -> str | None:
        primary = self.primary_election_id
        if primary is None or U128.decode(election) != primary:
            return f"Not primary (election id {U128.decode(election)}, primary {primary})"
        return None

    # --- pipeline -----------------------------------------------------------------------

    async def Capabilities(
        self, request: p4r.CapabilitiesRequest, context: grpc.aio.ServicerContext
    ) -> p4r.CapabilitiesResponse:
        return p4r.CapabilitiesResponse(p4runtime_api_version="1.3.0")

    async def SetForwardingPipelineConfig(
        self, request: p4r.SetForwardingPipelineConfigRequest, context: grpc.aio.ServicerContext
    ) -> p4r.SetForwardingPipelineConfigResponse:
        if request.device_id != self.device_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"Unknown device id {request.device_id}")
        denied = self._check_primary(request.election_id)
        if denied:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, denied)
        if not request.config.HasField("p4info"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "config has no p4info")
        if self.refuse_pipeline is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, self.refuse_pipeline)
        self.set_pipeline_calls += 1
        config = p4r.ForwardingPipelineConfig()
        config.CopyFrom(request.config)
        self.config = config
        self.tables = {
            t.preamble.id: _Table(t, {f.id: f for f in t.match_fields}, {a.id: a for a in t.action_refs})
            for t in config.p4info.tables
        }
        self.actions = {a.preamble.id: a for a in config.p4info.actions}
        self.counters = {c.preamble.id: c for c in config.p4info.counters}
        self.profiles = {a.preamble.id for a in config.p4info.action_profiles}
        self.members.clear()
        self.groups.clear()
        self.entries.clear()
        self._sizes.clear()
        self.defaults.clear()
        self.counter_data.clear()
        return p4r.SetForwardingPipelineConfigResponse()

    async def GetForwardingPipelineConfig(
        self, request: p4r.GetForwardingPipelineConfigRequest, context: grpc.aio.ServicerContext
    ) -> p4r.GetForwardingPipelineConfigResponse:
        self.pipeline_reads.append(request.response_type)
        if self.fail_pipeline_reads is not None:
            await context.abort(*self.fail_pipeline_reads)
        if self.config is None:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, _NO_PIPELINE)
        assert self.config is not None
        req = p4r.GetForwardingPipelineConfigRequest
        out = p4r.ForwardingPipelineConfig(cookie=self.config.cookie)
        if request.response_type in (req.ALL, req.P4INFO_AND_COOKIE):
            out.p4info.CopyFrom(self.config.p4info)
        if request.response_type in (req.ALL, req.DEVICE_CONFIG_AND_COOKIE):
            out.p4_device_config = self.config.p4_device_config
        return p4r.GetForwardingPipelineConfigResponse(config=out)

    # --- write --------------------------------------------------------------------------

    def _key(self, entry: p4r.TableEntry) -> bytes:
        key = p4r.TableEntry(table_id=entry.table_id, priority=entry.priority)
        key.match.extend(sorted(entry.match, key=lambda m: m.field_id))
        return bytes(key.SerializeToString(deterministic=True))

    def _canonical(self, entry: p4r.TableEntry) -> p4r.TableEntry:
        out = p4r.TableEntry()
        out.CopyFrom(entry)
        for m in out.match:
            kind = m.WhichOneof("field_match_type")
            if kind == "exact":
                m.exact.value = _canon(m.exact.value)
            elif kind == "lpm":
                m.lpm.value = _canon(m.lpm.value)
            elif kind == "ternary":
                m.ternary.value, m.ternary.mask = _canon(m.ternary.value), _canon(m.ternary.mask)
            elif kind == "range":
                m.range.low, m.range.high = _canon(m.range.low), _canon(m.range.high)
            elif kind == "optional":
                m.optional.value = _canon(m.optional.value)
        for p in out.action.action.params:
            p.value = _canon(p.value)
        return out

    def _check_value(self, value: bytes, bitwidth: int, what: str) -> None:
        if int.from_bytes(value, "big") >= 1 << bitwidth:
            raise _WriteError(rpc_code.INVALID_ARGUMENT, f"{what} does not fit in {bitwidth} bits")

    def _check_action(self, table: _Table, entry: p4r.TableEntry, default: bool) -> None:
        if table.info.implementation_id and entry.action.WhichOneof("type") == "action_profile_group_id":
            if (table.info.implementation_id, entry.action.action_profile_group_id) not in self.groups:
                raise _WriteError(
                    rpc_code.NOT_FOUND, f"Group {entry.action.action_profile_group_id} does not exist"
                )
            return
        if not entry.HasField("action") or entry.action.WhichOneof("type") != "action":
            raise _WriteError(rpc_code.INVALID_ARGUMENT, "Missing action")
        action = entry.action.action
        ref = table.actions.get(action.action_id)
        if ref is None:
            raise _WriteError(rpc_code.INVALID_ARGUMENT, f"Invalid action id {action.action_id} for table")
        if default and ref.scope == p4i.ActionRef.TABLE_ONLY:
            raise _WriteError(rpc_code.INVALID_ARGUMENT, "Action cannot be a default action")
        if not default and ref.scope == p4i.ActionRef.DEFAULT_ONLY:
            raise _WriteError(rpc_code.INVALID_ARGUMENT, "Action can only be a default action")
        params = {p.id: p for p in self.actions[action.action_id].params}
        if sorted(p.param_id for p in action.params) != sorted(params):
            raise _WriteError(rpc_code.INVALID_ARGUMENT, "Wrong action parameters")
        for p in action.params:
            self._check_value(p.value, params[p.param_id].bitwidth, f"param {params[p.param_id].name}")

    def _check_match(self, table: _Table, entry: p4r.TableEntry) -> None:
        seen = set()
        for m in entry.match:
            spec = table.fields.get(m.field_id)
            if spec is None or m.field_id in seen:
                raise _WriteError(rpc_code.INVALID_ARGUMENT, f"Invalid match field id {m.field_id}")
            seen.add(m.field_id)
            kind = m.WhichOneof("field_match_type")
            if kind == "exact":
                self._check_value(m.exact.value, spec.bitwidth, f"match {spec.name}")
            elif kind == "lpm":
                self._check_value(m.lpm.value, spec.bitwidth, f"match {spec.name}")
                if not 0 < m.lpm.prefix_len <= spec.bitwidth:
                    raise _WriteError(rpc_code.INVALID_ARGUMENT, f"Invalid prefix length for {spec.name}")
        missing = [
            f.name for f in table.fields.values() if f.match_type == p4i.MatchField.EXACT and f.id not in seen
        ]
        if missing:
            raise _WriteError(rpc_code.INVALID_ARGUMENT, f"Missing exact match fields {missing}")

    def _apply_profile(self, update: p4r.Update) -> None:
        """Members and groups of action profiles: keyed by (profile, id); a group's members
        must exist, a member in a group and a group an entry points at cannot be deleted."""
        kind = update.entity.WhichOneof("entity")
        store: dict[tuple[int, int], Any]
        if kind == "action_profile_member":
            item: Any = update.entity.action_profile_member
            key, store = (item.action_profile_id, item.member_id), self.members
        else:
            item = update.entity.action_profile_group
            key, store = (item.action_profile_id, item.group_id), self.groups
        if item.action_profile_id not in self.profiles:
            raise _WriteError(rpc_code.NOT_FOUND, f"Invalid action profile id {item.action_profile_id}")
        if kind == "action_profile_group" and update.type != p4r.Update.DELETE:
            for m in item.members:
                if (item.action_profile_id, m.member_id) not in self.members:
                    raise _WriteError(rpc_code.NOT_FOUND, f"Member {m.member_id} does not exist")
        if update.type == p4r.Update.INSERT:
            if key in store:
                raise _WriteError(rpc_code.ALREADY_EXISTS, f"{kind} {key[1]} exists")
            store[key] = item
        elif update.type == p4r.Update.MODIFY:
            if key not in store:
                raise _WriteError(rpc_code.NOT_FOUND, f"{kind} {key[1]} does not exist")
            store[key] = item
        elif update.type == p4r.Update.DELETE:
            if key not in store:
                raise _WriteError(rpc_code.NOT_FOUND, f"{kind} {key[1]} does not exist")
            if kind == "action_profile_member" and any(
                g.action_profile_id == key[0] and any(m.member_id == key[1] for m in g.members)
                for g in self.groups.values()
            ):
                raise _WriteError(rpc_code.FAILED_PRECONDITION, f"Member {key[1]} is used by a group")
            if kind == "action_profile_group" and any(
                e.action.action_profile_group_id == key[1] for e in self.entries.values()
            ):
                raise _WriteError(rpc_code.FAILED_PRECONDITION, f"Group {key[1]} is used by a table entry")
            del store[key]
        else:
            raise _WriteError(rpc_code.INVALID_ARGUMENT, "Update type not set")

    def _apply(self, update: p4r.Update) -> None:
        kind = update.entity.WhichOneof("entity")
        if kind in ("action_profile_member", "action_profile_group"):
            self._apply_profile(update)
            return
        if kind != "table_entry":
            raise _WriteError(
                rpc_code.UNIMPLEMENTED, "Only table entries and action profiles are supported by the fake"
            )
        entry = update.entity.table_entry
        table = self.tables.get(entry.table_id)
        if table is None:
            raise _WriteError(rpc_code.NOT_FOUND, f"Invalid table id {entry.table_id}")
        if self.reject is not None:
            rejected = self.reject(update)
            if rejected is not None:
                raise _WriteError(*rejected)
        if table.info.is_const_table:
            raise _WriteError(rpc_code.PERMISSION_DENIED, "Cannot write to a const table")
        if entry.is_default_action:
            if update.type != p4r.Update.MODIFY:
                raise _WriteError(rpc_code.INVALID_ARGUMENT, "Default entries can only be modified")
            if entry.match:
                raise _WriteError(rpc_code.INVALID_ARGUMENT, "Default entry cannot have a match")
            self._check_action(table, entry, default=True)
            self.defaults[entry.table_id] = self._canonical(entry)
            return
        if not table.fields:
            raise _WriteError(rpc_code.INVALID_ARGUMENT, "Keyless table: only the default entry can be set")
        self._check_match(table, entry)
        key = self._key(self._canonical(entry))
        if update.type == p4r.Update.INSERT:
            if key in self.entries:
                raise _WriteError(
                    rpc_code.ALREADY_EXISTS, "Match entry exists, use MODIFY if you wish to change action"
                )
            self._check_action(table, entry, default=False)
            if self._sizes.get(entry.table_id, 0) >= table.info.size:
                raise _WriteError(rpc_code.RESOURCE_EXHAUSTED, "Table is full")
            self.entries[key] = self._canonical(entry)
            self._sizes[entry.table_id] = self._sizes.get(entry.table_id, 0) + 1
        elif update.type == p4r.Update.MODIFY:
            if key not in self.entries:
                raise _WriteError(rpc_code.NOT_FOUND, "Cannot find match entry")
            self._check_action(table, entry, default=False)
            self.entries[key] = self._canonical(entry)
        elif update.type == p4r.Update.DELETE:
            if self.entries.pop(key, None) is None:
                raise _WriteError(rpc_code.NOT_FOUND, "Cannot find match entry")
            self._sizes[entry.table_id] -= 1
        else:
            raise _WriteError(rpc_code.INVALID_ARGUMENT, "Update type not set")

    async def Write(self, request: p4r.WriteRequest, context: grpc.aio.ServicerContext) -> p4r.WriteResponse:
        self.roles.append(("write", request.role))
        if request.device_id != self.device_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"Unknown device id {request.device_id}")
        if self.config is None:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, _NO_PIPELINE)
        denied = self._check_primary(request.election_id)
        if denied:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, denied)
        if self.fail_next_write is not None:
            code, message = self.fail_next_write
            self.fail_next_write = None
            await context.abort(code, message)
        self.write_sizes.append(len(request.updates))
        self.write_updates.extend(request.updates)
        errors: list[p4r.Error] = []
        for update in request.updates:
            try:
                self._apply(update)
                errors.append(p4r.Error(canonical_code=rpc_code.OK))
            except _WriteError as ex:
                errors.append(p4r.Error(canonical_code=ex.code, message=ex.message, space="targetspace"))
        if all(e.canonical_code == rpc_code.OK for e in errors):
            return p4r.WriteResponse()
        if self.drop_details_above is not None and len(request.updates) > self.drop_details_above:
            await context.abort(grpc.StatusCode.UNKNOWN, "received metadata size exceeds hard limit")
        status = rpc_status.Status(code=rpc_code.UNKNOWN, message="Write failure.")
        status.details.extend(pbutil.to_any(error) for error in errors)
        await context.abort(
            grpc.StatusCode.UNKNOWN,
            "Write failure.",
            trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),),
        )
        raise AssertionError("unreachable")

    # --- read ---------------------------------------------------------------------------

    def _readback(self, entry: p4r.TableEntry) -> p4r.TableEntry:
        if not self.noncanonical_reads:
            return entry
        out = p4r.TableEntry()
        out.CopyFrom(entry)
        table = self.tables[out.table_id]
        for m in out.match:
            width = table.fields[m.field_id].bitwidth
            if m.WhichOneof("field_match_type") == "exact":
                m.exact.value = _pad(m.exact.value, width)
            elif m.WhichOneof("field_match_type") == "lpm":
                m.lpm.value = _pad(m.lpm.value, width)
        if out.action.WhichOneof("type") == "action":
            params = {p.id: p for p in self.actions[out.action.action.action_id].params}
            for p in out.action.action.params:
                p.value = _pad(p.value, params[p.param_id].bitwidth)
            out.action.action.params.reverse()
        out.match.reverse()
        out.counter_data.CopyFrom(p4r.CounterData(packet_count=7, byte_count=700))
        return out

    def _read_table(self, want: p4r.TableEntry) -> Iterable[p4r.TableEntry]:
        if want.table_id and want.table_id not in self.tables:
            raise _WriteError(rpc_code.NOT_FOUND, f"Invalid table id {want.table_id}")
        if want.is_default_action:
            default = self.defaults.get(want.table_id)
            yield self._readback(default or p4r.TableEntry(table_id=want.table_id, is_default_action=True))
            return
        if want.match:
            found = self.entries.get(self._key(self._canonical(want)))
            if found is not None:
                yield self._readback(found)
            return
        for entry in self.entries.values():
            if not want.table_id or entry.table_id == want.table_id:
                yield self._readback(entry)

    def _read_counter(self, want: p4r.CounterEntry) -> Iterable[p4r.CounterEntry]:
        ids = [want.counter_id] if want.counter_id else list(self.counters)
        for counter_id in ids:
            counter = self.counters.get(counter_id)
            if counter is None:
                raise _WriteError(rpc_code.NOT_FOUND, f"Invalid counter id {counter_id}")
            if want.HasField("index"):
                if not 0 <= want.index.index < counter.size:
                    raise _WriteError(rpc_code.INVALID_ARGUMENT, "Counter index out of range")
                indices: Iterable[int] = [want.index.index]
            else:
                indices = range(counter.size)
            for i in indices:
                data = self.counter_data.get((counter_id, i), p4r.CounterData())
                yield p4r.CounterEntry(counter_id=counter_id, index=p4r.Index(index=i), data=data)

    async def Read(
        self, request: p4r.ReadRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[p4r.ReadResponse]:
        self.roles.append(("read", request.role))
        if self.stall_reads is not None:
            await self.stall_reads.wait()
        if request.device_id != self.device_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"Unknown device id {request.device_id}")
        if self.config is None:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, _NO_PIPELINE)
        found: list[p4r.Entity] = []
        try:
            for entity in request.entities:
                kind = entity.WhichOneof("entity")
                if kind == "table_entry":
                    found += [p4r.Entity(table_entry=e) for e in self._read_table(entity.table_entry)]
                elif kind == "action_profile_member":
                    want = entity.action_profile_member.action_profile_id
                    found += [
                        p4r.Entity(action_profile_member=m)
                        for (ap, _), m in self.members.items()
                        if ap == want
                    ]
                elif kind == "action_profile_group":
                    want = entity.action_profile_group.action_profile_id
                    found += [
                        p4r.Entity(action_profile_group=g) for (ap, _), g in self.groups.items() if ap == want
                    ]
                elif kind == "counter_entry":
                    found += [p4r.Entity(counter_entry=c) for c in self._read_counter(entity.counter_entry)]
                else:
                    raise _WriteError(rpc_code.UNIMPLEMENTED, f"Reading {kind} is not supported by the fake")
        except _WriteError as ex:
            await context.abort(_grpc_code(ex.code), ex.message)
        for start in range(0, len(found), 1000):
            yield p4r.ReadResponse(entities=found[start : start + 1000])
        if not found:
            yield p4r.ReadResponse()


def _grpc_code(code: int) -> grpc.StatusCode:
    return next(status for status in grpc.StatusCode if status.value[0] == code)

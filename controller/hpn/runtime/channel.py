"""A second gRPC channel to one switch: the pipeline, bulk reads and pre-serialized writes.

finsy's `Switch` keeps the StreamChannel (arbitration) and is used for counter reads
(hpn.runtime.finsy_stream). The pipeline's cookie is read and the pipeline set over this
second channel, and reconciling thousands of entries goes through it too: table entries
read back stay serialized, as the switch sent them (compared as bytes, no decoding into
protobuf or finsy objects), and writes are WriteRequests serialized by hand
(hpn.runtime.wire), sent without a protobuf object ever being built. P4Runtime
authorizes a write (and a pipeline push) by its election id and role, not by the channel
it arrives on, so the session's id (held by finsy's arbitration) and role are written into
each request; the channel uses the session's TLS credentials, the same ones finsy's
channel uses. Errors are raised as finsy's `P4ClientError`, like every other RPC of the
runtime.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from finsy import GRPCCredentialsTLS, P4ClientError
from finsy.proto import p4r

from hpn.runtime import wire

RPC_TIMEOUT = 60.0
"""Seconds for one Read or Write (a big WriteRequest to bmv2 takes well under one)."""

_OPTIONS: list[tuple[str, int | str]] = [
    # bmv2 sends one error detail per update (~100 bytes) in trailing metadata; with gRPC's
    # default limit a failed batch of a hundred updates would lose every one of them.
    ("grpc.max_metadata_size", 4 * 1024 * 1024),
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
]


def _identity(data: bytes) -> bytes:
    return data


def open_channel(address: str, credentials: GRPCCredentialsTLS | None) -> grpc.aio.Channel:
    """A channel to `address`: TLS with `credentials` (as finsy opens its own), else plain."""
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=_OPTIONS)
    options: list[tuple[str, int | str]] = list(_OPTIONS)
    if credentials.target_name_override:
        options.append(("grpc.ssl_target_name_override", credentials.target_name_override))
    return grpc.aio.secure_channel(address, credentials.to_client_credentials(), options=options)


class RpcChannel:
    """Read / Write / GetForwardingPipelineConfig over a channel of our own."""

    def __init__(
        self, address: str, device_id: int, credentials: GRPCCredentialsTLS | None = None, role: str = ""
    ) -> None:
        self.address = address
        self.device_id = device_id
        self.role = role
        self._channel = open_channel(address, credentials)
        self._read = self._channel.unary_stream(
            "/p4.v1.P4Runtime/Read",
            request_serializer=p4r.ReadRequest.SerializeToString,
            response_deserializer=_identity,
        )
        self._write = self._channel.unary_unary(
            "/p4.v1.P4Runtime/Write",
            request_serializer=_identity,
            response_deserializer=p4r.WriteResponse.FromString,
        )
        self._get_config = self._channel.unary_unary(
            "/p4.v1.P4Runtime/GetForwardingPipelineConfig",
            request_serializer=p4r.GetForwardingPipelineConfigRequest.SerializeToString,
            response_deserializer=p4r.GetForwardingPipelineConfigResponse.FromString,
        )
        self._set_config = self._channel.unary_unary(
            "/p4.v1.P4Runtime/SetForwardingPipelineConfig",
            request_serializer=p4r.SetForwardingPipelineConfigRequest.SerializeToString,
            response_deserializer=p4r.SetForwardingPipelineConfigResponse.FromString,
        )

    async def close(self) -> None:
        await self._channel.close()

    async def read_table_entries(self, entities: list[p4r.Entity]) -> list[bytes]:
        """One ReadRequest; every table entry answered, serialized as the switch sent it
        (compared as bytes, see `encoding.decode_read_back`)."""
        return [data for kind, data in await self.read_entities(entities) if kind == wire.ENTITY_TABLE_ENTRY]

    async def read_entities(self, entities: list[p4r.Entity]) -> list[tuple[int, bytes]]:
        """One ReadRequest; every table entry, action-profile member and group answered, as
        (Entity field, message serialized as the switch sent it)."""
        request = p4r.ReadRequest(device_id=self.device_id, role=self.role, entities=entities)
        found: list[tuple[int, bytes]] = []
        try:
            async for reply in self._read(request, timeout=RPC_TIMEOUT):
                found.extend(wire.read_response_entities(reply))
        except grpc.aio.AioRpcError as ex:
            raise P4ClientError(ex, "Read") from None
        return found

    async def write(self, election_id: int, updates: Sequence[bytes]) -> None:
        """One WriteRequest of framed updates (`wire.framed_update`) under `election_id`."""
        header = wire.write_request_header(
            self.device_id, election_id >> 64, election_id & (1 << 64) - 1, self.role
        )
        try:
            await self._write(wire.write_request(header, updates), timeout=RPC_TIMEOUT)
        except grpc.aio.AioRpcError as ex:
            raise P4ClientError(ex, "Write") from None

    async def pipeline_cookie(self) -> int | None:
        """The cookie of the pipeline on the switch (None: no pipeline)."""
        request = p4r.GetForwardingPipelineConfigRequest(
            device_id=self.device_id, response_type=p4r.GetForwardingPipelineConfigRequest.COOKIE_ONLY
        )
        try:
            reply = await self._get_config(request, timeout=RPC_TIMEOUT)
        except grpc.aio.AioRpcError as ex:
            error = P4ClientError(ex, "GetForwardingPipelineConfig")
            if error.is_pipeline_missing:
                return None
            raise error from None
        return int(reply.config.cookie.cookie) if reply.config.HasField("cookie") else None

    async def set_pipeline(self, election_id: int, config: p4r.ForwardingPipelineConfig) -> None:
        """SetForwardingPipelineConfig (VERIFY_AND_COMMIT) under `election_id`: the switch
        loads `config` and forgets every entry it held."""
        request = p4r.SetForwardingPipelineConfigRequest(
            device_id=self.device_id,
            role=self.role,
            election_id=p4r.Uint128(high=election_id >> 64, low=election_id & (1 << 64) - 1),
            action=p4r.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
            config=config,
        )
        try:
            await self._set_config(request, timeout=RPC_TIMEOUT)
        except grpc.aio.AioRpcError as ex:
            raise P4ClientError(ex, "SetForwardingPipelineConfig") from None

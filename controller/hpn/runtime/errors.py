"""Readable errors: every rejected update names its switch, table and match fields.

P4Runtime reports the outcome of a failed WriteRequest as one `p4.v1.Error` per update
(finsy exposes them as `P4ClientError.details`, index -> P4Error). Raw, they say
"ALREADY_EXISTS" about update #137; here they become
`tor-s0-r0-p0: INSERT ingress.routing.ipv4_lpm {plane=0, dst_addr=10.1.0.0/24}: ALREADY_EXISTS ...`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from finsy import GRPCStatusCode, P4ClientError, P4Schema
from finsy.proto import p4r

from hpn.runtime.profiles import ProfileMessage, describe_group_members, describe_profile

_UPDATE_TYPES = {p4r.Update.INSERT: "INSERT", p4r.Update.MODIFY: "MODIFY", p4r.Update.DELETE: "DELETE"}

CONNECTION_CODES = frozenset(
    {
        GRPCStatusCode.UNAVAILABLE,
        GRPCStatusCode.CANCELLED,
        GRPCStatusCode.DEADLINE_EXCEEDED,
        GRPCStatusCode.UNAUTHENTICATED,
    }
)
"""Whole-RPC failures that mean "the switch or channel is gone", not "this entry is bad"."""

SWITCH_CODES = CONNECTION_CODES | {GRPCStatusCode.PERMISSION_DENIED, GRPCStatusCode.FAILED_PRECONDITION}
"""Whole-RPC failures about the switch (not primary, no pipeline): no entry is to blame."""


class RuntimeFailure(Exception):
    """Base of the runtime's own exceptions."""


class SwitchUnreachable(RuntimeFailure):
    """A switch could not be reached or lost its connection; names the switch and address."""

    def __init__(self, name: str, address: str, reason: str) -> None:
        super().__init__(f"{name} ({address}): unreachable: {reason}")
        self.name = name
        self.address = address
        self.reason = reason


class SwitchRejected(RuntimeFailure):
    """A switch refused a whole request (not primary, no pipeline, ...)."""

    def __init__(self, name: str, what: str, code: str, message: str) -> None:
        super().__init__(f"{name}: {what} refused: {code} {message}".rstrip())
        self.name = name
        self.code = code


@dataclass(frozen=True)
class EntryError:
    """One rejected update, by name."""

    switch: str
    operation: str  # INSERT | MODIFY | DELETE
    entry: str  # "ingress.routing.ipv4_lpm {plane=0, dst_addr=10.1.0.0/24}"
    code: str  # canonical gRPC code name, e.g. ALREADY_EXISTS
    message: str
    action: str = ""  # "ingress.routing.set_port(port=3)", for INSERT/MODIFY

    def __str__(self) -> str:
        return f"{self.switch}: {self.operation} {self.entry}: {self.code} {self.message}".rstrip()


def _annotated_format(annotations: Sequence[object]) -> str | None:
    for ann in annotations:
        name = getattr(ann, "name", None)
        body = getattr(ann, "body", None)
        if name == "format" and isinstance(body, str):
            return body.strip()
    return None


def _address_kind(name: str, bitwidth: int, annotations: Sequence[object]) -> str | None:
    """IPV4_ADDRESS / MAC_ADDRESS / IPV6_ADDRESS when the value reads best as an address.

    Uses the P4 `@format` annotation when present; otherwise a name hint (fields called
    *addr*, *ip*, *mac*) with the matching width, since p4c emits no format by default.
    """
    fmt = _annotated_format(annotations)
    if fmt in ("IPV4_ADDRESS", "MAC_ADDRESS", "IPV6_ADDRESS"):
        return fmt
    lname = name.lower()
    if bitwidth == 32 and ("addr" in lname or "ip" in lname):
        return "IPV4_ADDRESS"
    if bitwidth == 48 and ("mac" in lname or "addr" in lname):
        return "MAC_ADDRESS"
    if bitwidth == 128 and ("addr" in lname or "ip" in lname):
        return "IPV6_ADDRESS"
    return None


def format_value(value: bytes, bitwidth: int, kind: str | None) -> str:
    """A P4Runtime bytestring as an address or a decimal number."""
    number = int.from_bytes(value, "big")
    if kind == "IPV4_ADDRESS" and number < 1 << 32:
        return str(ipaddress.IPv4Address(number))
    if kind == "IPV6_ADDRESS" and number < 1 << 128:
        return str(ipaddress.IPv6Address(number))
    if kind == "MAC_ADDRESS" and number < 1 << 48:
        return ":".join(f"{b:02x}" for b in number.to_bytes(6, "big"))
    return str(number) if bitwidth <= 32 else hex(number)


class _ParamSpec(Protocol):
    """What is used of an action parameter of the P4Schema (finsy's P4ActionParam)."""

    @property
    def name(self) -> str: ...
    @property
    def bitwidth(self) -> int: ...
    @property
    def annotations(self) -> Sequence[object]: ...


class _FieldSpec(_ParamSpec, Protocol):
    """What is used of a match field of the P4Schema (finsy's P4MatchField)."""

    @property
    def alias(self) -> str: ...


def _format_match(match: p4r.FieldMatch, field: _FieldSpec | None) -> str:
    if field is None:
        return f"field#{match.field_id}=?"
    kind = _address_kind(field.name, field.bitwidth, field.annotations)

    def fmt(data: bytes) -> str:
        return format_value(data, field.bitwidth, kind)

    which = match.WhichOneof("field_match_type")
    if which == "exact":
        text = fmt(match.exact.value)
    elif which == "lpm":
        text = f"{fmt(match.lpm.value)}/{match.lpm.prefix_len}"
    elif which == "ternary":
        text = f"{fmt(match.ternary.value)}&&&{fmt(match.ternary.mask)}"
    elif which == "range":
        text = f"{fmt(match.range.low)}..{fmt(match.range.high)}"
    elif which == "optional":
        text = fmt(match.optional.value)
    else:
        text = "?"
    return f"{field.alias}={text}"


def describe_entry(entry: p4r.TableEntry | ProfileMessage, schema: P4Schema) -> str:
    """`<table name> {field=value, ...}`; `{default}` for a default entry; members and
    groups of action profiles as hpn.runtime.profiles names them."""
    if not isinstance(entry, p4r.TableEntry):
        return describe_profile(entry, schema)
    table = schema.tables.get(entry.table_id)
    if table is None:
        return f"table#{entry.table_id} {{?}}"
    if entry.is_default_action:
        return f"{table.name} {{default}}"
    fields = {f.id: f for f in table.match_fields}
    parts = [_format_match(m, fields.get(m.field_id)) for m in entry.match]
    if entry.priority:
        parts.append(f"priority={entry.priority}")
    return f"{table.name} {{{', '.join(parts)}}}"


def _format_param(param: p4r.Action.Param, spec: _ParamSpec | None) -> str:
    if spec is None:
        return f"param#{param.param_id}={int.from_bytes(param.value, 'big')}"
    kind = _address_kind(spec.name, spec.bitwidth, spec.annotations)
    return f"{spec.name}={format_value(param.value, spec.bitwidth, kind)}"


def describe_action(entry: p4r.TableEntry | ProfileMessage, schema: P4Schema) -> str:
    """`action(param=value, ...)`, or "" when the entry carries no direct action; a group
    lists its members, an entry pointing at a group names it."""
    if isinstance(entry, p4r.ActionProfileGroup):
        return describe_group_members(entry)
    if isinstance(entry, p4r.ActionProfileMember):
        action_msg = entry.action
    elif entry.HasField("action") and entry.action.WhichOneof("type") == "action_profile_group_id":
        return f"group #{entry.action.action_profile_group_id}"
    elif entry.HasField("action") and entry.action.WhichOneof("type") == "action_profile_member_id":
        return f"member #{entry.action.action_profile_member_id}"
    elif not entry.HasField("action") or entry.action.WhichOneof("type") != "action":
        return ""
    else:
        action_msg = entry.action.action
    action = schema.actions.get(action_msg.action_id)
    if action is None:
        return f"action#{action_msg.action_id}(...)"
    specs = {p.id: p for p in action.params}
    params = ", ".join(_format_param(p, specs.get(p.param_id)) for p in action_msg.params)
    return f"{action.name}({params})"


def operation_name(update: p4r.Update) -> str:
    return _UPDATE_TYPES.get(update.type, "UPDATE")


def entry_error(switch: str, update: p4r.Update, code: str, message: str, schema: P4Schema) -> EntryError:
    """An `EntryError` for one update of a WriteRequest."""
    which = update.entity.WhichOneof("entity")
    entry: p4r.TableEntry | ProfileMessage = (
        update.entity.action_profile_member
        if which == "action_profile_member"
        else update.entity.action_profile_group
        if which == "action_profile_group"
        else update.entity.table_entry
    )
    action = describe_action(entry, schema) if update.type != p4r.Update.DELETE else ""
    return EntryError(switch, operation_name(update), describe_entry(entry, schema), code, message, action)


def decode_write_error(
    switch: str, updates: Sequence[p4r.Update], error: P4ClientError, schema: P4Schema
) -> list[EntryError]:
    """One `EntryError` per update that the switch rejected, in request order.

    Returns [] when the error carries no per-update details (the caller decides what that
    means: a whole-RPC failure, or details lost to gRPC's metadata limit).
    """
    result: list[EntryError] = []
    for index, detail in sorted(error.details.items()):
        if 0 <= index < len(updates):
            result.append(
                entry_error(switch, updates[index], detail.canonical_code.name, detail.message, schema)
            )
        else:
            result.append(
                EntryError(switch, "UPDATE", f"#{index}", detail.canonical_code.name, detail.message)
            )
    return result

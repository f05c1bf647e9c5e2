"""Canonical form of P4Runtime table entries, so desired and read-back state compare equal.

Servers may answer reads with padded bytestrings (b"\\x00\\x0a" for 10) while finsy writes
the canonical shortest form (b"\\x0a"), order match fields and action params as they like,
and add run-time data (counters, meters, idle time) that is not part of what the
controller asked for. A switch whose P4Runtime protos are newer than ours may also send
fields we do not know; protobuf keeps those as unknown fields and would serialize them
into the entry's key, so a live entry would look like a different one (an INSERT plus a
DELETE of itself). Comparing raw protobufs would see differences everywhere and rewrite
the fabric on every push. Everything here works on `p4.v1.TableEntry` messages.
"""

from __future__ import annotations

from finsy.proto import p4r

_RUNTIME_FIELDS = ("counter_data", "meter_config", "meter_counter_data", "time_since_last_hit", "is_const")
"""Fields that carry switch-side data or attributes, not controller intent: ignored."""


def canonical_bytes(value: bytes) -> bytes:
    """P4Runtime canonical bytestring: no leading zero bytes, zero is one zero byte."""
    return value.lstrip(b"\x00") or b"\x00"


def _needs_strip(value: bytes) -> bool:
    return len(value) > 1 and value[0] == 0


def _canonicalize_match(match: p4r.FieldMatch) -> None:
    kind = match.WhichOneof("field_match_type")
    if kind == "exact":
        if _needs_strip(match.exact.value):
            match.exact.value = canonical_bytes(match.exact.value)
    elif kind == "lpm":
        if _needs_strip(match.lpm.value):
            match.lpm.value = canonical_bytes(match.lpm.value)
    elif kind == "ternary":
        match.ternary.value = canonical_bytes(match.ternary.value)
        match.ternary.mask = canonical_bytes(match.ternary.mask)
    elif kind == "range":
        match.range.low = canonical_bytes(match.range.low)
        match.range.high = canonical_bytes(match.range.high)
    elif kind == "optional":
        match.optional.value = canonical_bytes(match.optional.value)


def canonicalize_action(action: p4r.Action) -> None:
    """Canonical bytestrings and params sorted by id, in place."""
    params = action.params
    for param in params:
        if _needs_strip(param.value):
            param.value = canonical_bytes(param.value)
    ids = [p.param_id for p in params]
    if ids != sorted(ids):
        ordered = sorted(
            (p4r.Action.Param(param_id=p.param_id, value=p.value) for p in params), key=_param_id
        )
        del params[:]
        params.extend(ordered)


def _param_id(param: p4r.Action.Param) -> int:
    return int(param.param_id)


def _field_id(match: p4r.FieldMatch) -> int:
    return int(match.field_id)


def canonicalize(entry: p4r.TableEntry) -> p4r.TableEntry:
    """Normalise `entry` in place and return it: canonical bytestrings, match fields and
    action params sorted by id, runtime data (counters, meters, idle time) and fields
    unknown to our protos dropped."""
    entry.DiscardUnknownFields()
    for name in _RUNTIME_FIELDS:
        entry.ClearField(name)  # type: ignore[arg-type]
    for match in entry.match:
        _canonicalize_match(match)
    ids = [m.field_id for m in entry.match]
    if ids != sorted(ids):
        ordered = sorted(entry.match, key=_field_id)
        copies = []
        for match in ordered:
            copy = p4r.FieldMatch()
            copy.CopyFrom(match)
            copies.append(copy)
        del entry.match[:]
        entry.match.extend(copies)
    if entry.HasField("action"):
        kind = entry.action.WhichOneof("type")
        if kind == "action":
            canonicalize_action(entry.action.action)
        elif kind == "action_profile_action_set":
            for profile_action in entry.action.action_profile_action_set.action_profile_actions:
                canonicalize_action(profile_action.action)
    return entry


def canonical_entry(entry: p4r.TableEntry) -> p4r.TableEntry:
    """A canonical copy of `entry` (see `canonicalize`)."""
    out = p4r.TableEntry()
    out.CopyFrom(entry)
    return canonicalize(out)

"""Action-profile members and groups in the same canonical, keyed form as table entries.

Next-hop groups are action-selector groups (hpn.pipeline.load_balancing), so a push also
reconciles the members and groups of the selector. Each is an `Encoded` whose `entity`
says which P4Runtime Entity field it is, whose `table_id` is its action profile, and
whose key is the entity kind followed by the serialized (profile id, member or group id):
a member and a group with the same number are different keys.

Canonical form: a member's action as for table entries (canonical bytestrings, params by
id); a group's members sorted by member id, with weight 1 and watch ports canonical, and
`max_size` dropped (it cannot be modified, and servers answer it as they like).

Groups are *compared* without their watch ports: PI (the P4Runtime server of bmv2, at
f96af95) answers a group read with the last member's watch port on every member
(`action_profile_group_read_one` in proto/frontend/src/device_mgr.cpp), although it
enforces each member's own. A group's `Encoded.data` is therefore its canonical form
without watch ports, and `Encoded.written` the bytes that are written, with them. Which port
a member watches is set by hpn.pipeline together with its member id (its own port), so
the member ids say all that the comparison needs.
"""

from __future__ import annotations

import finsy as fy
from finsy import P4Schema
from finsy.proto import p4r

from hpn.runtime import wire
from hpn.runtime.canonical import canonical_bytes, canonicalize_action

ProfileEntity = fy.P4ActionProfileMember | fy.P4ActionProfileGroup
ProfileMessage = p4r.ActionProfileMember | p4r.ActionProfileGroup


def canonical_member(member: p4r.ActionProfileMember) -> p4r.ActionProfileMember:
    """Normalise `member` in place and return it."""
    canonicalize_action(member.action)
    return member


def _member_id(member: p4r.ActionProfileGroup.Member) -> int:
    return int(member.member_id)


def canonical_group(group: p4r.ActionProfileGroup) -> p4r.ActionProfileGroup:
    """Normalise `group` in place and return it."""
    group.ClearField("max_size")
    members = []
    for m in sorted(group.members, key=_member_id):
        copy = p4r.ActionProfileGroup.Member(member_id=m.member_id, weight=m.weight or 1)
        if m.WhichOneof("watch_kind") == "watch_port":
            copy.watch_port = canonical_bytes(m.watch_port)
        elif m.WhichOneof("watch_kind") == "watch" and m.watch:
            copy.watch = m.watch
        members.append(copy)
    del group.members[:]
    group.members.extend(members)
    return group


def _key(entity: int, profile_id: int, number: int) -> bytes:
    """Entity kind, then the fields that name the member or group on the switch."""
    return bytes([entity]) + wire.TABLE_ID + wire.varint(profile_id) + b"\x10" + wire.varint(number)


def _without_watch(group: p4r.ActionProfileGroup) -> bytes:
    copy = p4r.ActionProfileGroup()
    copy.CopyFrom(group)
    for m in copy.members:
        m.ClearField("watch_kind")  # type: ignore[arg-type]
    return bytes(copy.SerializeToString(deterministic=True))


def encode_profile_message(message: ProfileMessage) -> tuple[int, bytes, bytes, int, bytes]:
    """(profile id, key, canonical data, entity field, bytes to write) of a canonical
    member or group (for a member the bytes to write are its data)."""
    written = bytes(message.SerializeToString(deterministic=True))
    if isinstance(message, p4r.ActionProfileMember):
        entity, number, data = wire.ENTITY_MEMBER, message.member_id, written
    else:
        entity, number, data = wire.ENTITY_GROUP, message.group_id, _without_watch(message)
    profile = int(message.action_profile_id)
    return profile, _key(entity, profile, int(number)), data, entity, written


def encode_profile_entity(entity: ProfileEntity, schema: P4Schema) -> tuple[int, bytes, bytes, int, bytes]:
    """A finsy member or group, encoded (ValueError naming what is wrong)."""
    if not entity.action_profile_id:
        raise ValueError(f"desired {type(entity).__name__} without an action profile")
    try:
        message = entity.encode(schema)
    except Exception as ex:  # finsy raises lookup and value errors of its own types
        raise ValueError(f"{type(entity).__name__} {entity.action_profile_id}: {ex}") from ex
    if isinstance(entity, fy.P4ActionProfileMember):
        return encode_profile_message(canonical_member(message.action_profile_member))
    return encode_profile_message(canonical_group(message.action_profile_group))


def decode_profile_bytes(entity: int, data: bytes) -> tuple[int, bytes, bytes, int, bytes]:
    """A member or group read back from a switch (`entity` is its Entity field)."""
    if entity == wire.ENTITY_MEMBER:
        member = p4r.ActionProfileMember()
        member.ParseFromString(data)
        return encode_profile_message(canonical_member(member))
    group = p4r.ActionProfileGroup()
    group.ParseFromString(data)
    return encode_profile_message(canonical_group(group))


def parse_profile_message(entity: int, data: bytes) -> ProfileMessage:
    message: ProfileMessage = (
        p4r.ActionProfileMember() if entity == wire.ENTITY_MEMBER else p4r.ActionProfileGroup()
    )
    message.ParseFromString(data)
    return message


def describe_profile(message: ProfileMessage, schema: P4Schema) -> str:
    """`member <profile> #id` or `group <profile> #id`."""
    profile = schema.action_profiles.get(message.action_profile_id)
    name = profile.name if profile is not None else f"action_profile#{message.action_profile_id}"
    if isinstance(message, p4r.ActionProfileMember):
        return f"member {name} #{message.member_id}"
    return f"group {name} #{message.group_id}"


def describe_group_members(group: p4r.ActionProfileGroup) -> str:
    """`members(3, 5 watch 4, ...)` for messages about a group update."""
    parts = []
    for m in group.members:
        watch = ""
        if m.WhichOneof("watch_kind") == "watch_port":
            watch = f" watch {int.from_bytes(m.watch_port, 'big')}"
        parts.append(f"{m.member_id}{watch}")
    return f"members({', '.join(parts)})"


def release_before_removal(desired: bytes, current: bytes) -> bytes | None:
    """The group to write first when `desired` (bytes to write) drops members that the
    switch's `current` group (as read back) holds: the current members, those staying with
    their desired watch ports and those leaving without one. None when no member leaves.

    PI (f96af95) throws from a group MODIFY that removes a member with a watch port
    (`group_update_members` in proto/frontend/src/action_prof_mgr.cpp reads the member's
    entry after erasing it) and answers "Unexpected error in RPC handling". Removing a
    member without a watch port works, so the member's watch goes first, in the update
    right before the one that removes it. The first write keeps the current member set, so
    it never exceeds the group's size.
    """
    want = p4r.ActionProfileGroup()
    want.ParseFromString(desired)
    have = p4r.ActionProfileGroup()
    have.ParseFromString(current)
    staying = {m.member_id: m for m in want.members}
    current_ids = sorted(m.member_id for m in have.members)
    if all(member_id in staying for member_id in current_ids):
        return None
    release = p4r.ActionProfileGroup(action_profile_id=want.action_profile_id, group_id=want.group_id)
    for member_id in current_ids:
        kept = staying.get(member_id)
        if kept is not None:
            release.members.append(kept)
        else:
            release.members.append(p4r.ActionProfileGroup.Member(member_id=member_id, weight=1))
    return bytes(canonical_group(release).SerializeToString(deterministic=True))

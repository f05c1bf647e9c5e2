"""Entities of the load-balancing control: switch LB params, members, bucket groups.

A next-hop group becomes (p4src/v1model/control/load_balancing.p4):
- an `lb_group` entry: mode, bucket mask and bucket bits, and the switch's LB parameters
  (seed, flowlet gap, load window, congestion threshold), repeated in every group so that
  bmv2 looks them up with the group;
- one action-selector group per bucket, holding the bucket's pair of members, each
  watching its own port (the switch drops a member whose port goes down by itself), plus,
  on bmv2, the sentinel member that keeps a group from ever having no live member;
- one `next_hop` entry per bucket pointing at that selector group.
Members are shared: one per port (`set_egress_port(port)`), plus the sentinel, which is
written before every other member: bmv2 then gives it the lowest handle, the first place
in every group, which the program's pick relies on (load_balancing.p4).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import finsy as fy

from hpn.pipeline import names
from hpn.pipeline.buckets import MAX_BUCKET_BITS, BucketLayout, layout
from hpn.pipeline.targets import Target
from hpn.routing.state import Group, LbMode, LbParams

SENTINEL_MEMBER_ID = 1
"""Member id of `no_live_member` (bmv2 only)."""
MAX_BUCKETS = 1 << MAX_BUCKET_BITS


def member_id(port: int) -> int:
    """Action-profile member id of the member that sends to `port`."""
    return port + 2


def selector_group_id(group_id: int, bucket: int) -> int:
    """Action-profile group id of bucket `bucket` of next-hop group `group_id`."""
    return group_id * MAX_BUCKETS + bucket + 1


def sbox_words(seed: int) -> list[int]:
    """The 256 words of Tofino's seed_sbox, one per hash byte: derived from the seed
    alone, so one seed always gives one switch the same hashing. The low byte is XORed
    into the hash byte before it is masked to a bucket, the high half into the pick."""
    return _seed_words(seed, b"")


def premix_words(seed: int) -> list[int]:
    """The 256 words of the TNA program's seed_premix (hpn.paths models it), one per CRC8
    byte of a flow: from the seed alone, apart from the sbox's words."""
    return _seed_words(seed, b"premix")


def _seed_words(seed: int, tag: bytes) -> list[int]:
    """256 32-bit words that only `seed` and `tag` decide."""
    return [
        int.from_bytes(
            hashlib.blake2b(seed.to_bytes(8, "big") + tag + bytes([i]), digest_size=4).digest(), "big"
        )
        for i in range(256)
    ]


def sbox_bucket(hash_byte: int, word: int, bits: int, alternate: int) -> int:
    """The bucket seed_sbox gives a hash byte: mixed with the seed's word, moved to the
    neighbouring bucket when the flowlet was moved (ADAPTIVE), masked to the group's
    2^bits buckets; as bmv2's `(x ^ alternate) & mask`."""
    return (hash_byte ^ (word & 0xFF) ^ alternate) & ((1 << bits) - 1)


def seed_entries(params: LbParams, groups: Iterable[Group], target: Target) -> list[fy.P4TableEntry]:
    """Tofino's seed_premix entries, and its seed_sbox entries for each bucket width the
    switch's groups use (bmv2 mixes the seed arithmetically: none)."""
    return premix_entries(params, target) + sbox_entries(params, groups, target)


def premix_entries(params: LbParams, target: Target) -> list[fy.P4TableEntry]:
    """Tofino's seed_premix: one entry per CRC8 byte, from the seed alone (no group changes it)."""
    if target is not Target.TOFINO:
        return []
    table = target.qualify(names.SEED_PREMIX.name)
    action = target.qualify(next(iter(names.SEED_PREMIX.actions)))
    return [
        fy.P4TableEntry(table, match=fy.P4TableMatch(hash_byte=h), action=fy.P4TableAction(action, word=word))
        for h, word in enumerate(premix_words(params.hash_seed & 0xFFFFFFFF))
    ]


def sbox_entries(params: LbParams, groups: Iterable[Group], target: Target) -> list[fy.P4TableEntry]:
    """Tofino's seed_sbox entries for each bucket width `groups` use."""
    if target is not Target.TOFINO:
        return []
    table = target.qualify(names.SEED_SBOX.name)
    action = target.qualify(next(iter(names.SEED_SBOX.actions)))
    words = sbox_words(params.hash_seed & 0xFFFFFFFF)
    widths = sorted({group_layout(g).bits for g in groups})
    return [
        fy.P4TableEntry(
            table,
            match=fy.P4TableMatch(hash_byte=h, bits=bits, alternate=alternate),
            action=fy.P4TableAction(
                action, bucket=sbox_bucket(h, word, bits, alternate), pick_word=word >> 16
            ),
        )
        for bits in widths
        for alternate in (0, 1)
        for h, word in enumerate(words)
    ]


def member_entries(ports: Iterable[int], target: Target) -> list[fy.P4ActionProfileMember]:
    """One member per port that some group uses, and the sentinel first on bmv2."""
    profile = target.qualify(names.NH_SELECTOR)
    members: list[fy.P4ActionProfileMember] = []
    if target.has_sentinel:
        members.append(
            fy.P4ActionProfileMember(
                profile,
                member_id=SENTINEL_MEMBER_ID,
                action=fy.P4TableAction(target.qualify(names.NO_LIVE_MEMBER)),
            )
        )
    for port in sorted(set(ports)):
        members.append(
            fy.P4ActionProfileMember(
                profile,
                member_id=member_id(port),
                action=fy.P4TableAction(target.qualify(names.SET_EGRESS_PORT), port=port),
            )
        )
    return members


def group_layout(group: Group) -> BucketLayout:
    return layout(group.ports, group.intact)


def selector_groups(group: Group, target: Target) -> list[fy.P4ActionProfileGroup]:
    """The bucket groups of `group`: each pair member watches its port."""
    profile = target.qualify(names.NH_SELECTOR)
    sentinel = [fy.P4Member(SENTINEL_MEMBER_ID, weight=1)] if target.has_sentinel else []
    return [
        fy.P4ActionProfileGroup(
            profile,
            group_id=selector_group_id(group.group_id, bucket),
            max_size=target.group_size,
            members=[*sentinel, *(fy.P4Member(member_id(p), weight=(1, p)) for p in pair)],
        )
        for bucket, pair in enumerate(group_layout(group).pairs)
    ]


def group_entries(
    group: Group, target: Target, params: LbParams, *, track_load: bool
) -> list[fy.P4TableEntry]:
    """`lb_group` (with the switch-wide parameters; `track_load` when any group of the
    switch is ADAPTIVE) and the per-bucket `next_hop` entries."""
    buckets = group_layout(group)
    entries = [
        fy.P4TableEntry(
            target.qualify(names.LB_GROUP.name),
            match=fy.P4TableMatch(group_id=group.group_id),
            action=fy.P4TableAction(
                target.qualify(next(iter(names.LB_GROUP.actions))),
                lb_mode=int(group.mode),
                mask=buckets.mask,
                bits=buckets.bits,
                seed=params.hash_seed & 0xFFFFFFFF,
                flowlet_gap_time=target.time_units(params.flowlet_gap_us),
                load_window_time=target.time_units(params.load_window_us),
                congested=min(params.congested_bytes, 0xFFFFFFFF),
                track=int(track_load),
            ),
        )
    ]
    entries.extend(
        fy.P4TableEntry(
            target.qualify(names.NEXT_HOP.name),
            match=fy.P4TableMatch(group_id=group.group_id, bucket=bucket),
            action=fy.P4IndirectAction(group_id=selector_group_id(group.group_id, bucket)),
        )
        for bucket in range(len(buckets.pairs))
    )
    return entries


def tracks_load(groups: Iterable[Group]) -> bool:
    """Whether the switch must keep per-port load (only ADAPTIVE groups read it)."""
    return any(g.mode is LbMode.ADAPTIVE for g in groups)

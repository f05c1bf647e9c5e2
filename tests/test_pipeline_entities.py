"""Entity building against the committed P4Infos: names checked, values encoded, the
bucket groups as the data plane expects them, on both targets."""

from __future__ import annotations

import dataclasses
from collections import Counter
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import finsy as fy
import pytest

from hpn.params import GATEWAY_IP
from hpn.pipeline import (
    Entity,
    PipelineMismatch,
    Target,
    check_schema,
    load_target_schema,
    names,
    switch_entities,
)
from hpn.pipeline.buckets import intact_layout
from hpn.pipeline.load_balancing import SENTINEL_MEMBER_ID, member_id, sbox_words, selector_group_id
from hpn.pipeline.p4info import P4INFO_PATH
from hpn.pipeline.values import mac_to_int, pmax_scaled
from hpn.routing.state import EcnConfig, Group, LbMode, LbParams, PortConfig, Route, SwitchState

ECN = EcnConfig(10, 70, 0.2)
TARGETS = [Target.BMV2, Target.TOFINO]


def sample_state() -> SwitchState:
    ports = tuple(
        PortConfig(
            port=p, plane=p // 4, peer=f"peer{p}", neighbor_mac=f"02:00:00:00:01:{p:02x}", speed_gbps=400
        )
        for p in range(8)
    )
    return SwitchState(
        name="tor-s0-r0-p0",
        switch_mac="02:00:00:00:00:fe",
        routes=(Route(0, IPv4Network("10.1.0.0/24"), 1), Route(1, IPv4Network("10.1.0.0/24"), 2)),
        groups=(
            Group(1, LbMode.FLOWLET, frozenset({0, 1, 2, 3})),
            Group(2, LbMode.SPRAY, frozenset({6, 7})),
        ),
        ports=(*ports[:2], PortConfig(2, 0, "x", "02:00:00:00:01:02", 400, ECN), *ports[3:]),
        lb=LbParams(hash_seed=7, flowlet_gap_us=50, load_window_us=100),
        gateway_ips=(GATEWAY_IP,),
    )


def by_kind(entities: list[object]) -> dict[type, list[object]]:
    out: dict[type, list[object]] = {}
    for e in entities:
        out.setdefault(type(e), []).append(e)
    return out


@pytest.mark.parametrize("target", TARGETS)
def test_committed_p4info_matches_pipeline_names(target: Target) -> None:
    schema = load_target_schema(target)
    for table in target.tables:
        assert schema.tables[target.qualify(table.name)].name == target.qualify(table.name)


def test_renamed_table_fails_loudly(tmp_path: Path) -> None:
    renamed = tmp_path / "renamed.p4info.txtpb"
    renamed.write_text(P4INFO_PATH.read_text().replace("routing.ipv4_lpm", "routing.ipv4_routes"))
    with pytest.raises(PipelineMismatch, match=r"table HpnIngress\.routing\.ipv4_lpm is missing"):
        check_schema(fy.P4Schema(renamed))


@pytest.mark.parametrize("target", TARGETS)
def test_every_entity_encodes_against_its_targets_p4info(target: Target) -> None:
    schema = load_target_schema(target)
    entities = switch_entities(sample_state(), target)
    for e in entities:
        e.encode(schema)  # raises on any unknown name or bad value
    used = {e.table_id for e in entities if isinstance(e, fy.P4TableEntry)}
    assert {target.qualify(t.name) for t in target.tables} == used  # every table gets entries


@pytest.mark.parametrize("target", TARGETS)
def test_members_come_before_groups_and_groups_before_the_entries_that_use_them(target: Target) -> None:
    entities = switch_entities(sample_state(), target)
    kinds = [type(e).__name__ for e in entities]
    last_member = max(i for i, k in enumerate(kinds) if k == "P4ActionProfileMember")
    first_group = kinds.index("P4ActionProfileGroup")
    last_group = max(i for i, k in enumerate(kinds) if k == "P4ActionProfileGroup")
    first_indirect = min(
        i
        for i, e in enumerate(entities)
        if isinstance(e, fy.P4TableEntry) and isinstance(e.action, fy.P4IndirectAction)
    )
    assert last_member < first_group and last_group < first_indirect


@pytest.mark.parametrize("target", TARGETS)
def test_each_bucket_is_a_selector_group_of_its_pair_each_watching_its_port(target: Target) -> None:
    state = sample_state()
    groups = [e for e in switch_entities(state, target) if isinstance(e, fy.P4ActionProfileGroup)]
    layout = intact_layout({0, 1, 2, 3})
    assert len(groups) == len(layout.pairs) + 1  # group 2 (two members) is one bucket
    for bucket, pair in enumerate(layout.pairs):
        group = next(g for g in groups if g.group_id == selector_group_id(1, bucket))
        watched = {(m.member_id, m.weight) for m in group.members or [] if m.member_id != SENTINEL_MEMBER_ID}
        assert watched == {(member_id(p), (1, p)) for p in pair}
        sentinel = [m for m in group.members or [] if m.member_id == SENTINEL_MEMBER_ID]
        assert len(sentinel) == (1 if target.has_sentinel else 0)
        if sentinel:
            assert sentinel[0].weight == 1  # no watch port: it never leaves selection


@pytest.mark.parametrize("target", TARGETS)
def test_next_hop_entries_point_each_bucket_at_its_group(target: Target) -> None:
    entries = [e for e in switch_entities(sample_state(), target) if isinstance(e, fy.P4TableEntry)]
    tables = Counter(e.table_id for e in entries if isinstance(e.action, fy.P4IndirectAction))
    buckets = len(intact_layout({0, 1, 2, 3}).pairs) + 1
    assert tables[target.qualify(names.NEXT_HOP.name)] == buckets
    for e in entries:
        if e.table_id == target.qualify(names.NEXT_HOP.name):
            match = dict(e.match or {})
            assert isinstance(e.action, fy.P4IndirectAction)
            assert e.action.group_id == selector_group_id(int(match["group_id"]), int(match["bucket"]))


def test_lb_group_gives_mode_mask_and_bits() -> None:
    entries = [e for e in switch_entities(sample_state()) if isinstance(e, fy.P4TableEntry)]
    lb = {dict(e.match or {})["group_id"]: e.action for e in entries if e.table_id == names.LB_GROUP.name}
    one = lb[1]
    assert isinstance(one, fy.P4TableAction)
    bits = intact_layout({0, 1, 2, 3}).bits
    args = dict(one.args)
    assert (args["lb_mode"], args["mask"], args["bits"]) == (int(LbMode.FLOWLET), (1 << bits) - 1, bits)
    assert args["track"] == 0  # no ADAPTIVE group on this switch


def test_times_are_converted_to_each_targets_timestamp_unit() -> None:
    state = sample_state()
    for target, gap in ((Target.BMV2, 50), (Target.TOFINO, round(50_000 / 1024))):
        table = target.qualify(names.LB_GROUP.name)
        groups = [
            e
            for e in switch_entities(state, target)
            if isinstance(e, fy.P4TableEntry) and e.table_id == table
        ]
        assert groups
        for entry in groups:
            assert isinstance(entry.action, fy.P4TableAction)
            assert entry.action.args["flowlet_gap_time"] == gap
            assert entry.action.args["seed"] == 7


def tofino_sbox(state: SwitchState) -> dict[tuple[int, int, int], tuple[int, int]]:
    """(hash byte, bits, alternate) -> (bucket, pick word) of the state's seed_sbox."""
    out = {}
    for e in switch_entities(state, Target.TOFINO):
        if isinstance(e, fy.P4TableEntry) and e.table_id == names.SEED_SBOX.name:
            m = dict(e.match or {})
            assert isinstance(e.action, fy.P4TableAction)
            args = dict(e.action.args)
            out[m["hash_byte"], m["bits"], m["alternate"]] = (args["bucket"], args["pick_word"])
    return out


def test_tofino_seed_sbox_gives_each_width_its_buckets_and_the_alternate_next_door() -> None:
    state = sample_state()
    widths = {intact_layout(set(g.ports)).bits for g in state.groups}
    sbox = tofino_sbox(state)
    assert len(sbox) == 256 * 2 * len(widths)  # only the widths this switch's groups use
    assert not [e for e in switch_entities(state) if getattr(e, "table_id", "") == names.SEED_SBOX.name]
    for (h, bits, alternate), (bucket, _) in sbox.items():
        assert bits in widths and 0 <= bucket < (1 << bits)
        if alternate and bits:
            assert bucket == sbox[h, bits, 0][0] ^ 1  # ADAPTIVE's bucket ^ 1, as on bmv2
    wide = max(widths)
    # every bucket is reachable, and the seed (alone) decides which hash bytes land where
    assert {sbox[h, wide, 0][0] for h in range(256)} == set(range(1 << wide))
    reseeded = tofino_sbox(dataclasses.replace(state, lb=dataclasses.replace(state.lb, hash_seed=8)))
    assert tofino_sbox(sample_state()) == sbox != reseeded
    assert sbox_words(7) == sbox_words(7) != sbox_words(8)


def test_tofino_seed_premix_gives_every_second_hash_byte_a_word_of_the_seed() -> None:
    """seed_premix: one word per CRC8 byte of a flow, from the seed alone, so that two
    switches' words differ and flows whose CRC32 bytes agree do not share a bucket on
    every switch (bmv2 needs none: its multiply mixes the seed)."""

    def premix(state: SwitchState) -> dict[int, int]:
        out = {}
        for e in switch_entities(state, Target.TOFINO):
            if isinstance(e, fy.P4TableEntry) and e.table_id == names.SEED_PREMIX.name:
                assert isinstance(e.action, fy.P4TableAction)
                out[dict(e.match or {})["hash_byte"]] = dict(e.action.args)["word"]
        return out

    state = sample_state()
    words = premix(state)
    assert sorted(words) == list(range(256))
    assert len(set(words.values())) > 250, "the words differ from byte to byte"
    reseeded = premix(dataclasses.replace(state, lb=dataclasses.replace(state.lb, hash_seed=8)))
    assert sum(words[h] != reseeded[h] for h in range(256)) > 250, "another seed, other words"
    assert words == premix(sample_state()), "one seed, one set of words"
    assert not [e for e in switch_entities(state) if getattr(e, "table_id", "") == names.SEED_PREMIX.name]


def test_value_conversions_reject_bad_input() -> None:
    assert mac_to_int("02:00:00:00:00:01") == 0x020000000001
    with pytest.raises(ValueError, match="not a MAC"):
        mac_to_int("02:00:00:00:01")
    assert pmax_scaled(0.5) == 32768
    with pytest.raises(ValueError, match="pmax"):
        pmax_scaled(1.5)


def _punted(entities: list[Entity]) -> set[int]:
    return {
        dict(e.match or {})["ether_type"]
        for e in entities
        if isinstance(e, fy.P4TableEntry) and e.table_id == names.CPU_PUNT.name
    }


def test_cpu_path_entries_punt_the_probe_and_lldp_and_answer_arp_on_tors_only() -> None:
    """Every switch punts LLDP and the link probe; a ToR also the ARP its gateway entry
    leaves unanswered (the hosts' replies to the host probes), and answers ARP for its
    hosts' gateway with its own MAC; an agg answers and punts no ARP."""
    tor = switch_entities(sample_state())
    assert _punted(tor) == {0x88CC, 0x88B5, 0x0806}
    arp = [e for e in tor if isinstance(e, fy.P4TableEntry) and e.table_id == names.GATEWAY_ARP.name]
    assert len(arp) == 1
    assert dict(arp[0].match or {})["target_ip"] == int(IPv4Address(GATEWAY_IP))
    assert isinstance(arp[0].action, fy.P4TableAction)
    assert dict(arp[0].action.args)["gateway_mac"] == 0x0200000000FE
    agg = switch_entities(dataclasses.replace(sample_state(), gateway_ips=()))
    assert not [e for e in agg if getattr(e, "table_id", "") == names.GATEWAY_ARP.name]
    assert _punted(agg) == {0x88CC, 0x88B5}

"""Entity building against the committed P4Info: names checked, values encoded."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

import finsy as fy
import pytest

from hpn.pipeline import PipelineMismatch, check_schema, load_schema, names, switch_entities
from hpn.pipeline.p4info import P4INFO_PATH
from hpn.pipeline.values import mac_to_int, mask_ports, pmax_scaled, port_mask
from hpn.routing.state import EcnConfig, Group, LbMode, LbParams, PortConfig, Route, SwitchState

ECN = EcnConfig(10, 70, 0.2)


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
        groups=(Group(1, LbMode.FLOWLET, frozenset({2, 3})), Group(2, LbMode.SPRAY, frozenset({6, 7}))),
        ports=(
            *ports[:2],
            PortConfig(2, 0, "x", "02:00:00:00:01:02", 400, EcnConfig(10, 70, 0.2)),
            *ports[3:],
        ),
        lb=LbParams(hash_seed=7, flowlet_gap_us=50, load_window_us=100),
        live_ports=frozenset({0, 1, 2, 4, 5, 6, 7}),
    )


def test_committed_p4info_matches_pipeline_names() -> None:
    schema = load_schema()
    for table in names.ALL_TABLES:
        assert schema.tables[table.name].name == table.name


def test_renamed_table_fails_loudly(tmp_path: Path) -> None:
    renamed = tmp_path / "renamed.p4info.txtpb"
    renamed.write_text(P4INFO_PATH.read_text().replace("routing.ipv4_lpm", "routing.ipv4_routes"))
    schema = fy.P4Schema(renamed)
    with pytest.raises(PipelineMismatch, match=r"table HpnIngress\.routing\.ipv4_lpm is missing"):
        check_schema(schema)


def test_every_entity_encodes_against_p4info() -> None:
    schema = load_schema()
    entities = switch_entities(sample_state())
    encoded = [e.encode(schema).table_entry for e in entities]
    tables = {schema.tables[e.table_id].name for e in encoded}
    assert tables == {t.name for t in names.ALL_TABLES}
    # 2 defaults + 2 planes + 8 ports x (plane, mac, int) + 1 ecn + 2 groups + 2 routes
    assert len(encoded) == 2 + 2 + 8 * 3 + 1 + 2 + 2


def test_group_member_mask_and_liveness_bits() -> None:
    schema = load_schema()
    state = sample_state()
    by_table: dict[str, list[fy.P4TableEntry]] = {}
    for e in switch_entities(state):
        by_table.setdefault(e.table_id, []).append(e)
    group = by_table[names.GROUP_TABLE.name][0].encode(schema).table_entry
    params = {p.param_id: int.from_bytes(p.value, "big") for p in group.action.action.params}
    assert mask_ports(params[2]) == {2, 3}
    assert params[1] == LbMode.FLOWLET
    live = by_table[names.PORT_LIVENESS.name][0].encode(schema).table_entry
    assert live.is_default_action
    assert mask_ports(int.from_bytes(live.action.action.params[0].value, "big")) == state.live_ports


def test_value_conversions_reject_bad_input() -> None:
    assert mac_to_int("02:00:00:00:00:01") == 0x020000000001
    with pytest.raises(ValueError, match="not a MAC"):
        mac_to_int("02:00:00:00:01")
    with pytest.raises(ValueError, match="port 256 cannot be in a port mask"):
        port_mask([1, 256])
    assert port_mask([0, 255]) == 1 | (1 << 255)
    assert pmax_scaled(0.5) == 32768
    with pytest.raises(ValueError, match="pmax"):
        pmax_scaled(1.5)

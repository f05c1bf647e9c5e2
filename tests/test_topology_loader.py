"""Topology loading: shipped files load, and each kind of mistake is named with file, path and problem."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpn.topology import Fabric, NicPort, Role, SwitchPort, TopologyError, load_fabric, load_fabric_text
from hpn.topology.model import MAX_FABRIC_PORT, UPLINK_PORT_BASE
from hpn.topology.validate import check_fabric

TOPOLOGIES = Path(__file__).resolve().parent.parent / "topologies"
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def pod() -> Fabric:
    return load_fabric(TOPOLOGIES / "hpn-pod.yaml")


def _doc(name: str) -> Doc:
    data = yaml.safe_load((TOPOLOGIES / name).read_text())
    assert isinstance(data, dict)
    return data


def _write(tmp_path: Path, doc: Doc, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _error(tmp_path: Path, doc: Doc) -> tuple[Path, str]:
    path = _write(tmp_path, doc)
    with pytest.raises(TopologyError) as info:
        load_fabric(path)
    assert info.value.file == str(path)
    return path, str(info.value)


# -- shipped topologies ----------------------------------------------------------------


def test_pod_has_the_hpn_counts(pod: Fabric) -> None:
    assert pod.gpu_count == 15_360
    assert len(pod.tors()) == 240
    assert len(pod.aggs()) == 120
    assert len(pod.hosts) == 15 * 128
    assert pod.planes == (0, 1)
    assert all(len(pod.aggs(p)) == 60 for p in (0, 1))
    # every ToR: 128 host ports and 60 uplinks, all usable as group members
    for tor in pod.tors():
        ports = pod.switch_ports(tor.name)
        assert len(ports) == 188
        assert max(ports) <= MAX_FABRIC_PORT
    for agg in pod.aggs():
        assert len(pod.switch_ports(agg.name)) == 120  # every ToR of its plane


def test_pod_wiring_follows_hpn(pod: Fabric) -> None:
    host = pod.host("host-s3-h17")
    for nic in host.nics:
        assert str(nic.ip) == f"10.3.{nic.rail}.18"
        for port in (0, 1):
            tor = pod.nic_switch_port(NicPort(host.name, nic.rail, port))
            assert tor == SwitchPort(f"tor-s3-r{nic.rail}-p{port}", 18)
            assert pod.switch(tor.switch).plane == port
    assert pod.peer("tor-s3-r5-p1", UPLINK_PORT_BASE + 7) == SwitchPort("agg-p1-a7", 1 + 3 * 8 + 5)


def test_generated_fabrics_pass_the_explicit_checks(pod: Fabric) -> None:
    assert check_fabric(pod) == []
    for name in ("hpn-mini.yaml", "hpn-mini-merged.yaml"):
        assert check_fabric(load_fabric(TOPOLOGIES / name)) == []


def test_mini_and_merged_mini() -> None:
    mini = load_fabric(TOPOLOGIES / "hpn-mini.yaml")
    merged = load_fabric(TOPOLOGIES / "hpn-mini-merged.yaml")
    for fabric in (mini, merged):
        assert (fabric.gpu_count, len(fabric.tors()), len(fabric.aggs())) == (8, 8, 4)
    assert mini.planes == (0, 1) and not mini.planes_merged
    assert merged.planes == (0,) and merged.planes_merged
    # merged: every ToR reaches every agg; dual-plane: only its plane's two
    assert all(len(mini.switch_ports(t.name)) == 2 + 2 for t in mini.tors())
    assert all(len(merged.switch_ports(t.name)) == 2 + 4 for t in merged.tors())


def test_rig4() -> None:
    rig = load_fabric(TOPOLOGIES / "rig-4.yaml")
    assert [s.role for s in rig.switches] == [Role.TOR, Role.TOR, Role.AGG, Role.AGG]
    assert [s.grpc_port for s in rig.switches] == [50001, 50002, 50003, 50004]
    assert rig.gpu_count == 2 and len(rig.links) == 6
    assert rig.nic("h1", 0) is not None and rig.nic("h1", 0).mac == "02:00:0a:01:00:01"  # type: ignore[union-attr]


def test_switch_identities_are_unique_and_deterministic(pod: Fabric) -> None:
    again = load_fabric(TOPOLOGIES / "hpn-pod.yaml")
    assert [(s.name, s.device_id, s.grpc_port, s.mac) for s in pod.switches] == [
        (s.name, s.device_id, s.grpc_port, s.mac) for s in again.switches
    ]
    for attr in ("name", "device_id", "grpc_port", "mac"):
        assert len({getattr(s, attr) for s in pod.switches}) == len(pod.switches)
    assert pod.switch("tor-s0-r0-p0").grpc_port == 50001


# -- schema errors ---------------------------------------------------------------------------


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        node: Any = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return apply


def _drop(path: tuple[str | int, ...]) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        node: Any = doc
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return apply


RIG_ERRORS = [
    ("unknown top key", _set(("planez",), 2), "planez: unknown key 'planez'"),
    (
        "unknown nested key",
        _set(("hosts", 0, "nics", 0, "ipp"), 1),
        "hosts[0].nics[0].ipp: unknown key 'ipp'",
    ),
    (
        "bad type",
        _set(("switches", 2, "device_id"), "three"),
        "switches[2].device_id: Input should be a valid integer",
    ),
    ("bad address", _set(("hosts", 0, "nics", 0, "ip"), "10.0.0.300"), "hosts[0].nics[0].ip:"),
    (
        "address not a string",
        _set(("hosts", 0, "nics", 0, "ip"), 167772161),
        "hosts[0].nics[0].ip: expected a string",
    ),
    ("bad MAC", _set(("switches", 0, "mac"), "02:00"), "switches[0].mac: '02:00' is not a MAC address"),
    ("missing key", _drop(("switches", 1, "role")), "switches[1].role: required key is missing"),
    ("bad role", _set(("switches", 1, "role"), "spine"), "switches[1].role: Input should be 'tor' or 'agg'"),
    (
        "plane out of range",
        _set(("switches", 0, "plane"), 4),
        "switches[0].plane: Input should be less than or equal",
    ),
    ("speed", _set(("links", 2, "gbps"), 40), "links[2].gbps: link speed 40 Gb/s has no HPCC rate index"),
    (
        "link end without rail",
        _drop(("links", 1, "a", "rail")),
        "links[1].a: a host end needs 'rail'",
    ),
    (
        "link end with both kinds",
        _set(("links", 1, "a", "switch"), "tor1"),
        "links[1].a: a link end names exactly one of 'switch' or 'host'",
    ),
    ("ecn order", _set(("ecn", "kmin"), 500), "ecn: kmin (500) must not exceed kmax (80)"),
    ("bad kind", _set(("kind",), "clos"), "kind: expected one of ['explicit', 'hpn'], got 'clos'"),
]

RIG_WIRING_ERRORS = [
    ("dangling switch", _set(("links", 4, "b", "switch"), "tor-9"), "links[4].b: unknown switch 'tor-9'"),
    ("dangling host", _set(("links", 0, "a", "host"), "h7"), "links[0].a: unknown host 'h7'"),
    ("dangling NIC", _set(("links", 0, "a", "rail"), 3), "links[0].a.rail: host 'h0' has no NIC on rail 3"),
    ("NIC port number", _set(("links", 0, "a", "port"), 2), "links[0].a.port: NIC port 2 is not 0 or 1"),
    ("port range", _set(("links", 2, "a", "port"), 255), "links[2].a.port: port 255 is outside 0..254"),
    (
        "duplicate switch port",
        _set(("links", 5, "a", "port"), 129),
        "links[5].a: duplicate use of port tor1:129 (first at links[4].a)",
    ),
    (
        "duplicate NIC port",
        _set(("links", 1, "a"), {"host": "h0", "rail": 0, "port": 0}),
        "links[1].a: duplicate use of port h0/nic0/p0 (first at links[0].a)",
    ),
    (
        "duplicate IP",
        _set(("hosts", 1, "nics", 0, "ip"), "10.0.0.1"),
        "hosts[1].nics[0].ip: duplicate IP address 10.0.0.1 (first at hosts[0].nics[0].ip)",
    ),
    (
        "duplicate MAC",
        _set(("switches", 1, "mac"), "02:ff:00:00:00:01"),
        "switches[1].mac: duplicate MAC 02:ff:00:00:00:01 (first at switches[0].mac)",
    ),
    (
        "duplicate switch name",
        _set(("switches", 3, "name"), "agg0"),
        "switches[3].name: duplicate switch name 'agg0'",
    ),
    (
        "duplicate device id",
        _set(("switches", 3, "device_id"), 1),
        "switches[3].device_id: duplicate device_id 1",
    ),
    (
        "duplicate grpc port",
        _set(("switches", 1, "grpc_port"), 50001),
        "switches[1].grpc_port: duplicate grpc_port",
    ),
    (
        "address outside its subnet",
        _set(("hosts", 1, "nics", 0, "ip"), "10.2.0.1"),
        "hosts[1].nics[0].ip: 10.2.0.1 is outside 10.1.0.0/24, the subnet of segment 1 rail 0",
    ),
    (
        "ToR-ToR link",
        _set(("links", 5, "b"), {"switch": "tor0", "port": 131}),
        "links[5]: ToR-ToR link 'tor1'--'tor0'",
    ),
    (
        "host on an agg",
        _set(("links", 1, "b"), {"switch": "agg1", "port": 9}),
        "links[1].b: hosts attach to ToRs only; 'agg1' is an aggregation switch",
    ),
    (
        "host on another segment's ToR",
        _set(("links", 1, "b"), {"switch": "tor0", "port": 2}),
        "links[1].b: h1/nic0/p0 (segment 1, rail 0) is cabled to 'tor0' of segment 0 rail 0",
    ),
    (
        "ToR-agg link across planes",
        _set(("switches", 3, "plane"), 1),
        "links[3]: ToR-agg links must stay within a plane: 'tor0' is in plane 0, 'agg1' in plane 1",
    ),
    (
        "NIC port on the wrong plane",
        _set(("links", 1, "a", "port"), 1),
        "links[1].b: NIC port 1 must go to a plane-1 ToR; 'tor1' is in plane 0",
    ),
    ("ToR without segment", _drop(("switches", 0, "segment")), "switches[0]: ToR 'tor0' needs a segment"),
]


@pytest.mark.parametrize(("case", "mutate", "expected"), RIG_ERRORS + RIG_WIRING_ERRORS, ids=lambda v: v)
def test_explicit_errors_name_file_path_and_problem(
    tmp_path: Path, case: str, mutate: Callable[[Doc], None], expected: str
) -> None:
    doc = copy.deepcopy(_doc("rig-4.yaml"))
    mutate(doc)
    path, message = _error(tmp_path, doc)
    assert f"{path}: {expected}" in message, message
    assert "(line " in message  # where in the file


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    doc = copy.deepcopy(_doc("rig-4.yaml"))
    doc["links"][4]["b"]["switch"] = "tor-9"
    doc["links"][0]["a"]["host"] = "h7"
    doc["switches"][3]["grpc_port"] = 50001
    with pytest.raises(TopologyError) as info:
        load_fabric(_write(tmp_path, doc))
    assert len(info.value.problems) == 3
    assert len(str(info.value).splitlines()) == 3


def test_both_ports_of_a_nic_on_one_tor(tmp_path: Path) -> None:
    doc = copy.deepcopy(_doc("rig-4.yaml"))
    doc["planes_merged"] = True
    doc["links"].append({"a": {"host": "h0", "rail": 0, "port": 1}, "b": {"switch": "tor0", "port": 2}})
    path, message = _error(tmp_path, doc)
    assert f"{path}: links[6]: both ports of h0/nic0 go to 'tor0'" in message


def test_merged_fabric_switches_are_all_plane_zero(tmp_path: Path) -> None:
    doc = copy.deepcopy(_doc("rig-4.yaml"))
    doc["planes_merged"] = True
    doc["switches"][0]["plane"] = 1
    path, message = _error(tmp_path, doc)
    assert f"{path}: switches[0].plane: with planes_merged every switch is in plane 0" in message


def test_yaml_syntax_and_duplicate_keys(tmp_path: Path) -> None:
    bad = tmp_path / "syntax.yaml"
    bad.write_text("kind: hpn\nname: [x\n")
    with pytest.raises(TopologyError, match=rf"{re.escape(str(bad))}: not valid YAML: .*\(line \d+\)"):
        load_fabric(bad)
    dup = tmp_path / "dup.yaml"
    dup.write_text((TOPOLOGIES / "hpn-mini.yaml").read_text() + "rails: 4\n")
    with pytest.raises(TopologyError, match=rf"{re.escape(str(dup))}: rails: duplicate key \(line \d+\)"):
        load_fabric(dup)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match=r"nope\.yaml: cannot read the file"):
        load_fabric(tmp_path / "nope.yaml")
    with pytest.raises(TopologyError, match=r"list\.yaml: expected a mapping"):
        load_fabric_text("- 1\n- 2\n", "list.yaml")


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    doc = _doc("hpn-mini.yaml")
    doc["aggs_per_plan"] = doc.pop("aggs_per_plane")
    _, message = _error(tmp_path, doc)
    assert "aggs_per_plan: unknown key 'aggs_per_plan'" in message
    assert "did you mean 'aggs_per_plane'?" in message
    assert "aggs_per_plane: required key is missing" in message


HPN_ERRORS = [
    ("hosts_per_segment", 200, "hosts_per_segment: 200 hosts exceed the 128 ToR host ports"),
    ("aggs_per_plane", 127, "aggs_per_plane: each ToR would need 127 uplinks; ports allow 126"),
    ("segments", 40, "segments: 40 segments x 8 rails need 320 ToR ports on each aggregation switch"),
    ("planes", 3, "planes: Input should be less than or equal to 2"),
    ("rails", "8", "rails: Input should be a valid integer (got '8')"),
    ("segments", 0, "segments: Input should be greater than or equal to 1"),
]


@pytest.mark.parametrize(("key", "value", "expected"), HPN_ERRORS)
def test_parametric_errors(tmp_path: Path, key: str, value: Any, expected: str) -> None:
    doc = _doc("hpn-pod.yaml")
    doc[key] = value
    path, message = _error(tmp_path, doc)
    assert f"{path}: {expected}" in message, message


def test_parametric_address_space_and_merge_rules(tmp_path: Path) -> None:
    doc = _doc("hpn-pod.yaml")
    doc["addressing"]["base"] = "10.0.0.0/16"
    path, message = _error(tmp_path, doc)
    assert f"{path}: addressing.base: 10.0.0.0/16 is too small" in message
    assert "needs a /12 or shorter" in message

    doc = _doc("hpn-mini-merged.yaml")
    doc["planes"] = 1
    path, message = _error(tmp_path, doc)
    assert f"{path}: planes_merged: merging planes needs planes: 2" in message


def test_merged_pod_still_fits_the_port_scheme(tmp_path: Path) -> None:
    doc = _doc("hpn-pod.yaml")
    doc["planes_merged"] = True
    fabric = load_fabric(_write(tmp_path, doc, "merged.yaml"))
    assert fabric.planes == (0,)
    tor_ports = fabric.switch_ports("tor-s14-r7-p1")
    assert len(tor_ports) == 128 + 120 and max(tor_ports) == UPLINK_PORT_BASE + 119
    assert max(fabric.switch_ports("agg-p1-a59")) == 240

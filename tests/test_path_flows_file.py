"""The flows file: what it may hold, and every mistake named with its place and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpn.paths.flows_file import FlowsError, flows_from_text, load_flows
from hpn.paths.planner import FlowDemand
from hpn.topology.loader import load_fabric
from hpn.topology.model import Fabric

MINI = Path(__file__).resolve().parents[1] / "topologies" / "hpn-mini.yaml"


@pytest.fixture(scope="module")
def fabric() -> Fabric:
    return load_fabric(MINI)


def test_a_flows_file_gives_the_demands(fabric: Fabric) -> None:
    text = """
source_ports: {first: 50000, last: 50999}
flows:
  - {src: host-s0-h0/nic0, dst: host-s1-h0/nic0, size: 64MiB}
  - {src: 10.0.1.1, dst: 10.1.1.2, size: 1500, port: 1, qp: 17, dport: 4791}
  - {src: host-s0-h1/nic1, dst: host-s1-h1/nic1, size: 2.5KB}
"""
    spec = flows_from_text(text, fabric)
    assert spec.ports == range(50000, 51000)
    assert spec.demands == (
        FlowDemand(("host-s0-h0", 0), ("host-s1-h0", 0), 64 << 20),
        FlowDemand(("host-s0-h0", 1), ("host-s1-h1", 1), 1500, 1, 4791, 17),
        FlowDemand(("host-s0-h1", 1), ("host-s1-h1", 1), 2500),
    )


A_TO_B = "src: host-s0-h0/nic0, dst: host-s1-h0/nic0"


@pytest.mark.parametrize(
    ("flow", "message"),
    [
        (A_TO_B, "flows[0]: missing `size` (line 3)"),
        ("src: host-s0-h0/nic7, dst: host-s1-h0/nic0, size: 1", "flows[0].src: no NIC host-s0-h0/nic7"),
        ("src: 10.9.9.9, dst: host-s1-h0/nic0, size: 1", "flows[0].src: no NIC has address 10.9.9.9"),
        (
            "src: host-s0-h0, dst: host-s1-h0/nic0, size: 1",
            "flows[0].src: 'host-s0-h0': expected HOST/nicRAIL",
        ),
        (f"{A_TO_B}, size: 1 TB", "flows[0].size: '1 TB': expected a positive number of bytes"),
        (f"{A_TO_B}, size: 0", "flows[0].size: 0: expected a positive number of bytes"),
        (f"{A_TO_B}, size: 1, port: 2", "flows[0].port: 2: expected an integer 0..1"),
        (f"{A_TO_B}, size: 1, qp: -1", "flows[0].qp: -1: expected an integer"),
        ("src: host-s0-h0/nic0, dst: host-s0-h0/nic0, size: 1", "flows[0]: src and dst are the same NIC"),
        (f"{A_TO_B}, size: 1, sport: 5", "flows[0].sport: unknown key"),
    ],
)
def test_each_mistake_is_named_with_its_place(fabric: Fabric, flow: str, message: str) -> None:
    with pytest.raises(FlowsError) as err:
        flows_from_text(f"# a flows file\nflows:\n  - {{{flow}}}\n", fabric, "jobs.yaml")
    assert f"jobs.yaml: {message}" in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("flows: [", "jobs.yaml: not valid YAML"),
        ("[1, 2]", "jobs.yaml: expected a mapping with a `flows:` list"),
        ("flows: []", "jobs.yaml: flows: expected a non-empty list of flows (line 1)"),
        ("flows: [just a string]", "jobs.yaml: flows[0]: expected a mapping"),
        ("flow: []", "jobs.yaml: flow: unknown key"),
        ("flows: [{src: a/nic0, dst: b/nic0, size: 1}]\nflows: []", "duplicate key"),
        ("source_ports: {first: 9, last: 8}\nflows: []", "source_ports: expected ports 1 <= first <= last"),
    ],
)
def test_a_file_that_is_not_a_flows_file_says_why(fabric: Fabric, text: str, message: str) -> None:
    with pytest.raises(FlowsError) as err:
        flows_from_text(text, fabric, "jobs.yaml")
    assert message in str(err.value)


def test_every_problem_of_a_file_is_reported_at_once(fabric: Fabric) -> None:
    text = (
        "flows:\n"
        "  - {src: x/nic0, dst: host-s1-h0/nic0, size: 1}\n"
        "  - {src: host-s0-h0/nic0, dst: y/nic0, size: 1}\n"
    )
    with pytest.raises(FlowsError) as err:
        flows_from_text(text, fabric, "jobs.yaml")
    assert len(err.value.problems) == 2
    assert [p.line for p in err.value.problems] == [2, 3]


def test_an_unreadable_file_is_named(fabric: Fabric, tmp_path: Path) -> None:
    with pytest.raises(FlowsError, match=r"nope\.yaml: cannot read it"):
        load_flows(tmp_path / "nope.yaml", fabric)

"""Topologies that pass the wiring rules but cannot carry traffic are refused, naming the element."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpn.topology import TopologyError, load_fabric, load_fabric_text
from hpn.topology.connectivity import check_connectivity

TOPOLOGIES = Path(__file__).resolve().parent.parent / "topologies"
Doc = dict[str, Any]

# Two segments, one rail, two planes: each host's NIC port p on the plane-p ToR of its
# segment, each plane's two ToRs on that plane's one agg.
BASE = """\
kind: explicit
name: two-planes
switches:
  - {name: tor-a0, role: tor, plane: 0, segment: 0, rail: 0}
  - {name: tor-a1, role: tor, plane: 1, segment: 0, rail: 0}
  - {name: tor-b0, role: tor, plane: 0, segment: 1, rail: 0}
  - {name: tor-b1, role: tor, plane: 1, segment: 1, rail: 0}
  - {name: agg0, role: agg, plane: 0}
  - {name: agg1, role: agg, plane: 1}
hosts:
  - {name: h0, segment: 0, index: 0, nics: [{rail: 0, ip: 10.0.0.1}]}
  - {name: h1, segment: 1, index: 0, nics: [{rail: 0, ip: 10.1.0.1}]}
links:
  - {a: {host: h0, rail: 0, port: 0}, b: {switch: tor-a0, port: 1}, gbps: 200}
  - {a: {host: h0, rail: 0, port: 1}, b: {switch: tor-a1, port: 1}, gbps: 200}
  - {a: {host: h1, rail: 0, port: 0}, b: {switch: tor-b0, port: 1}, gbps: 200}
  - {a: {host: h1, rail: 0, port: 1}, b: {switch: tor-b1, port: 1}, gbps: 200}
  - {a: {switch: tor-a0, port: 129}, b: {switch: agg0, port: 1}}
  - {a: {switch: tor-b0, port: 129}, b: {switch: agg0, port: 2}}
  - {a: {switch: tor-a1, port: 129}, b: {switch: agg1, port: 1}}
  - {a: {switch: tor-b1, port: 129}, b: {switch: agg1, port: 2}}
"""


def _base() -> Doc:
    doc = yaml.safe_load(BASE)
    assert isinstance(doc, dict)
    return copy.deepcopy(doc)


def _link(doc: Doc, a: str, b: str) -> int:
    """Index of the link between two names (a host's name stands for its NIC port end)."""

    def end(e: dict[str, Any]) -> str:
        return str(e.get("switch") or f"{e['host']}/p{e['port']}")

    for i, link in enumerate(doc["links"]):
        if {end(link["a"]), end(link["b"])} == {a, b}:
            return i
    raise AssertionError(f"no link {a}--{b}")


def _without(*pairs: tuple[str, str]) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        for i in sorted((_link(doc, a, b) for a, b in pairs), reverse=True):
            del doc["links"][i]

    return apply


def _add_switch(**switch: Any) -> Callable[[Doc], None]:
    return lambda doc: doc["switches"].append(switch)


def _rewire_b0_to_a_new_agg(doc: Doc) -> None:
    doc["switches"].append({"name": "agg2", "role": "agg", "plane": 0})
    doc["links"][_link(doc, "tor-b0", "agg0")]["b"] = {"switch": "agg2", "port": 1}


def _add_uncabled_host(doc: Doc) -> None:
    doc["hosts"].append({"name": "h2", "segment": 0, "index": 1, "nics": [{"rail": 0, "ip": "10.0.0.2"}]})


def _refused(doc: Doc) -> TopologyError:
    text = yaml.safe_dump(doc, sort_keys=False)
    with pytest.raises(TopologyError) as info:
        load_fabric_text(text, "t.yaml")
    return info.value


def test_the_base_fixture_is_valid() -> None:
    fabric = load_fabric_text(BASE, "t.yaml")
    assert check_connectivity(fabric) == []


CASES = [
    (
        "ToR without uplink",
        _without(("tor-b0", "agg0")),
        "t.yaml: switches[2]: ToR 'tor-b0' has hosts but no uplink: they cannot reach the hosts of "
        "the 1 other ToR of plane 0",
    ),
    (
        "segment without an agg of plane 1",
        _without(("tor-b1", "agg1")),
        "t.yaml: switches[3]: ToR 'tor-b1' has hosts but no uplink",
    ),
    (
        "agg without downlink",
        _add_switch(name="agg2", role="agg", plane=0),
        "t.yaml: switches[6]: aggregation switch 'agg2' is cabled to no ToR",
    ),
    (
        "ToR without any cable",
        _add_switch(name="tor-c0", role="tor", plane=0, segment=2, rail=0),
        "t.yaml: switches[6]: ToR 'tor-c0' has no cable: no host and no uplink",
    ),
    (
        "NIC without cable",
        _add_uncabled_host,
        "t.yaml: hosts[2].nics[0]: the NIC of rail 0 of host 'h2' is cabled to no ToR",
    ),
    (
        "ToRs of a plane without a common agg",
        _rewire_b0_to_a_new_agg,
        "t.yaml: switches[0]: plane 0: no aggregation switch links ToR 'tor-a0' with ToR 'tor-b0', so "
        "their hosts have no path to each other (e.g. h0/nic0 and h1/nic0)",
    ),
    (
        "NICs without a plane in common",
        _without(("h0/p1", "tor-a1"), ("h1/p0", "tor-b0")),
        "t.yaml: hosts[1].nics[0]: h1/nic0 is cabled to plane 1 only and h0/nic0 to plane 0 only: they "
        "share no plane, so no path joins them",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_fabric_that_cannot_carry_traffic_is_refused(
    case: str, mutate: Callable[[Doc], None], expected: str
) -> None:
    doc = _base()
    mutate(doc)
    error = _refused(doc)
    assert len(error.problems) == 1, str(error)
    assert str(error).startswith(expected), str(error)
    (problem,) = error.problems
    assert problem.line is not None and problem.line > 1  # the element's own line


def test_the_line_is_the_elements() -> None:
    doc = _base()
    _without(("tor-b0", "agg0"))(doc)
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=200)
    with pytest.raises(TopologyError) as info:
        load_fabric_text(text, "t.yaml")
    (problem,) = info.value.problems
    line = text.splitlines()[problem.line - 1] if problem.line else ""
    assert "tor-b0" in line, (problem, line)


def _one_plane(uplinks: list[list[int]], single_homed: bool = True) -> Doc:
    """One plane, one rail: segment s has ToR tor-s{s} with host h{s}, uplinked to aggs uplinks[s]."""
    aggs = sorted({a for u in uplinks for a in u})
    doc: Doc = {
        "kind": "explicit",
        "name": "one-plane",
        "switches": [
            *({"name": f"tor-s{s}", "role": "tor", "segment": s, "rail": 0} for s in range(len(uplinks))),
            *({"name": f"agg{a}", "role": "agg"} for a in aggs),
        ],
        "hosts": [
            {"name": f"h{s}", "segment": s, "index": 0, "nics": [{"rail": 0, "ip": f"10.{s}.0.1"}]}
            for s in range(len(uplinks))
        ],
        "links": [
            {"a": {"host": f"h{s}", "rail": 0, "port": 0}, "b": {"switch": f"tor-s{s}", "port": 1}}
            for s in range(len(uplinks))
        ],
    }
    for s, up in enumerate(uplinks):
        for k, a in enumerate(up):
            doc["links"].append(
                {"a": {"switch": f"tor-s{s}", "port": 129 + k}, "b": {"switch": f"agg{a}", "port": 1 + s}}
            )
    return doc


def test_a_plane_split_in_two_is_one_problem_naming_both_sides() -> None:
    error = _refused(_one_plane([[0], [0], [1], [1], [0, 2]]))
    assert len(error.problems) == 1, str(error)
    assert (
        "switches[2]: plane 0: no aggregation switch links ToRs 'tor-s2', 'tor-s3' with ToRs 'tor-s0', "
        "'tor-s1', 'tor-s4'" in str(error)
    )


def test_one_stray_tor_is_one_problem() -> None:
    error = _refused(_one_plane([[0, 1], [0, 1], [0, 1], [2], [0, 1]]))
    assert len(error.problems) == 1, str(error)
    assert "switches[3]: plane 0: no aggregation switch links ToR 'tor-s3' with ToRs 'tor-s0'" in str(error)
    assert "'tor-s2' and 1 more" in str(error)


def test_tors_joined_by_some_agg_each_pass() -> None:
    """Every pair shares an agg, though no agg reaches every ToR."""
    assert load_fabric_text(yaml.safe_dump(_one_plane([[0, 1], [1, 2], [0, 2]])), "t.yaml")


def test_a_single_tor_needs_no_uplink() -> None:
    doc = _one_plane([[]])
    doc["hosts"].append({"name": "h9", "segment": 0, "index": 1, "nics": [{"rail": 0, "ip": "10.0.0.2"}]})
    doc["links"].append({"a": {"host": "h9", "rail": 0, "port": 0}, "b": {"switch": "tor-s0", "port": 2}})
    assert len(load_fabric_text(yaml.safe_dump(doc), "t.yaml").hosts) == 2


def test_merged_planes_reach_through_either_tor_of_a_pair() -> None:
    """Merged: h0 on tor-a0 and tor-a1, h1 on tor-b0 and tor-b1, one agg per side; the
    sides meet at no agg, but each NIC has a ToR on each side."""
    doc = _base()
    doc["planes_merged"] = True
    for switch in doc["switches"]:
        switch["plane"] = 0
    fabric = load_fabric_text(yaml.safe_dump(doc), "t.yaml")
    assert check_connectivity(fabric) == []
    _without(("h1/p1", "tor-b1"))(doc)  # h1 now only on side 0, h0 still on both
    assert check_connectivity(load_fabric_text(yaml.safe_dump(doc), "t.yaml")) == []
    _without(("h0/p0", "tor-a0"))(doc)  # h0 only on side 1: no agg joins them
    error = _refused(doc)
    assert "no aggregation switch links ToR 'tor-a1' with ToR 'tor-b0'" in str(error), str(error)


@pytest.mark.parametrize("name", ["hpn-pod.yaml", "hpn-mini.yaml", "hpn-mini-merged.yaml", "rig-4.yaml"])
def test_shipped_topologies_can_carry_traffic(name: str) -> None:
    assert check_connectivity(load_fabric(TOPOLOGIES / name)) == []

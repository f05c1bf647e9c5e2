"""The Prometheus exporter: scraped as Prometheus would (the registry's text), every metric
has the name, type and labels the docs give, values come from what the loop handed over,
and every metric the Grafana dashboard queries is one the exporter has."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hpn.operations.liveness import LinkStatus
from hpn.operations.metrics import OperationsMetrics, PacketsBytes
from hpn.operations.wiring import NeighbourSeen, Observed, check_wiring, intact_observation
from hpn.pipeline.drop_reasons import DropReason
from hpn.routing.failures import FailureView
from hpn.topology import Fabric, load_fabric
from hpn.topology.model import SwitchPort

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "docs" / "grafana" / "hpn-fabric.json"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"


@pytest.fixture(scope="module")
def mini() -> Fabric:
    return load_fabric(ROOT / "topologies" / "hpn-mini.yaml")


def _families(metrics: OperationsMetrics) -> dict[str, tuple[str, list[tuple[str, dict[str, str], float]]]]:
    """name -> (type, [(sample name, labels, value)]) from the exposition text."""
    text = generate_latest(metrics.registry).decode()
    return {
        f.name: (f.type, [(s.name, dict(s.labels), s.value) for s in f.samples])
        for f in text_string_to_metric_families(text)
        if not f.name.endswith("_created")  # prometheus_client's creation times of its own metrics
    }


@pytest.fixture
def fed(mini: Fabric) -> OperationsMetrics:
    m = OperationsMetrics()
    m.set_port_counters(
        "tor-s0-r0-p0",
        rx={1: PacketsBytes(10, 1000), 129: PacketsBytes(5, 640), 511: PacketsBytes(7, 7)},
        tx={1: PacketsBytes(3, 300)},
        member_tx={129: PacketsBytes(2, 256), 130: PacketsBytes(4, 512)},
        ports=mini.switch_ports("tor-s0-r0-p0"),
    )
    m.set_drops("tor-s0-r0-p0", {DropReason.NO_ROUTE: 4, DropReason.TTL_EXPIRED: 1})
    statuses = dict.fromkeys(
        (lk for lk in mini.links if all(isinstance(e, SwitchPort) for e in lk.ends())), LinkStatus.UP
    )
    down, held = sorted(statuses, key=str)[:2]
    statuses[down], statuses[held] = LinkStatus.DOWN, LinkStatus.HOLD
    m.set_links(statuses)
    intact = intact_observation(mini)
    at = SwitchPort("tor-s0-r0-p0", 129)
    wrong = tuple(NeighbourSeen(at, "agg-p0-a1", 1) if n.at == at else n for n in intact.neighbours)
    m.set_wiring(check_wiring(mini, Observed(wrong, intact.hosts)))
    m.set_failure_view(FailureView(frozenset({down, held}), frozenset({"agg-p1-a1"})))
    m.set_switch_up("agg-p1-a1", False)
    m.set_switch_up("tor-s0-r0-p0", True)
    m.updates_written.labels(switch="tor-s0-r0-p0").inc(513)
    m.failovers.labels(kind="link_down").inc()
    m.detection_to_written.observe(0.42)
    m.recompute.observe(0.003)
    m.probes_refused.labels(field="fabric_id").inc()
    return m


def test_switch_counters_are_counters_per_switch_and_port_in_base_units(fed: OperationsMetrics) -> None:
    families = _families(fed)
    for name in ("hpn_port_receive_packets", "hpn_port_receive_bytes", "hpn_member_transmit_bytes"):
        kind, samples = families[name]
        assert kind == "counter"
        assert all(s[0] == name + "_total" and set(s[1]) == {"switch", "port"} for s in samples)
    _, rx = families["hpn_port_receive_packets"]
    # port 511 is not a port of the switch (a counter cell for something else): left out
    assert {(s[1]["port"], s[2]) for s in rx} == {("1", 10.0), ("129", 5.0)}
    _, member = families["hpn_member_transmit_bytes"]
    assert {(s[1]["port"], s[2]) for s in member} == {("129", 256.0), ("130", 512.0)}


def test_drops_are_by_reason_every_reason_present(fed: OperationsMetrics) -> None:
    kind, samples = _families(fed)["hpn_drops"]
    assert kind == "counter"
    by_reason = {s[1]["reason"]: s[2] for s in samples}
    assert by_reason["no_route"] == 4 and by_reason["ttl_expired"] == 1


def test_link_and_wiring_state_per_expected_cable(fed: OperationsMetrics, mini: Fabric) -> None:
    families = _families(fed)
    kind, up = families["hpn_link_up"]
    assert kind == "gauge"
    cables = [lk for lk in mini.links if all(isinstance(e, SwitchPort) for e in lk.ends())]
    assert len(up) == len(cables)
    assert sum(1 for s in up if s[2] == 0) == 2
    assert sum(s[2] for s in families["hpn_link_held"][1]) == 1
    kind, wiring = families["hpn_cable_wiring_ok"]
    assert kind == "gauge"
    bad = [s[1] for s in wiring if s[2] == 0]
    assert bad == [{"switch": "tor-s0-r0-p0", "port": "129", "expected": "agg-p0-a0:1"}]
    problems = {s[1]["verdict"]: s[2] for s in families["hpn_wiring_problems"][1]}
    assert problems["mismatch"] == 1 and problems["missing"] == 0


def test_loop_events_are_counters_and_histograms(fed: OperationsMetrics) -> None:
    families = _families(fed)
    assert families["hpn_failure_view_size"][0] == "gauge"
    assert {s[1]["kind"]: s[2] for s in families["hpn_failure_view_size"][1]} == {"link": 2, "switch": 1}
    kind, written = families["hpn_updates_written"]
    assert kind == "counter" and written[0][0] == "hpn_updates_written_total" and written[0][2] == 513
    kind, samples = families["hpn_failover_detection_to_written_seconds"]
    assert kind == "histogram"
    buckets = {s[1]["le"]: s[2] for s in samples if s[0].endswith("_bucket")}
    assert buckets["0.25"] == 0 and buckets["0.5"] == 1
    assert families["hpn_failover_recompute_seconds"][0] == "histogram"
    assert {s[1].get("field") for s in families["hpn_probes_refused"][1] if s[0].endswith("_total")} == {
        "fabric_id"
    }


def _dashboard_metrics() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return {m for e in exprs for m in re.findall(r"\bhpn_[a-z_]+", e)}


_SERIES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def _exported_series(metrics: OperationsMetrics) -> set[str]:
    """Every series name the exporter can show, by each family's type (a labelled family
    that has no sample yet still counts)."""
    return {name + suffix for name, (kind, _) in _families(metrics).items() for suffix in _SERIES[kind]}


def test_every_metric_the_dashboard_queries_is_exported(fed: OperationsMetrics) -> None:
    queried = _dashboard_metrics()
    assert len(queried) >= 15
    missing = sorted(queried - _exported_series(fed))
    assert not missing, f"{DASHBOARD.name} queries metrics the exporter does not have: {missing}"


def test_every_exported_metric_is_in_the_operations_docs(fed: OperationsMetrics) -> None:
    doc = OPERATIONS_DOC.read_text()
    undocumented = sorted(
        name for name in _families(fed) if not re.search(rf"\b{name}(_total|_bucket|_sum|_count)?\b", doc)
    )
    assert not undocumented

"""The Prometheus exporter of the operations loop.

Two kinds of metric, by where the number comes from:
- read from the switches (port and member counters, drops by reason) and from the loop's
  state (link and wiring state per expected cable, the failure view): the loop hands over
  a snapshot (`set_*`), and a collector renders the latest one at each scrape, as
  counters when the switch counts them and gauges for state;
- events of the loop itself (updates written, failovers, probes and host probes, the
  detection-to-written and recompute times): prometheus_client counters and histograms,
  updated as they happen.

Names follow Prometheus conventions: `hpn_` prefix, base units (seconds, bytes), `_total`
for counters, no per-flow labels (per switch, port, reason, cable end at most).
docs/operations.md lists every metric; docs/grafana/hpn-fabric.json charts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hpn.operations.liveness import LinkStatus
from hpn.operations.wiring import Verdict, WiringReport
from hpn.pipeline.drop_reasons import DropReason
from hpn.routing.failures import FailureView
from hpn.topology.model import Link, SwitchPort

DETECTION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds from a failure's first missed probe to its writes done: 100 ms probes put the
interesting part between 0.25 s (3 misses) and 1 s (the target of issue 16)."""
RECOMPUTE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class PacketsBytes:
    packets: int
    bytes: int


@dataclass
class _Snapshot:
    rx: dict[tuple[str, int], PacketsBytes] = field(default_factory=dict)
    tx: dict[tuple[str, int], PacketsBytes] = field(default_factory=dict)
    member_tx: dict[tuple[str, int], PacketsBytes] = field(default_factory=dict)
    drops: dict[str, Mapping[DropReason, int]] = field(default_factory=dict)
    links: dict[Link, LinkStatus] = field(default_factory=dict)
    wiring: WiringReport | None = None
    view: FailureView = field(default_factory=FailureView)
    switches_up: dict[str, bool] = field(default_factory=dict)


class _StateCollector(Collector):
    def __init__(self, snapshot: _Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield from _packets_bytes("hpn_port_receive", "received on the port", s.rx)
        yield from _packets_bytes("hpn_port_transmit", "transmitted by the port", s.tx)
        yield from _packets_bytes(
            "hpn_member_transmit", "sent by the load balancer to the port as a group member", s.member_tx
        )
        drops = CounterMetricFamily(
            "hpn_drops",
            "Packets the switch dropped, by reason (its drop counters)",
            labels=["switch", "reason"],
        )
        for switch, by_reason in sorted(s.drops.items()):
            for reason, packets in by_reason.items():
                drops.add_metric([switch, reason.name.lower()], packets)
        yield drops
        up = GaugeMetricFamily(
            "hpn_link_up",
            "1 when the cable is up for routing (heard both ways, or not yet declared down), 0 when "
            "down or held down; one series per switch-to-switch cable of the topology, by its first end",
            labels=["switch", "port", "peer_switch", "peer_port"],
        )
        held = GaugeMetricFamily(
            "hpn_link_held",
            "1 while a cable that returned waits out its hold-down",
            labels=["switch", "port", "peer_switch", "peer_port"],
        )
        for link, status in sorted(s.links.items(), key=lambda kv: str(kv[0])):
            a, b = link.ends()
            if not (isinstance(a, SwitchPort) and isinstance(b, SwitchPort)):
                continue
            labels = [a.switch, str(a.port), b.switch, str(b.port)]
            up.add_metric(labels, 0 if status in (LinkStatus.DOWN, LinkStatus.HOLD) else 1)
            held.add_metric(labels, 1 if status is LinkStatus.HOLD else 0)
        yield up
        yield held
        yield from self._wiring()
        view = GaugeMetricFamily(
            "hpn_failure_view_size", "Links and switches the failure view holds down", labels=["kind"]
        )
        view.add_metric(["link"], len(s.view.links))
        view.add_metric(["switch"], len(s.view.switches))
        yield view
        reachable = GaugeMetricFamily(
            "hpn_switch_up", "1 when the switch answers over P4Runtime", labels=["switch"]
        )
        for switch, is_up in sorted(s.switches_up.items()):
            reachable.add_metric([switch], int(is_up))
        yield reachable

    def _wiring(self) -> Iterator[Metric]:
        report = self.snapshot.wiring
        ok = GaugeMetricFamily(
            "hpn_cable_wiring_ok",
            "1 when the port hears what the topology cables to it; one series per cabled switch port",
            labels=["switch", "port", "expected"],
        )
        problems = GaugeMetricFamily(
            "hpn_wiring_problems", "Ports whose wiring check failed, by verdict", labels=["verdict"]
        )
        if report is not None:
            for f in report.findings:
                if f.expected is not None:
                    ok.add_metric([f.at.switch, str(f.at.port), f.expected], int(f.verdict is Verdict.OK))
            for verdict, n in report.counts().items():
                if verdict is not Verdict.OK:
                    problems.add_metric([verdict.value], n)
        yield ok
        yield problems


def _packets_bytes(
    name: str, what: str, cells: Mapping[tuple[str, int], PacketsBytes]
) -> Iterator[CounterMetricFamily]:
    packets = CounterMetricFamily(f"{name}_packets", f"Packets {what}", labels=["switch", "port"])
    octets = CounterMetricFamily(f"{name}_bytes", f"Bytes {what}", labels=["switch", "port"])
    for (switch, port), value in sorted(cells.items()):
        packets.add_metric([switch, str(port)], value.packets)
        octets.add_metric([switch, str(port)], value.bytes)
    yield packets
    yield octets


class OperationsMetrics:
    """Every metric of the loop, in one registry (its own unless one is given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._snapshot = _Snapshot()
        self.registry.register(_StateCollector(self._snapshot))
        r = self.registry
        self.updates_written = Counter(
            "hpn_updates_written", "P4Runtime updates the loop wrote", ["switch"], registry=r
        )
        self.write_errors = Counter(
            "hpn_write_errors",
            "P4Runtime updates a switch rejected or could not take",
            ["switch"],
            registry=r,
        )
        self.failovers = Counter(
            "hpn_failovers", "Failure view changes the loop acted on, by kind", ["kind"], registry=r
        )
        self.switches_touched = Counter(
            "hpn_failover_switches_touched", "Switches written because of failure view changes", registry=r
        )
        self.probes_sent = Counter("hpn_probes_sent", "Link probes sent", registry=r)
        self.probes_received = Counter("hpn_probes_received", "Link probes received and decoded", registry=r)
        self.probes_refused = Counter(
            "hpn_probes_refused",
            "Punted frames refused as probes, by the field that was wrong",
            ["field"],
            registry=r,
        )
        self.host_probes_sent = Counter(
            "hpn_host_probes_sent", "ARP requests sent out of ToR host ports", registry=r
        )
        self.host_replies_received = Counter(
            "hpn_host_replies_received", "Hosts' ARP replies received and decoded", registry=r
        )
        self.host_replies_refused = Counter(
            "hpn_host_replies_refused",
            "Punted ARP frames refused as host replies, by the field that was wrong",
            ["field"],
            registry=r,
        )
        self.detection_to_written = Histogram(
            "hpn_failover_detection_to_written_seconds",
            "From a failure's first missed probe to the affected switches' writes done",
            buckets=DETECTION_BUCKETS,
            registry=r,
        )
        self.recompute = Histogram(
            "hpn_failover_recompute_seconds",
            "From a declared change to the affected switches' writes known (the incremental recompute)",
            buckets=RECOMPUTE_BUCKETS,
            registry=r,
        )

    # -- snapshots from the switches and the loop's state --------------------------------
    def set_port_counters(
        self,
        switch: str,
        rx: Mapping[int, PacketsBytes],
        tx: Mapping[int, PacketsBytes],
        member_tx: Mapping[int, PacketsBytes],
        ports: Iterable[int],
    ) -> None:
        """One switch's counter cells (index = port), for the ports it has (other cells,
        such as the adaptive-retry cell, are not ports and are left out)."""
        wanted = set(ports)
        s = self._snapshot
        for cells, into in ((rx, s.rx), (tx, s.tx), (member_tx, s.member_tx)):
            for key in [k for k in into if k[0] == switch]:
                del into[key]
            into.update(((switch, p), v) for p, v in cells.items() if p in wanted)

    def set_drops(self, switch: str, drops: Mapping[DropReason, int]) -> None:
        self._snapshot.drops[switch] = dict(drops)

    def set_links(self, statuses: Mapping[Link, LinkStatus]) -> None:
        self._snapshot.links = dict(statuses)

    def set_wiring(self, report: WiringReport) -> None:
        self._snapshot.wiring = report

    def set_failure_view(self, view: FailureView) -> None:
        self._snapshot.view = view

    def set_switch_up(self, switch: str, up: bool) -> None:
        self._snapshot.switches_up[switch] = up


def start_exporter(metrics: OperationsMetrics, port: int, address: str = "0.0.0.0") -> None:
    """Serve `metrics` at http://ADDRESS:PORT/metrics from a daemon thread (`--metrics-port`)."""
    start_http_server(port, addr=address, registry=metrics.registry)

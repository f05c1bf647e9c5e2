"""The operations loop without its I/O: what `hpnctl run` drives with packets and a clock.

The runner owns the switches and the time; `OperationsLoop` owns the decisions:

    loop = OperationsLoop(fabric, emit=JsonLines(sys.stdout), clock=time.monotonic_ns)
    every T:      for out in loop.probes(): packet_out(out.switch, out.port, out.frame)
    packet-in:    loop.frame_in(switch, ingress_port, payload)     # probes and hosts' ARP replies
    every host T: loop.host_tick(); for out in loop.host_probes(): packet_out(...)
    every T:      batch = loop.tick()                              # None when nothing changed
    counters read: loop.counters_read(switch, counters)            # into the metrics
    session lost: batch = loop.switch_unreachable(name, why)
    with a batch: write batch.writes[switch] to each switch, then
                  loop.written(batch, failed={switch: why})        # failed ones are owed
    owed:         loop.owed_entities() -> whole entity lists to push once they answer

Every input is timestamped by the injected clock (nanoseconds), so tests drive it with a
fake one. A bad input (a frame that is not a probe, a probe naming a switch the topology
does not have, an ARP frame that is not a host's reply to the ToR) is refused with an
event naming it and where it came in, and counted. Host cables are followed (seen, lost,
named by the wiring check) but never written: routing does not change for them here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address

from hpn.operations.arp_probe import ArpError, decode_arp_reply
from hpn.operations.counters import SwitchCounters
from hpn.operations.events import Event, EventKind, EventSink
from hpn.operations.failover import EntityBuilder, EntityWrites, Failover, FailoverPlan
from hpn.operations.hosts import Gateway, HostMonitor, HostProbeOut, HostTimers
from hpn.operations.liveness import Change, LinkMonitor, ProbeOut, Timers
from hpn.operations.metrics import OperationsMetrics, PacketsBytes
from hpn.operations.probe import ProbeError, decode_probe, fabric_id
from hpn.operations.wiring import NeighbourSeen, Observed, WiringReport, check_wiring
from hpn.params import ARP_ETHERTYPE
from hpn.pipeline import Entity, Target, switch_entities
from hpn.runtime import CounterValue
from hpn.topology.model import Fabric, SwitchPort

NS = 1_000_000_000


@dataclass(frozen=True)
class WriteBatch:
    """The writes one reaction needs: per affected switch, and why."""

    changes: tuple[Change, ...]
    plan: FailoverPlan
    writes: dict[str, EntityWrites]
    decided_ns: int

    @property
    def updates(self) -> int:
        return sum(w.updates for w in self.writes.values())


class OperationsLoop:
    def __init__(
        self,
        fabric: Fabric,
        *,
        emit: EventSink,
        clock: Callable[[], int],
        timers: Timers | None = None,
        target: Target = Target.BMV2,
        metrics: OperationsMetrics | None = None,
        host_timers: HostTimers | None = None,
    ) -> None:
        self.fabric = fabric
        self._emit = emit
        self._clock = clock
        self.metrics = metrics or OperationsMetrics()
        self.monitor = LinkMonitor(fabric, timers or Timers(), emit, clock())
        self.failover = Failover(fabric)
        self.builder = EntityBuilder(target)
        self.target = target
        self._fabric_id = fabric_id(fabric.name)
        self.hosts = HostMonitor(fabric, _gateways(self.failover), host_timers or HostTimers(), emit, clock())
        self.owed: set[str] = set()  # switches a write failed on: they need their whole list
        self._wiring: tuple[Observed, WiringReport] | None = None  # the last check, and its input
        for sw in fabric.switches:
            self.metrics.set_switch_up(sw.name, True)
        self.metrics.set_links(self.monitor.statuses())

    # -- probes -------------------------------------------------------------------------
    def probes(self) -> list[ProbeOut]:
        out = self.monitor.probes_due(self._clock())
        self.metrics.probes_sent.inc(len(out))
        return out

    def frame_in(self, switch: str, port: int, frame: bytes) -> None:
        """A frame `switch` punted from `port`: a probe is heard, a host's ARP reply seen,
        anything else refused."""
        now = self._clock()
        where = f"{switch}:{port}"
        if not self.fabric.has_switch(switch):
            self._refuse(
                now, where, "switch", f"a packet-in from {switch}, which is not in {self.fabric.name}"
            )
            return
        if frame[12:14] == ARP_ETHERTYPE.to_bytes(2, "big"):
            self._arp_in(now, switch, port, frame)
            return
        try:
            probe = decode_probe(frame, self._fabric_id)
        except ProbeError as exc:
            self._refuse(now, where, exc.field, str(exc))
            return
        if not self.fabric.has_switch(probe.switch):
            # kept for the wiring check (an unknown neighbour), and counted
            self._refuse(now, where, "name", f"probe from {probe.switch}, which is not in {self.fabric.name}")
        self.metrics.probes_received.inc()
        self.monitor.heard(now, SwitchPort(switch, port), probe)

    def _refuse(self, now: int, where: str, field: str, why: str) -> None:
        self.metrics.probes_refused.labels(field=field).inc()
        self._emit(Event(now, EventKind.REFUSED, where, {"field": field, "why": why}))

    # -- hosts --------------------------------------------------------------------------
    def host_probes(self) -> list[HostProbeOut]:
        """The ARP requests due now, out of the host ports of every ToR that is up."""
        out = self.hosts.probes_due(self._clock(), down=self.monitor.failure_view().switches)
        self.metrics.host_probes_sent.inc(len(out))
        return out

    def _arp_in(self, now: int, switch: str, port: int, frame: bytes) -> None:
        where = f"{switch}:{port}"
        gateway = self.hosts.gateways.get(switch)
        if gateway is None:
            self._refuse_arp(now, where, "switch", f"an ARP frame from {switch}, which has no host ports")
            return
        try:
            reply = decode_arp_reply(frame, gateway.mac, gateway.ip)
        except ArpError as exc:
            self._refuse_arp(now, where, exc.field, str(exc))
            return
        if not self.hosts.probes(SwitchPort(switch, port)):
            self._refuse_arp(
                now, where, "port", f"a reply on {where}, which the topology cables to no NIC: never asked"
            )
            return
        self.metrics.host_replies_received.inc()
        self.host_seen(switch, port, reply.sender_mac, reply.sender_ip)

    def _refuse_arp(self, now: int, where: str, field: str, why: str) -> None:
        self.metrics.host_replies_refused.labels(field=field).inc()
        self._emit(Event(now, EventKind.REFUSED, where, {"field": field, "why": why}))

    def host_seen(self, switch: str, port: int, mac: str, ip: IPv4Address | None = None) -> None:
        """ToR port `switch:port` answered from a NIC's MAC (for address `ip`). The port
        must be one the topology cables to a NIC (`self.hosts.probes`)."""
        self.hosts.seen(self._clock(), SwitchPort(switch, port), mac, ip)

    def host_tick(self) -> list[SwitchPort]:
        """Host ports that missed k host probe rounds are lost (an event each); no write."""
        return self.hosts.tick(self._clock())

    # -- changes ------------------------------------------------------------------------
    def tick(self) -> WriteBatch | None:
        changes = self.monitor.tick(self._clock())
        return self._react(tuple(changes)) if changes else None

    def switch_unreachable(self, name: str, why: str) -> WriteBatch | None:
        change = self.monitor.switch_unreachable(self._clock(), name, why)
        self.metrics.set_switch_up(name, False)
        return None if change is None else self._react((change,))

    def switch_reachable(self, name: str) -> WriteBatch | None:
        change = self.monitor.switch_reachable(self._clock(), name)
        self.metrics.set_switch_up(name, True)
        return None if change is None else self._react((change,))

    def _react(self, changes: tuple[Change, ...]) -> WriteBatch:
        view = self.monitor.failure_view()
        plan = self.failover.apply(view)
        writes = {name: self.builder.writes(delta) for name, delta in plan.deltas.items()}
        now = self._clock()
        batch = WriteBatch(changes, plan, writes, now)
        for change in changes:
            self.metrics.failovers.labels(kind=change.kind.value).inc()
            self.metrics.recompute.observe(max(0, now - change.at_ns) / NS)
            self._emit(
                Event(
                    now,
                    EventKind.RECOMPUTED,
                    change.subject,
                    {"switches": len(writes), "updates": batch.updates, "view": view.describe()},
                )
            )
        self.metrics.set_failure_view(view)
        self.metrics.set_links(self.monitor.statuses())
        return batch

    def written(self, batch: WriteBatch, failed: Mapping[str, str] | None = None) -> None:
        """The runner wrote `batch`; `failed` names the switches it could not write and why.
        Those are owed their whole entity list (`owed_entities`), so nothing is lost."""
        failed = failed or {}
        now = self._clock()
        for name, writes in batch.writes.items():
            if name in failed:
                self.metrics.write_errors.labels(switch=name).inc(writes.updates)
                self.owed.add(name)
            else:
                self.metrics.updates_written.labels(switch=name).inc(writes.updates)
        self.metrics.switches_touched.inc(len(batch.writes))
        for change in batch.changes:
            self.metrics.detection_to_written.observe(max(0, now - change.detected_ns) / NS)
            detail: dict[str, object] = {
                "switches": len(batch.writes) - len(failed),
                "updates": batch.updates,
                "since_detected_s": round((now - change.detected_ns) / NS, 9),
            }
            if failed:
                detail["failed"] = {name: failed[name] for name in sorted(failed)}
            self._emit(Event(now, EventKind.WRITTEN, change.subject, detail))

    def owed_entities(self) -> dict[str, list[Entity]]:
        """Whole entity lists of the switches a write failed on and that are up (a push
        reconciles them); they stay owed until `written` sees them written."""
        states = self.failover.states
        return {
            name: switch_entities(states[name], self.target) for name in sorted(self.owed) if name in states
        }

    def settled(self, names: set[str]) -> None:
        """The owed switches in `names` were pushed whole."""
        self.owed -= names

    # -- counters -----------------------------------------------------------------------
    def counters_read(self, switch: str, counters: SwitchCounters) -> None:
        """`switch`'s counters as read: into the metrics, at the ports the topology gives it."""

        def cells(values: Mapping[int, CounterValue]) -> dict[int, PacketsBytes]:
            return {port: PacketsBytes(v.packets, v.bytes) for port, v in values.items()}

        self.metrics.set_port_counters(
            switch,
            rx=cells(counters.rx),
            tx=cells(counters.tx),
            member_tx=cells(counters.member_tx),
            ports=self.fabric.switch_ports(switch),
        )
        self.metrics.set_drops(switch, counters.drops)

    # -- wiring -------------------------------------------------------------------------
    def wiring(self) -> WiringReport:
        """Every cable as last seen against the topology, into the metrics. Checked again
        only when what was seen changed (a pod's check takes a second of CPU)."""
        heard = self.monitor.observed()
        neighbours = tuple(NeighbourSeen(at, h.switch, h.port) for at, h in sorted(heard.items()))
        observed = Observed(neighbours, self.hosts.observed())
        if self._wiring is not None and self._wiring[0] == observed:
            return self._wiring[1]
        report = check_wiring(self.fabric, observed)
        self._wiring = (observed, report)
        self.metrics.set_wiring(report)
        return report


def _gateways(failover: Failover) -> dict[str, Gateway]:
    """Each switch that answers ARP for its hosts (the ToRs), with the MAC and the gateway
    address its desired state gives (the first, when a switch had several)."""
    return {
        name: Gateway(state.switch_mac, min(IPv4Address(ip) for ip in state.gateway_ips))
        for name, state in failover.states.items()
        if state.gateway_ips
    }

"""Load spread: max/mean link load per LB mode, and hash polarization toward one NIC."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from hpn.emulation.checks.base import Lab, Verdict, _fails, _uplinks, max_mean, run_flows, source_ports
from hpn.emulation.traffic import Flow
from hpn.routing.state import LbMode
from hpn.topology.model import NicPort, SwitchPort

# -- load balancing -----------------------------------------------------------------------------------


@dataclass
class ModeLoad:
    mode: LbMode
    link_bytes: dict[str, int]  # "switch:port" -> bytes sent during the run
    ratio: float  # max/mean over all links
    per_switch_ratio: dict[str, float]
    sent: int
    lost: int


@dataclass
class LoadBalancingResult(Verdict):
    flows: int
    packets_per_flow: int
    modes: dict[LbMode, ModeLoad]
    problems: list[str]
    seconds: float

    def summary(self) -> str:
        ratios = ", ".join(f"{m.name.lower()} {v.ratio:.2f}" for m, v in self.modes.items())
        return f"{self.flows} flows between two segments, max/mean uplink load: {ratios}"


def _segment_flows(lab: Lab, count: int, label: str) -> list[Flow]:
    """`count` flows from the first segment's NICs to the last segment's, half pinned to each plane.

    Pinning takes the hosts' own hashing out, so the spread seen on the ToR
    uplinks is the switches' doing alone.
    """
    segments = sorted({h.segment for h in lab.fabric.hosts})
    src = [n for n in lab.nics.values() if n.segment == segments[0]]
    dst = [n for n in lab.nics.values() if n.segment == segments[-1]]
    pairs = [(a, b) for a in src for b in dst if a.rail == b.rail]
    flows = []
    for i, sport in enumerate(source_ports(label, count)):
        a, b = pairs[i % len(pairs)]
        flows.append(Flow(a, b, sport=sport, dport=5004, port=(i // len(pairs)) % 2))
    return flows


LOSS_TOLERANCE = 0.05
"""Share of packets a load measurement (LB modes, polarization) may lose on an overloaded
2-core emulation: bmv2 drops bursts when it gets no CPU. The loss is shown in the report;
zero loss is what the reachability check asserts."""


async def load_balancing(
    lab: Lab,
    modes: Sequence[LbMode] = (LbMode.ECMP, LbMode.FLOWLET, LbMode.SPRAY, LbMode.ADAPTIVE),
    flows: int = 32,
    bursts: int = 6,
    burst: int = 2,
) -> LoadBalancingResult:
    """The same flows in each LB mode; the source ToRs' uplink byte counters give max/mean load.

    Flows send `burst` packets, then pause longer than the flowlet gap (a
    deliberate idle period: flowlet and adaptive decide again after it).
    """
    started = time.monotonic()
    fabric = lab.fabric
    flow_list = _segment_flows(lab, flows, "load-balancing")
    tors = sorted({lab.tor(f.src, f.port) for f in flow_list if f.port is not None})
    watch = {t: _uplinks(fabric, t) for t in tors}
    gap = max(fabric.settings.flowlet_gap_us / 1e6 * 2.5, 0.02)
    results: dict[LbMode, ModeLoad] = {}
    problems: list[str] = []
    try:
        for mode in modes:
            report = await lab.ctl.set_lb_mode(mode)
            if not report.ok:
                problems += report.errors
                continue
            run = await run_flows(
                lab, flow_list, rounds=bursts, interval=gap, burst=burst, size=500, watch=watch
            )
            link_bytes = {f"{s}:{p}": n for (s, p), n in run.tx_bytes.items()}
            per_switch = {t: max_mean([link_bytes[f"{t}:{p}"] for p in ports]) for t, ports in watch.items()}
            lost, sent = run.lost, run.sent
            results[mode] = ModeLoad(
                mode, link_bytes, max_mean(list(link_bytes.values())), per_switch, sent, lost
            )
            # Loss is the reachability check's business; here it only must not be large
            # enough to distort the byte counters the ratio is computed from.
            if lost > LOSS_TOLERANCE * sent:
                problems.append(f"{mode.name.lower()}: {lost}/{sent} packets lost")
    finally:
        report = await lab.ctl.set_lb_mode(None)
        if not report.ok:
            problems += report.errors
    return LoadBalancingResult(flows, bursts * burst, results, problems, time.monotonic() - started)


# -- hash polarization ------------------------------------------------------------------------------


@dataclass
class PolarizationResult(Verdict):
    fabric: str
    merged: bool
    destination: str
    senders: int
    flows: int
    downlink_bytes: dict[str, int]  # agg -> ToR links toward the destination NIC
    nic_link_bytes: dict[str, int]  # ToR -> NIC port links
    ratio: float
    sent: int
    lost: int
    problems: list[str]
    seconds: float

    def summary(self) -> str:
        kind = "planes merged" if self.merged else "dual-plane"
        return (
            f"{self.fabric} ({kind}): {self.flows} flows from {self.senders} NICs to {self.destination}: "
            f"max/mean on {len(self.downlink_bytes)} agg->ToR downlinks {self.ratio:.2f}"
        )


async def polarization(lab: Lab, flows_per_sender: int = 12, packets: int = 6) -> PolarizationResult:
    """Many senders to one NIC: how evenly do the agg->ToR downlinks toward it carry the load?"""
    started = time.monotonic()
    fabric = lab.fabric
    nics = sorted(lab.nics.values(), key=lambda n: (n.segment, n.host, n.rail))
    dst = next(n for n in nics if n.segment == max(h.segment for h in fabric.hosts))
    dst_tors = {lab.tor(dst, p) for p in range(len(dst.ports))}
    # Senders whose traffic crosses the aggs: the NICs of other hosts not behind the destination's ToRs.
    # (Another NIC of the same host would send with an address the host owns: its kernel drops that.)
    senders = [
        n
        for n in nics
        if n.host != dst.host and not ({lab.tor(n, p) for p in range(len(n.ports))} & dst_tors)
    ]
    sports = iter(source_ports("polarization", len(senders) * flows_per_sender))
    flow_list = [
        Flow(s, dst, sport=next(sports), dport=5005, port=k % 2)
        for s in senders
        for k in range(flows_per_sender)
    ]
    downlinks: dict[str, list[int]] = {}
    for agg in fabric.aggs():
        for port, peer in fabric.peers(agg.name).items():
            if isinstance(peer, SwitchPort) and peer.switch in dst_tors:
                downlinks.setdefault(agg.name, []).append(port)
    nic_ports: dict[str, list[int]] = {}
    for p in range(len(dst.ports)):
        sp = fabric.nic_switch_port(NicPort(dst.host, dst.rail, p))
        assert sp is not None
        nic_ports.setdefault(sp.switch, []).append(sp.port)
    watch = {**downlinks}
    for sw, ports in nic_ports.items():
        watch[sw] = sorted({*watch.get(sw, []), *ports})
    run = await run_flows(lab, flow_list, rounds=packets, interval=0.01, size=500, watch=watch)
    down = {f"{a}:{p}": run.tx_bytes[(a, p)] for a, ports in downlinks.items() for p in ports}
    to_nic = {f"{s}:{p}": run.tx_bytes[(s, p)] for s, ports in nic_ports.items() for p in ports}
    lost, sent = run.lost, run.sent
    problems = _fails(
        f"{lost}/{sent} packets lost" if lost > LOSS_TOLERANCE * sent else None,
        "no downlink toward the NIC" if not down else None,
    )
    return PolarizationResult(
        fabric.name,
        fabric.planes_merged,
        str(dst),
        len(senders),
        len(flow_list),
        down,
        to_nic,
        max_mean(list(down.values())),
        sent,
        lost,
        problems,
        time.monotonic() - started,
    )

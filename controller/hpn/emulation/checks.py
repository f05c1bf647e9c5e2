"""End-to-end checks of a running, programmed emulation; shared by `hpnctl demo` and the tests.

Each check takes a `Lab` (the emulation, its controller, the hosts' NICs),
drives bounded, paced traffic, reads what it needs (port counters over
P4Runtime, frames on ports, INT records) and returns a result that says
whether it passed, with the numbers measured. Nothing here prints.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hpn.emulation.controller import EmulationController
from hpn.emulation.fabric import Emulation
from hpn.emulation.traffic import (
    HEADER,
    MAGIC,
    BackgroundFlows,
    Capture,
    Flow,
    FlowLog,
    FlowSet,
    Nic,
    TcpResult,
    fabric_nics,
    ping,
    same_rail_pairs,
    tcp_transfer,
)
from hpn.routing.failures import FailureView
from hpn.routing.reach import reachability
from hpn.routing.state import LbMode
from hpn.telemetry import HOP_BYTES, IntStack, timestamp_delta, tx_bytes_delta
from hpn.telemetry.codec import TX_BYTES_UNIT
from hpn.telemetry.packets import decode_int_packet, validate_lengths_and_checksums
from hpn.topology.model import Fabric, NicPort, Role, SwitchPort


class CheckResult(Protocol):
    """What every check returns: a verdict, a one-line summary, the problems found, its duration."""

    problems: list[str]
    seconds: float

    @property
    def ok(self) -> bool: ...

    def summary(self) -> str: ...


@dataclass
class Lab:
    """A running emulation with its controller: what every check works on."""

    emulation: Emulation
    ctl: EmulationController
    nics: dict[tuple[str, int], Nic] = field(init=False)

    def __post_init__(self) -> None:
        self.nics = fabric_nics(self.emulation.layout)

    @property
    def fabric(self) -> Fabric:
        return self.emulation.fabric

    def nic(self, host: str, rail: int) -> Nic:
        return self.nics[(host, rail)]

    def tor(self, nic: Nic, port: int) -> str:
        sp = self.fabric.nic_switch_port(NicPort(nic.host, nic.rail, port))
        assert sp is not None, f"{nic} port {port} is not cabled"
        return sp.switch


def source_ports(label: str, count: int) -> list[int]:
    """`count` distinct source ports, pseudo-random but the same on every run for `label`.

    Consecutive ports differ only in their low bits, and CRC32 is linear: the
    switches' ECMP hash would split such a sequence unrealistically evenly.
    Random ports are the flow population a host's ephemeral ports give.
    """
    return random.Random(label).sample(range(20000, 60000), count)


def max_mean(values: Sequence[float]) -> float:
    """Load imbalance: the busiest link over the average link (1.0 is perfect)."""
    mean = statistics.fmean(values) if values else 0.0
    return max(values) / mean if mean > 0 else float("nan")


def _fails(*problems: str | None) -> list[str]:
    return [p for p in problems if p]


# -- connectivity -------------------------------------------------------------------------------


@dataclass
class ConnectivityResult:
    pairs: int
    ping_rtt: dict[str, float | None]  # "a -> b": seconds
    udp: dict[str, tuple[int, int]]  # "a -> b": (delivered, sent)
    tcp: dict[str, TcpResult]
    problems: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        pings = sum(v is not None for v in self.ping_rtt.values())
        udp_ok = sum(d == s for d, s in self.udp.values())
        tcp_ok = sum(t.ok for t in self.tcp.values())
        return (
            f"{self.pairs} NIC pairs (same rail, every rail): ping {pings}/{self.pairs}, "
            f"UDP {udp_ok}/{self.pairs}, TCP {tcp_ok}/{self.pairs}"
        )


async def connectivity(lab: Lab, udp_packets: int = 5, tcp_bytes: int = 16384) -> ConnectivityResult:
    """Every NIC reaches every other NIC of its rail: ping, a short UDP flow, a TCP transfer."""
    started = time.monotonic()
    pairs = same_rail_pairs(lab.nics.values())
    rtts = await asyncio.to_thread(ping, pairs)
    flows = [Flow(a, b, sport=20000 + i, dport=5001) for i, (a, b) in enumerate(pairs)]

    def udp() -> list[FlowLog]:
        with FlowSet(flows) as fs:
            return fs.run(rounds=udp_packets, interval=0.01)

    logs = await asyncio.to_thread(udp)
    tcps = []
    for i, (a, b) in enumerate(pairs):
        tcps.append(await asyncio.to_thread(tcp_transfer, a, b, tcp_bytes, 5201 + i))
    problems = [f"ping {a} -> {b}: no answer" for (a, b), rtt in rtts.items() if rtt is None]
    problems += [f"UDP {log.flow}: {len(log.lost)}/{len(log.sent)} lost" for log in logs if log.lost]
    problems += [
        f"TCP {t.src} -> {t.dst}: {t.error or f'{t.received}/{t.sent} bytes'}" for t in tcps if not t.ok
    ]
    return ConnectivityResult(
        pairs=len(pairs),
        ping_rtt={f"{a} -> {b}": rtt for (a, b), rtt in rtts.items()},
        udp={f"{log.flow.src} -> {log.flow.dst}": (len(log.received), len(log.sent)) for log in logs},
        tcp={f"{t.src} -> {t.dst}": t for t in tcps},
        problems=problems,
        seconds=time.monotonic() - started,
    )


# -- plane isolation ------------------------------------------------------------------------------


@dataclass
class PlaneIsolationResult:
    flows: int
    frames_by_plane: dict[int, int]  # test frames seen on the aggs of each plane
    crossings: int  # test frames seen in a plane other than the one they were sent into
    wrong_port: int  # test packets received on the other NIC port than they were sent from
    other_frames: int  # frames on agg links that are not test traffic
    problems: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        seen = ", ".join(f"plane {p}: {n}" for p, n in sorted(self.frames_by_plane.items()))
        return (
            f"{self.flows} flows pinned to each plane; frames on agg links: {seen}; "
            f"crossed planes: {self.crossings}; received on the wrong port: {self.wrong_port}"
        )


async def plane_isolation(lab: Lab, packets: int = 4) -> PlaneIsolationResult:
    """Flows pinned to port p of their NIC are seen only on plane-p agg links and arrive on port p."""
    started = time.monotonic()
    fabric = lab.fabric
    pairs = same_rail_pairs(lab.nics.values(), cross_segment=True)
    flows = [
        Flow(a, b, sport=21000 + 2 * i + p, dport=5002, port=p)
        for i, (a, b) in enumerate(pairs)
        for p in (0, 1)
    ]
    layout = lab.emulation.layout
    points: dict[str, tuple[str, str]] = {}
    plane_of: dict[str, int] = {}
    for agg in fabric.aggs():
        for port in fabric.switch_ports(agg.name):
            label = f"{agg.name}:{port}"
            points[label] = (layout.namespace, layout.switch_iface(agg.name, port))
            plane_of[label] = agg.plane
    for nic in {b for _, b in pairs}:
        for p, iface in enumerate(nic.ports):
            label = f"{nic}/p{p}"
            points[label] = (nic.netns, iface)

    def run() -> tuple[list[FlowLog], Capture]:
        with Capture(points) as cap, FlowSet(flows) as fs:
            logs = fs.run(rounds=packets, interval=0.01)
        return logs, cap

    logs, cap = await asyncio.to_thread(run)
    frames_by_plane = {p: 0 for p in fabric.planes}
    crossings = wrong_port = other = 0
    for point, frames in cap.by_point():
        for frame in frames:
            flow = _test_flow(frame.data, flows)
            if point in plane_of:
                if flow is None:
                    other += 1
                    continue
                frames_by_plane[plane_of[point]] += 1
                assert flow.port is not None
                if plane_of[point] != fabric.switch(lab.tor(flow.src, flow.port)).plane:
                    crossings += 1
            elif flow is not None and not frame.outgoing and not point.endswith(f"/p{flow.port}"):
                wrong_port += 1
    lost = sum(len(log.lost) for log in logs)
    problems = _fails(
        f"{crossings} test frames crossed planes" if crossings else None,
        f"{wrong_port} test packets arrived on the other NIC port" if wrong_port else None,
        f"{lost} test packets lost" if lost else None,
        *(
            f"no test frame seen on the aggs of plane {p} (capture broken?)"
            for p, n in frames_by_plane.items()
            if n == 0
        ),
    )
    return PlaneIsolationResult(
        len(flows), frames_by_plane, crossings, wrong_port, other, problems, time.monotonic() - started
    )


def _test_flow(data: bytes, flows: Sequence[Flow]) -> Flow | None:
    """The test flow an Ethernet frame belongs to (by its UDP source port and header), if any."""
    if len(data) < 34 or data[12:14] != b"\x08\x00" or data[23] != 17:
        return None
    udp = 14 + (data[14] & 0xF) * 4
    payload = data[udp + 8 :]
    if len(payload) < HEADER.size or payload[:4] != MAGIC:
        return None
    (sport,) = struct.unpack_from("!H", data, udp)
    _, i, _, _ = HEADER.unpack_from(payload)
    return flows[i] if i < len(flows) and flows[i].sport == sport else None


# -- INT ----------------------------------------------------------------------------------------------


@dataclass
class IntHopReport:
    switch: str
    port: int
    link_gbps: int | None
    expected_gbps: int
    tx_advance_bytes: int  # from the records, first to last probe
    counter_bytes: int  # port_tx over all probes, read over P4Runtime
    timestamp_steps_us: list[int]


@dataclass
class IntResult:
    probes_sent: int
    probes_decoded: int
    hops: list[IntHopReport]
    sender_steps_us: list[int]
    problems: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        path = " -> ".join(f"{h.switch}:{h.port}" for h in self.hops) or "?"
        return f"{self.probes_decoded}/{self.probes_sent} probes with {len(self.hops)} records each: {path}"


async def int_telemetry(lab: Lab, probes: int = 5, interval: float = 0.02) -> IntResult:
    """INT probes crossing ToR -> agg -> ToR: 3 HPCC records each, in path order, consistent.

    The path is found independently from the switches' port counters (the ports
    whose egress byte count grew by the probes), and each record is checked
    against it: the link rate of that port, its byte counter advancing by the
    probes' bytes, its timestamps advancing as the sender's clock did, and the
    probes leaving each hop one record (8 bytes) longer than the hop before.
    Timestamps compare only within one switch: each bmv2 counts from its own start.
    """
    started = time.monotonic()
    fabric = lab.fabric
    src = next(n for n in lab.nics.values() if n.segment == min(h.segment for h in fabric.hosts))
    dst = next(n for n in lab.nics.values() if n.rail == src.rail and n.segment != src.segment)
    flow = Flow(src, dst, sport=22000, dport=5003, port=0, int_probe=True)
    watch = {s.name: sorted(fabric.switch_ports(s.name)) for s in fabric.switches}
    before = await lab.ctl.port_tx(watch)
    point = {"dst": (dst.netns, dst.ports[0])}

    def run() -> tuple[list[FlowLog], Capture]:
        with Capture(point) as cap, FlowSet([flow]) as fs:
            logs = fs.run(rounds=probes, interval=interval)
        return logs, cap

    logs, cap = await asyncio.to_thread(run)
    after = await lab.ctl.port_tx(watch)
    problems: list[str] = []
    stacks: list[IntStack] = []
    for frame in cap.frames:
        if frame.outgoing:
            continue
        try:
            stack, _ = decode_int_packet(frame.data)
        except ValueError:
            continue
        problems += [f"received probe: {p}" for p in validate_lengths_and_checksums(frame.data)]
        stacks.append(stack)
    log = logs[0]
    if len(log.stacks) != probes:
        problems.append(f"{len(log.stacks)}/{probes} probes arrived with a decodable INT stack")
    grown = {k: after[k].bytes - before[k].bytes for k in after if after[k].bytes > before[k].bytes}
    path = _int_path(fabric, lab.tor(src, 0), lab.tor(dst, 0), dst, grown)
    if path is None:
        problems.append(
            f"port counters show no ToR -> agg -> ToR path for the probes (grown: {sorted(grown)})"
        )
        path = []
    hop_reports: list[IntHopReport] = []
    seqs = sorted(log.stacks)
    sender_steps = [round((log.sent[b] - log.sent[a]) * 1e6) for a, b in itertools.pairwise(seqs)]
    for i, (switch, port, expected) in enumerate(path):
        hops = [log.stacks[s].hops[i] for s in seqs if len(log.stacks[s].hops) > i]
        if not hops:
            continue
        steps = [timestamp_delta(a, b) for a, b in itertools.pairwise(hops)]
        advance = tx_bytes_delta(hops[0], hops[-1])
        rate = hops[0].link_rate_gbps
        hop_reports.append(
            IntHopReport(switch, port, rate, expected, advance, grown.get((switch, port), 0), steps)
        )
        if rate != expected:
            problems.append(
                f"record {i} ({switch}:{port}): link rate {rate} Gb/s, the link is {expected} Gb/s"
            )
        # Records hold the counter at each probe; first to last covers all probes but the first.
        per_probe = grown.get((switch, port), 0) / max(1, len(hops))
        if abs(advance - per_probe * (len(hops) - 1)) > 2 * TX_BYTES_UNIT:
            problems.append(
                f"record {i} ({switch}:{port}): tx_bytes advanced {advance} B over {len(hops) - 1} probes, "
                f"the port counter says {per_probe:.0f} B a probe"
            )
        for step, sent in zip(steps, sender_steps, strict=False):
            if abs(step - sent) > max(5000, sent // 2):
                problems.append(
                    f"record {i} ({switch}): timestamp advanced {step} us, the sender's clock {sent} us"
                )
                break
    # Each hop appends one record, so the probe leaves each hop HOP_BYTES longer than the hop before.
    sizes = [h.counter_bytes / max(1, len(seqs)) for h in hop_reports]
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        if abs(b - a - HOP_BYTES) > 0.5:
            problems.append(
                f"hop {i + 1} sent probes of {b:.0f} B after hop {i}'s {a:.0f} B, not {HOP_BYTES} B more"
            )
    for s in seqs:
        n = len(log.stacks[s].hops)
        if n != 3 or log.stacks[s].overflow:
            problems.append(f"probe {s}: {n} records (overflow={log.stacks[s].overflow}), expected 3")
            break
    return IntResult(probes, len(log.stacks), hop_reports, sender_steps, problems, time.monotonic() - started)


def _int_path(
    fabric: Fabric, src_tor: str, dst_tor: str, dst: Nic, grown: dict[tuple[str, int], int]
) -> list[tuple[str, int, int]] | None:
    """(switch, egress port, link Gb/s) of the probes' 3 hops, from the counters that grew."""
    up = [
        (s, p)
        for (s, p) in grown
        if s == src_tor and fabric.switch(s).role is Role.TOR and p in _uplinks(fabric, s)
    ]
    if len(up) != 1:
        return None
    tor_port = up[0][1]
    link = fabric.link_at(src_tor, tor_port)
    assert link is not None
    agg_end = link.other(SwitchPort(src_tor, tor_port))
    assert isinstance(agg_end, SwitchPort)
    down = [(s, p) for (s, p) in grown if s == agg_end.switch]
    host_port = fabric.nic_switch_port(NicPort(dst.host, dst.rail, 0))
    if len(down) != 1 or host_port is None or host_port.switch != dst_tor:
        return None
    agg_link = fabric.link_at(*down[0])
    host_link = fabric.link_at(dst_tor, host_port.port)
    assert agg_link is not None and host_link is not None
    return [
        (src_tor, tor_port, link.gbps),
        (down[0][0], down[0][1], agg_link.gbps),
        (dst_tor, host_port.port, host_link.gbps),
    ]


def _uplinks(fabric: Fabric, tor: str) -> list[int]:
    return [
        port
        for port, peer in fabric.peers(tor).items()
        if isinstance(peer, SwitchPort) and fabric.switch(peer.switch).role is Role.AGG
    ]


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
class LoadBalancingResult:
    flows: int
    packets_per_flow: int
    modes: dict[LbMode, ModeLoad]
    problems: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems

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


LB_LOSS_TOLERANCE = 0.05
"""Share of packets the LB measurement may lose on an overloaded 2-core emulation."""


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
            before = await lab.ctl.port_tx(watch)

            def run() -> list[FlowLog]:
                with FlowSet(flow_list, size=500) as fs:
                    return fs.run(rounds=bursts, interval=gap, burst=burst)

            logs = await asyncio.to_thread(run)
            after = await lab.ctl.port_tx(watch)
            link_bytes = {f"{s}:{p}": after[(s, p)].bytes - before[(s, p)].bytes for (s, p) in after}
            per_switch = {t: max_mean([link_bytes[f"{t}:{p}"] for p in ports]) for t, ports in watch.items()}
            lost = sum(len(log.lost) for log in logs)
            results[mode] = ModeLoad(
                mode,
                link_bytes,
                max_mean(list(link_bytes.values())),
                per_switch,
                sum(len(x.sent) for x in logs),
                lost,
            )
            sent = sum(len(x.sent) for x in logs)
            # Loss is the reachability check's business; here it only must not be large
            # enough to distort the byte counters the ratio is computed from.
            if lost > LB_LOSS_TOLERANCE * sent:
                problems.append(f"{mode.name.lower()}: {lost}/{sent} packets lost")
    finally:
        report = await lab.ctl.set_lb_mode(None)
        if not report.ok:
            problems += report.errors
    return LoadBalancingResult(flows, bursts * burst, results, problems, time.monotonic() - started)


# -- hash polarization ------------------------------------------------------------------------------


@dataclass
class PolarizationResult:
    fabric: str
    merged: bool
    destination: str
    senders: int
    flows: int
    downlink_bytes: dict[str, int]  # agg -> ToR links toward the destination NIC
    nic_link_bytes: dict[str, int]  # ToR -> NIC port links
    ratio: float
    problems: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems

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
    before = await lab.ctl.port_tx(watch)

    def run() -> list[FlowLog]:
        with FlowSet(flow_list, size=500) as fs:
            return fs.run(rounds=packets, interval=0.01)

    logs = await asyncio.to_thread(run)
    after = await lab.ctl.port_tx(watch)

    def grown(sw: str, port: int) -> int:
        return after[(sw, port)].bytes - before[(sw, port)].bytes

    down = {f"{a}:{p}": grown(a, p) for a, ports in downlinks.items() for p in ports}
    to_nic = {f"{s}:{p}": grown(s, p) for s, ports in nic_ports.items() for p in ports}
    lost = sum(len(log.lost) for log in logs)
    problems = _fails(
        f"{lost} packets lost" if lost else None, "no downlink toward the NIC" if not down else None
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
        problems,
        time.monotonic() - started,
    )


# -- switch restart ----------------------------------------------------------------------------------


@dataclass
class RestartResult:
    switch: str
    seconds_to_listen: float
    seconds_to_resync: float
    seconds_to_traffic: float
    resync_pipeline_pushed: bool
    resync_entries: int
    delivered_before: tuple[int, int]
    delivered_after: tuple[int, int]
    problems: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"{self.switch} killed and restarted: listening after {self.seconds_to_listen:.2f}s, "
            f"re-programmed ({self.resync_entries} entries) after {self.seconds_to_resync:.2f}s, "
            f"traffic through it after {self.seconds_to_traffic:.2f}s"
        )


async def restart(lab: Lab, timeout: float = 60.0) -> RestartResult:
    """Kill one ToR's bmv2, start it again: keep_in_sync re-programs it and traffic through it resumes."""
    started = time.monotonic()
    segments = sorted({h.segment for h in lab.fabric.hosts})
    src = next(n for n in lab.nics.values() if n.segment == segments[0])
    victim = lab.tor(src, 0)
    peers = [n for n in lab.nics.values() if n.rail == src.rail and n.host != src.host]
    flows = [Flow(src, b, sport=25000 + i, dport=5006, port=0) for i, b in enumerate(peers)]

    def through(rounds: int) -> tuple[int, int]:
        with FlowSet(flows) as fs:
            logs = fs.run(rounds=rounds, interval=0.01, drain_timeout=1.0)
        return sum(len(x.received) for x in logs), sum(len(x.sent) for x in logs)

    problems: list[str] = []
    lab.ctl.start_keep_in_sync()
    while not lab.ctl.resynced.empty():
        lab.ctl.resynced.get_nowait()
    before = await asyncio.to_thread(through, 3)
    if before[0] != before[1]:
        problems.append(f"before the restart only {before[0]}/{before[1]} packets went through {victim}")
    await asyncio.to_thread(lab.emulation.control, "kill", switch=victim)
    t_start = time.monotonic()
    await asyncio.to_thread(lab.emulation.control, "start", switch=victim)
    t_listen = time.monotonic()
    resync_pushed, entries = False, 0
    try:
        while True:
            report = await asyncio.wait_for(lab.ctl.resynced.get(), timeout)
            if report.name == victim:
                break
        t_sync = time.monotonic()
        resync_pushed, entries = report.pipeline_pushed, report.inserted + report.modified
        if not report.ok:
            problems += report.errors
        if not report.pipeline_pushed:
            problems.append(f"{victim}: re-sync did not push the pipeline to the fresh switch")
    except TimeoutError:
        t_sync = time.monotonic()
        problems.append(f"{victim} was not re-synced within {timeout:.0f}s")
    after = await asyncio.to_thread(through, 3)
    t_traffic = time.monotonic()
    if after[0] != after[1]:
        problems.append(f"after the restart {after[0]}/{after[1]} packets went through {victim}")
    return RestartResult(
        victim,
        t_listen - t_start,
        t_sync - t_start,
        t_traffic - t_start,
        resync_pushed,
        entries,
        before,
        after,
        problems,
        time.monotonic() - started,
    )


# -- failures with traffic running ---------------------------------------------------------------------


@dataclass
class FailoverEvent:
    what: str
    links: tuple[str, ...]
    switches: tuple[str, ...]
    hosts_seconds: float  # cables + host routes
    push_seconds: float
    recovery: float | None  # seconds until every affected flow delivered again (None: never)
    affected_flows: int
    lost_packets: int
    reachable: tuple[int, int]  # pairs answering ping under this failure view
    problems: list[str]
    loss_window: tuple[float, float] | None = None  # first and last lost packet, seconds after the step


@dataclass
class FailoverResult:
    flows: int
    interval: float
    events: list[FailoverEvent]
    problems: list[str]
    seconds: float
    target: float = 1.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        parts = [
            f"{e.what}: {'never' if e.recovery is None else f'{e.recovery * 1000:.0f} ms'}"
            f" ({e.affected_flows} flows hit)"
            for e in self.events
        ]
        return f"{self.flows} flows running; traffic flows again after: " + "; ".join(parts)


def default_failures(fabric: Fabric) -> list[tuple[str, list[str], list[str]]]:
    """A host-ToR link, a ToR-agg link, then a whole agg: (label, links, switches), cumulative.

    Picked to hit the cross-segment traffic of the first rail in both planes,
    and checked with hpn.routing.reach so that together they cut no NIC pair.
    """
    hosts = sorted(fabric.hosts, key=lambda h: (h.segment, h.index))
    first, last = hosts[0], hosts[-1]
    rail = first.nics[0].rail
    host_link = f"{first.name}/nic{rail}/p0"
    tor = fabric.nic_switch_port(NicPort(last.name, rail, 1 if len(fabric.planes) > 1 else 0))
    assert tor is not None
    tor_link = f"{tor.switch}:{_uplinks(fabric, tor.switch)[0]}"
    agg = fabric.aggs(0)[-1].name
    steps = [
        ("host-ToR link", [host_link], []),
        ("ToR-agg link", [host_link, tor_link], []),
        ("agg switch", [host_link, tor_link], [agg]),
    ]
    for label, links, switches in steps:
        if not reachability(fabric, FailureView.parse(fabric, links, switches)).ok:
            raise ValueError(f"the default failures cut NIC pairs at step {label!r}; pass others")
    return steps


async def failover(
    lab: Lab,
    steps: Sequence[tuple[str, list[str], list[str]]] | None = None,
    flows_per_pair: int = 3,
    interval: float = 0.025,
    settle: float = 0.3,
    timeout: float = 10.0,
) -> FailoverResult:
    """Take parts of the fabric down with traffic running; measure how soon traffic flows again.

    Flows run between the segments on the first rail, several per NIC pair,
    each leaving on whichever port the host's multipath hash picks. After each
    step the check waits until every flow delivers again (or `timeout`), pings
    every same-rail pair under the new view, and lets traffic run `settle`
    seconds more. The fabric is restored at the end (a step of its own).
    """
    started = time.monotonic()
    fabric = lab.fabric
    steps = list(steps) if steps is not None else default_failures(fabric)
    rail = min(n.rail for n in lab.nics.values())
    pairs = same_rail_pairs(lab.nics.values(), rail=rail, cross_segment=True)
    sports = source_ports("failover", len(pairs) * flows_per_pair)
    flows = [
        Flow(a, b, sport=sports[i * flows_per_pair + k], dport=5007)
        for i, (a, b) in enumerate(pairs)
        for k in range(flows_per_pair)
    ]
    all_pairs = same_rail_pairs(lab.nics.values())
    events: list[FailoverEvent] = []
    problems: list[str] = []
    marks: list[float] = []  # when each step began
    reacted: list[float] = []  # when the controller had applied it (cables, hosts, switches)
    with BackgroundFlows(flows, interval) as bg:
        if not await asyncio.to_thread(bg.wait_delivering, time.monotonic(), timeout):
            problems.append("background flows did not start delivering")
        for label, links, switches in [*steps, ("restore", [], [])]:
            t0 = time.monotonic()
            marks.append(t0)
            change = await lab.ctl.set_failures(links, switches)
            reacted.append(time.monotonic())
            push_seconds = change.push.seconds
            delivering = await asyncio.to_thread(bg.wait_delivering, time.monotonic(), timeout)
            answers = await asyncio.to_thread(ping, all_pairs)
            reachable = sum(v is not None for v in answers.values())
            # Keep the traffic running a little: late losses show up in the logs too.
            await asyncio.to_thread(bg.run_for, settle)
            ev_problems = list(change.push.errors)
            if not delivering:
                ev_problems.append(f"some flows did not deliver again within {timeout:.0f}s")
            if reachable != len(all_pairs):
                missing = [f"{a} -> {b}" for (a, b), v in answers.items() if v is None]
                ev_problems.append(f"unreachable under {label}: {', '.join(missing[:5])}")
            events.append(
                FailoverEvent(
                    label,
                    tuple(links),
                    tuple(switches),
                    change.hosts_seconds,
                    push_seconds,
                    None,
                    0,
                    0,
                    (reachable, len(all_pairs)),
                    ev_problems,
                )
            )
        logs = bg.stop()
    for i, ev in enumerate(events):
        t0 = marks[i]
        t_next = marks[i + 1] if i + 1 < len(marks) else float("inf")
        recoveries = []
        lost_at: list[float] = []
        for log in logs:
            window = [s for s in log.lost if t0 - interval <= log.sent[s] < t_next]
            lost_at += [log.sent[s] - t0 for s in window]
            # An outage the step caused began before the controller had finished reacting to it.
            recovery = log.recovery_after(t0, interval, until=reacted[i] + interval)
            if recovery != 0.0:
                recoveries.append(recovery)
        ev.affected_flows = len(recoveries)
        ev.lost_packets = len(lost_at)
        ev.loss_window = (min(lost_at), max(lost_at)) if lost_at else None
        ev.recovery = (
            0.0
            if not recoveries
            else (None if None in recoveries else max(r for r in recoveries if r is not None))
        )
        if ev.recovery is None:
            ev.problems.append("a flow never delivered again")
        problems += [f"{ev.what}: {p}" for p in ev.problems]
    return FailoverResult(len(flows), interval, events, problems, time.monotonic() - started)

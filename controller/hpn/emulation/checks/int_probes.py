"""INT: RoCEv2 probes crossing ToR -> agg -> ToR get one consistent HPCC hop slot per switch."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from hpn.emulation.checks.base import Lab, Verdict, _uplinks, run_flows
from hpn.emulation.traffic import EmulatedNic, Flow
from hpn.telemetry import ROCEV2_UDP_PORT, TX_BYTES_UNIT, IntStack, timestamp_delta, tx_bytes_delta
from hpn.telemetry.codec import IntHop, unwrap_step_ns
from hpn.telemetry.packets import decode_int_packet, validate_lengths_and_checksums
from hpn.topology.model import Fabric, NicPort, Role, SwitchPort


@dataclass
class IntHopReport:
    switch: str
    port: int
    link_gbps: int | None
    expected_gbps: int
    tx_advance_bytes: int  # from the slots, first to last probe
    counter_bytes: int  # port_tx over all probes, read over P4Runtime
    timestamp_steps_ns: list[int]


@dataclass
class IntResult(Verdict):
    probes_sent: int
    probes_decoded: int
    hops: list[IntHopReport]
    sender_steps_ns: list[int]
    problems: list[str]
    seconds: float

    def summary(self) -> str:
        path = " -> ".join(f"{h.switch}:{h.port}" for h in self.hops) or "?"
        skew = max((abs(clock_skew_ns(h, self.sender_steps_ns)) for h in self.hops), default=0)
        return (
            f"{self.probes_decoded}/{self.probes_sent} probes with {len(self.hops)} hops each: {path} "
            f"(hop clocks within {skew / 1e6:.1f} ms of the sender's over the probes)"
        )


def clock_skew_ns(hop: IntHopReport, sender_steps_ns: list[int]) -> int:
    """How far a hop's time from the first probe to the last is from the sender's: what a
    busy machine adds (a starved bmv2 handles queued probes in a burst). Reported, never
    checked: it measures the machine, not the switch."""
    return sum(hop.timestamp_steps_ns) - sum(sender_steps_ns[: len(hop.timestamp_steps_ns)])


async def int_telemetry(lab: Lab, probes: int = 5, interval: float = 0.005) -> IntResult:
    """INT probes crossing ToR -> agg -> ToR: nhop 3, slots in path order, consistent.

    The path is found independently from the switches' port counters (the ports
    whose egress byte count grew by the probes), and each slot is checked
    against it: the link rate of that port, its byte counter advancing by the
    probes' bytes, its timestamps advancing probe after probe, and the
    probes keeping their size at every hop (the stack is filled in place).
    Timestamps compare only within one switch: each bmv2 counts from its own start.
    They wrap every 2^24 ns (16.8 ms): each step is unwrapped by the sender's own
    step between the same two probes (`unwrap_step_ns`), so a probe that reaches a
    switch a few ms late is not read as one that went back. Each switch's stamps must
    advance probe after probe; how far they drift from the sender's clock depends on
    the machine's load and is only reported (summary).
    """
    started = time.monotonic()
    fabric = lab.fabric
    src = next(n for n in lab.nics.values() if n.segment == min(h.segment for h in fabric.hosts))
    dst = next(n for n in lab.nics.values() if n.rail == src.rail and n.segment != src.segment)
    flow = Flow(src, dst, sport=22000, dport=ROCEV2_UDP_PORT, port=0, int_probe=True)
    watch = {s.name: sorted(fabric.switch_ports(s.name)) for s in fabric.switches}
    point = {"dst": (dst.netns, dst.ports[0])}
    run = await run_flows(lab, [flow], rounds=probes, interval=interval, capture=point, watch=watch)
    problems: list[str] = []
    stacks: list[IntStack] = []
    for frame in run.capture.frames:
        if frame.outgoing:
            continue
        try:
            stack = decode_int_packet(frame.data).stack
        except ValueError:
            continue
        problems += [f"received probe: {p}" for p in validate_lengths_and_checksums(frame.data)]
        stacks.append(stack)
    log = run.logs[0]
    if len(log.stacks) != probes:
        problems.append(f"{len(log.stacks)}/{probes} probes arrived with a decodable INT stack")
    grown = {k: n for k, n in run.tx_bytes.items() if n > 0}
    path = _int_path(fabric, lab.tor(src, 0), lab.tor(dst, 0), dst, grown)
    if path is None:
        problems.append(
            f"port counters show no ToR -> agg -> ToR path for the probes (grown: {sorted(grown)})"
        )
        path = []
    hop_reports: list[IntHopReport] = []
    seqs = sorted(log.stacks)
    sender_steps = [round((log.sent[b] - log.sent[a]) * 1e9) for a, b in itertools.pairwise(seqs)]
    for i, (switch, port, expected) in enumerate(path):
        at_hop = [s for s in seqs if len(log.stacks[s].hops) > i]
        if not at_hop:
            continue
        hops = [log.stacks[s].hops[i] for s in at_hop]
        steps_sent = [round((log.sent[b] - log.sent[a]) * 1e9) for a, b in itertools.pairwise(at_hop)]
        report, slot_problems = check_slot(
            i, switch, port, expected, hops, steps_sent, grown.get((switch, port), 0)
        )
        hop_reports.append(report)
        problems += slot_problems
    # Each hop fills its slot in place, so the probe leaves every hop with the same size.
    sizes = [h.counter_bytes / max(1, len(seqs)) for h in hop_reports]
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        if abs(b - a) > 0.5:
            problems.append(f"hop {i + 1} sent probes of {b:.0f} B, hop {i} of {a:.0f} B: they must not grow")
    for s in seqs:
        n = log.stacks[s].nhop
        if n != 3:
            problems.append(f"probe {s}: nhop {n}, expected 3")
            break
    return IntResult(probes, len(log.stacks), hop_reports, sender_steps, problems, time.monotonic() - started)


def check_slot(
    slot: int,
    switch: str,
    port: int,
    expected_gbps: int,
    hops: list[IntHop],
    sender_steps_ns: list[int],
    counter_bytes: int,
) -> tuple[IntHopReport, list[str]]:
    """One slot of the probes, in probe order, against the port the counters put there.

    ``sender_steps_ns[k]`` is how far apart the sender sent the probes of ``hops[k]`` and
    ``hops[k + 1]``; ``counter_bytes`` what the port's egress counter grew by over all of them.
    """
    problems: list[str] = []
    wrapped = [timestamp_delta(a, b) for a, b in itertools.pairwise(hops)]
    steps = [unwrap_step_ns(w, sent) for w, sent in zip(wrapped, sender_steps_ns, strict=True)]
    advance = tx_bytes_delta(hops[0], hops[-1])
    rate = hops[0].link_rate_gbps
    report = IntHopReport(switch, port, rate, expected_gbps, advance, counter_bytes, steps)
    if rate != expected_gbps:
        problems.append(
            f"slot {slot} ({switch}:{port}): link rate {rate} Gb/s, the link is {expected_gbps} Gb/s"
        )
    # A slot holds the bytes sent before its probe: first to last covers every probe but the last.
    per_probe = counter_bytes / len(hops)
    if abs(advance - per_probe * (len(hops) - 1)) > 2 * TX_BYTES_UNIT:
        problems.append(
            f"slot {slot} ({switch}:{port}): tx_bytes advanced {advance} B over {len(hops) - 1} probes, "
            f"the port counter says {per_probe:.0f} B a probe"
        )
    if any(step <= 0 for step in steps):
        problems.append(f"slot {slot} ({switch}): timestamps do not advance probe after probe: {steps}")
    return report, problems


def _int_path(
    fabric: Fabric, src_tor: str, dst_tor: str, dst: EmulatedNic, grown: dict[tuple[str, int], int]
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

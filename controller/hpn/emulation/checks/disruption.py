"""Disruption: a switch restarted, and parts of the fabric failing with traffic running."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hpn.emulation.checks.base import Lab, Verdict, _uplinks, run_flows, source_ports
from hpn.emulation.traffic import BackgroundFlows, Flow, ping, same_rail_pairs
from hpn.routing.failures import FailureView
from hpn.routing.reach import reachability
from hpn.topology.model import Fabric, NicPort

# -- switch restart ----------------------------------------------------------------------------------


@dataclass
class RestartResult(Verdict):
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

    async def through(rounds: int) -> tuple[int, int]:
        run = await run_flows(lab, flows, rounds=rounds, interval=0.01, drain_timeout=1.0)
        return run.delivered, run.sent

    problems: list[str] = []
    lab.ctl.start_keep_in_sync()
    while not lab.ctl.resynced.empty():
        lab.ctl.resynced.get_nowait()
    before = await through(3)
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
    after = await through(3)
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
class FailoverResult(Verdict):
    flows: int
    interval: float
    events: list[FailoverEvent]
    problems: list[str]
    seconds: float
    target: float = 1.0

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

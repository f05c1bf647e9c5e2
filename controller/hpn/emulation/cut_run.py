"""One failure caused under a running `hpnctl run`, with traffic across it, and undone.

No `hpnctl link` and no failure view is given to anyone: the emulation only cuts (a cable
in the patch panel, with the hosts not told, or a switch's bmv2 killed) and undoes it (the
cable plugged back, the bmv2 started again). The runner (a process, hpn.emulation.
runner_process) must find the failure from its probes and sessions, write the affected
switches, and return the fabric to the intact state afterwards.

`run_cut` measures, with paced UDP flows between the host pairs the cut affects
(hpn.emulation.traffic): the time until every flow it hit delivers again and the flows
that never did (hpn.emulation.recovery); the runner's events around it
(hpn.emulation.timeline); and whether the fabric came back intact: the runner's failure
view empty (its metrics) and no switch's entries differing from the intact fabric's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from hpn.desired import desired_entities, desired_states
from hpn.emulation.checks.base import source_ports
from hpn.emulation.emulation import Emulation
from hpn.emulation.recovery import CutRecovery, cut_recovery
from hpn.emulation.runner_readings import EventsTail, followed_by, scrape, subjects_of
from hpn.emulation.timeline import CutTimeline, cut_timeline
from hpn.emulation.traffic import BackgroundFlows, EmulatedNic, Flow, same_rail_pairs
from hpn.operations.events import Event, EventKind
from hpn.routing.failures import FailureView
from hpn.runtime import FabricSession
from hpn.topology.model import Fabric, Link, NicPort, SwitchPort

NS = 1_000_000_000


@dataclass(frozen=True)
class CutTimeouts:
    start: float = 10.0
    """For the flows to deliver before the cut."""
    steady: float = 0.3
    """Traffic before the cut."""
    written: float = 20.0
    """For the runner to declare the cut and write."""
    recover: float = 5.0
    """For every flow to deliver again after the cut; a flow that has not is lost."""
    settle: float = 0.5
    """Traffic after that: later losses show in the logs too."""
    restored: float = 60.0
    """For the runner to restore what came back (hold-downs, a switch's reconnect)."""
    intact: float = 60.0
    """For the failure view to be empty and the switches' entries to equal the intact ones,
    before the cut (an earlier one may not be healed yet) and after the undo."""


@dataclass(frozen=True)
class Cut:
    """One failure: how to cause and undo it, which events name it, which pairs it hits."""

    kind: str
    name: str
    cause: Callable[[], object]
    undo: Callable[[], object]
    subjects: frozenset[str]
    """The runner's event subjects about it: cables, or a switch and its cables."""
    cables: frozenset[str]
    """Its switch-to-switch cables (the runner declares and restores those)."""
    pairs: tuple[tuple[EmulatedNic, EmulatedNic], ...]
    seen_by_runner: bool
    """The runner can see it (a host cable it cannot: ARP is not punted yet)."""
    switch: str | None = None
    """The switch killed, if that is the cut."""


def _switch_cables(links: Sequence[Link]) -> frozenset[str]:
    return frozenset(
        str(link) for link in links if isinstance(link.a, SwitchPort) and isinstance(link.b, SwitchPort)
    )


def cable_cut(emu: Emulation, nics: Sequence[EmulatedNic], link: Link) -> Cut:
    """A ToR-agg cable pulled in the patch panel; traffic: the cross-segment pairs of the
    ToR's rail."""
    tor = next(
        e for e in link.ends() if isinstance(e, SwitchPort) and emu.fabric.switch(e.switch).rail is not None
    )
    pairs = same_rail_pairs(nics, rail=emu.fabric.switch(tor.switch).rail, cross_segment=True)
    return Cut(
        "ToR-agg cable",
        str(link),
        lambda: _plug(emu, [str(tor)]),
        lambda: _plug(emu, []),
        frozenset({str(link)}),
        frozenset({str(link)}),
        tuple(pairs),
        True,
    )


def host_cable_cut(emu: Emulation, nics: Sequence[EmulatedNic], port: NicPort) -> Cut:
    """The receiving NIC's cable to its ToR pulled; traffic: every same-rail NIC to it."""
    link = emu.fabric.nic_link(port)
    assert link is not None, f"{port} is not cabled"
    dst = next(n for n in nics if n.host == port.host and n.rail == port.rail)
    pairs = [(src, dst) for src in nics if src.rail == dst.rail and src.host != dst.host]
    return Cut(
        "host cable (receiver)",
        str(link),
        lambda: _plug(emu, [str(port)]),
        lambda: _plug(emu, []),
        frozenset({str(link)}),
        frozenset(),
        tuple(pairs),
        False,
    )


def switch_kill(emu: Emulation, nics: Sequence[EmulatedNic], switch: str) -> Cut:
    """A switch's bmv2 killed (SIGKILL) and started again empty; traffic: the
    cross-segment pairs of the lowest rail."""
    rail = min(n.rail for n in nics)
    cables = _switch_cables(list(emu.fabric.switch_ports(switch).values()))
    return Cut(
        f"{emu.fabric.switch(switch).role.value} bmv2 killed",
        switch,
        lambda: emu.control("kill", switch=switch),
        lambda: emu.control("start", switch=switch),
        frozenset({switch}) | cables,
        cables,
        tuple(same_rail_pairs(nics, rail=rail, cross_segment=True)),
        True,
        switch,
    )


def _plug(emu: Emulation, unplugged: list[str]) -> None:
    """The cables at `unplugged` out, every other in; the hosts' routes are left alone."""
    emu.control("failures", links=unplugged, cables=True, hosts=False)


def cut_flows(cut: Cut, per_pair: int, dport: int = 5011) -> list[Flow]:
    """`per_pair` unpinned flows per host pair of the cut (the hosts' hash picks the plane)."""
    sports = source_ports(f"cut {cut.name}", len(cut.pairs) * per_pair)
    return [
        Flow(a, b, sport=sports[i * per_pair + k], dport=dport)
        for i, (a, b) in enumerate(cut.pairs)
        for k in range(per_pair)
    ]


SwitchDiff = Callable[[], Awaitable[list[str]]]
"""The switches whose entries differ from the intact fabric's, readable (empty: none)."""


def intact_diff(session: FabricSession, fabric: Fabric) -> SwitchDiff:
    """A `SwitchDiff` reading every switch of `fabric` through `session` (a backup
    controller may read)."""
    intact = desired_entities(desired_states(fabric, FailureView()))

    async def differing() -> list[str]:
        diffs = await session.diff(intact)
        return [f"{n}: {d.summary()}" for n, d in sorted(diffs.items()) if not d.is_empty]

    return differing


@dataclass
class CutOutcome:
    cut: Cut
    recovery: CutRecovery
    timeline: CutTimeline
    declared: bool
    written: bool
    restored: bool
    intact: bool
    delivering_again: bool
    """Every flow delivered again after the undo."""
    problems: list[str] = field(default_factory=list)


async def run_cut(
    cut: Cut,
    tail: EventsTail,
    metrics_url: str,
    differing: SwitchDiff,
    interval: float = 0.02,
    per_pair: int = 3,
    timeouts: CutTimeouts | None = None,
    running: Callable[[], bool] = lambda: True,
) -> CutOutcome:
    """Cause `cut` with traffic running, measure, undo it, wait until the fabric is intact.

    `tail` follows the runner's events, `running` says whether the runner still runs."""
    to = timeouts or CutTimeouts()
    problems: list[str] = []
    tail.read()
    if await _wait_intact(metrics_url, differing, to.intact, problems, "before the cut") is None:
        problems[-1] += " (what follows is not this cut's alone)"
    with BackgroundFlows(cut_flows(cut, per_pair), interval) as bg:
        started = time.monotonic()
        if not await asyncio.to_thread(bg.wait_delivering, started, to.start):
            problems.append(f"the flows did not deliver before the cut: {_silent(bg, started)}")
        await asyncio.to_thread(bg.run_for, to.steady)
        t_cut = time.monotonic()
        await asyncio.to_thread(cut.cause)
        t_caused = time.monotonic()
        declared = written = not cut.seen_by_runner
        if cut.seen_by_runner:
            written = await asyncio.to_thread(
                tail.wait_for, lambda ev: _written(ev, cut, t_cut), to.written, running
            )
            after = [e for e in tail.since(t_cut) if e.subject in cut.subjects]
            declared = bool({EventKind.DECLARED, EventKind.SWITCH_DOWN} & {e.kind for e in after})
        await asyncio.to_thread(bg.wait_delivering, t_caused + 2 * interval, to.recover)
        await asyncio.to_thread(bg.run_for, to.settle)
        t_back = time.monotonic()
        await asyncio.to_thread(cut.undo)
        t_undone = time.monotonic()
        restored = True
        if cut.seen_by_runner:
            fell = _fell(tail, cut, t_cut, t_back)
            restored = await asyncio.to_thread(
                tail.wait_for, lambda ev: _restored(ev, cut, fell, t_back), to.restored, running
            )
        intact_after = await _wait_intact(metrics_url, differing, to.intact, problems, "after the undo")
        intact = intact_after is not None
        delivering = await asyncio.to_thread(bg.wait_delivering, t_undone + 2 * interval, to.recover)
        t_end = time.monotonic()
    tail.read()
    logs = bg.logs
    recovery = cut_recovery(logs, t_cut, t_back, onset=(t_caused - t_cut) + 2 * interval, grace=interval)
    intact_s = None if intact_after is None else intact_after - t_back
    timeline = cut_timeline(
        cut.name,
        tail.events,
        set(cut.subjects),
        t_cut,
        t_back,
        t_end,
        recovery.recovery if not recovery.lost_flows else None,
        intact_s,
    )
    if cut.seen_by_runner and not declared:
        problems.append(f"{cut.name}: the runner did not declare it down")
    if cut.seen_by_runner and not written:
        problems.append(f"{cut.name}: the runner did not write the affected switches")
    if not restored:
        problems.append(f"{cut.name}: the runner did not restore it")
    if not delivering:
        problems.append(f"flows not delivering again after the undo: {_silent(bg, t_undone + 2 * interval)}")
    return CutOutcome(cut, recovery, timeline, declared, written, restored, intact, delivering, problems)


def _written(events: list[Event], cut: Cut, t_cut: float) -> bool:
    """The runner declared the cut (a cable, or its switch) and wrote after that."""
    since = [e for e in events if e.t_ns >= t_cut * NS]
    return followed_by(since, set(cut.subjects), EventKind.DECLARED, EventKind.WRITTEN) or followed_by(
        since, set(cut.subjects), EventKind.SWITCH_DOWN, EventKind.WRITTEN
    )


def _fell(tail: EventsTail, cut: Cut, t_cut: float, t_back: float) -> set[str]:
    """The cut's cables the runner declared down between the cut and the undo, read up to
    now (a killed switch is written for at once, its cables are declared later)."""
    tail.read()
    during = [e for e in tail.since(t_cut) if e.t_ns < t_back * NS]
    return subjects_of(during, EventKind.DECLARED) & cut.cables


def _restored(events: list[Event], cut: Cut, fell: set[str], t_back: float) -> bool:
    """After the undo: the switch (if killed) is back, each cable that fell is restored,
    and the runner wrote after the last of those."""
    since = [e for e in events if e.t_ns >= t_back * NS]
    needed = set(fell)
    if cut.switch is not None and not any(
        e.kind is EventKind.SWITCH_UP and e.subject == cut.switch for e in since
    ):
        return False
    last = -1
    for i, e in enumerate(since):
        if e.kind is EventKind.RESTORED and e.subject in needed:
            needed.discard(e.subject)
            last = i
    if needed:
        return False
    return any(e.kind is EventKind.WRITTEN and e.subject in cut.subjects for e in since[last + 1 :])


async def _wait_intact(
    url: str, differing: SwitchDiff, timeout: float, problems: list[str], when: str
) -> float | None:
    """The monotonic time the runner's failure view was empty and no switch differed from
    the intact fabric (None: not within `timeout`; what was left goes to `problems`)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            numbers = await asyncio.to_thread(scrape, url)
            view = [] if numbers.failure_view_empty else [f"failure view holds {numbers.failure_view}"]
        except OSError as exc:
            view = [f"metrics at {url} unreadable: {exc}"]
        left = view + await differing()
        if not left:
            return time.monotonic()
        if time.monotonic() >= deadline:
            problems.append(f"not intact {when} within {timeout:.0f} s: " + "; ".join(left[:4]))
            return None
        await asyncio.sleep(0.5)


def _silent(bg: BackgroundFlows, after: float) -> str:
    """The flows that delivered nothing sent at or after `after` (the first few)."""
    silent = [str(log.flow) for log in bg.logs if log.latest < 0 or log.sent[log.latest] < after]
    return ", ".join(silent[:4]) + (f" and {len(silent) - 4} more" if len(silent) > 4 else "")

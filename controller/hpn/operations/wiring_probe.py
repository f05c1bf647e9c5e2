"""The wiring check on the live fabric, once: `hpnctl wiring TOPOLOGY` without `--observed`.

Every switch is connected to as primary (only the primary gets packet-ins); a switch
another controller holds is named and nothing is sent anywhere. Nothing is written
either: the switches must already hold their entries (`hpnctl push`, or `hpnctl run`),
whose cpu_punt entries hand the link probes (ethertype 0x88B5) and, on a ToR, the ARP it
does not answer (0x0806) to the controller. Each switch's cpu_punt entries are read
first (`FabricSession.diff` of them alone); a switch that lacks them is named, and its
own ports are not checked (it punts nothing), but it still sends its probes. As with
every hpnctl command, the session puts the pipeline on a switch whose pipeline is not
this program (it then holds no entries, and is named as such).

Then `ProbeSettings.rounds` rounds, evenly over `collect_ns`: each round a probe out of
every fabric port and an ARP request out of every ToR host port, for the expected NIC
and, from the second round on, for the NICs the port could be instead
(hpn.operations.hosts); the frames the switches punt are collected until the time is
up, and `check_wiring` compares what was heard with the topology. The frames are built,
sent and taken in by `hpnctl run`'s own parts: a `FabricRunner` that is never run holds
the `OperationsLoop` (its link and host monitors build the frames and take the punted
ones, `frame_in`), and its per-switch sender and packet-in reader carry them. The loop's
clock is the round, so every port is due exactly once a round.

A switch that cannot be reached is named with why; its ports, and the ports facing it
that heard nothing (it sent nothing), are not checked (`LiveWiring.unchecked`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from hpn.operations.events import Event, EventKind, EventList
from hpn.operations.hosts import HostTimers
from hpn.operations.liveness import Timers
from hpn.operations.runner import FabricRunner
from hpn.operations.wiring import Finding, Observed, WiringReport, check_wiring
from hpn.pipeline import Target
from hpn.pipeline.cpu_path import punt_entries
from hpn.runtime import FabricSession, SessionOptions, SwitchTarget, SwitchUnreachable
from hpn.topology.model import Fabric, SwitchPort

MS = 1_000_000
NS = 1_000_000_000


@dataclass(frozen=True)
class ProbeSettings:
    """How long the answers are collected, in how many rounds, and how many other NICs a
    silent host port is asked for each round after the first."""

    collect_ns: int = 2000 * MS
    rounds: int = 3
    search: int = HostTimers().search

    def __post_init__(self) -> None:
        problems = []
        if self.rounds < 1:
            problems.append(f"rounds must be at least 1, not {self.rounds}")
        if self.collect_ns < self.rounds:
            problems.append(f"collect_ns {self.collect_ns} is shorter than 1 ns a round")
        if self.search < 0:
            problems.append(f"search must not be negative, not {self.search}")
        if problems:
            raise ValueError("wiring probe: " + "; ".join(problems))

    @property
    def round_ns(self) -> int:
        return self.collect_ns // self.rounds


@dataclass(frozen=True)
class LiveWiring:
    """What one live check found. `report` holds the ports that could be checked;
    `not_primary` set means nothing was sent (and `report` is empty)."""

    report: WiringReport
    unchecked: tuple[Finding, ...] = ()  # ports of switches that could not take part
    unreachable: dict[str, str] = dataclasses.field(default_factory=dict)  # switch -> why
    unprogrammed: dict[str, str] = dataclasses.field(default_factory=dict)  # switch -> what it lacks
    not_primary: tuple[str, ...] = ()  # switches another controller holds
    probes_sent: int = 0
    probes_heard: int = 0
    host_probes_sent: int = 0
    host_replies: int = 0
    refused: tuple[Event, ...] = ()  # punted frames that were neither


class _RoundClock:
    """The loop's clock: the start of the current round, in ns."""

    def __init__(self) -> None:
        self.now_ns = 0

    def __call__(self) -> int:
        return self.now_ns


async def probe_wiring(
    fabric: Fabric,
    targets: Sequence[SwitchTarget],
    options: SessionOptions,
    settings: ProbeSettings | None = None,
    *,
    target: Target = Target.BMV2,
    announce: Callable[[str], None] | None = None,
) -> LiveWiring:
    """Probe every cable of `fabric` on the switches at `targets` and check the wiring;
    `announce` is told, in a line each, what is about to be collected and what was."""
    settings = settings or ProbeSettings()
    say = announce or (lambda _line: None)
    clock = _RoundClock()
    events = EventList()
    runner = FabricRunner(
        fabric,
        targets,
        options,
        emit=events,
        target=target,
        timers=Timers(interval_ns=settings.round_ns),
        clock=clock,
        host_timers=HostTimers(interval_ns=settings.round_ns, search=settings.search),
    )
    loop = runner.loop
    names = [t.name for t in targets]
    # Only the cpu_punt table is read: a session owning every table would diff them all.
    session_options = dataclasses.replace(options, own_all_tables=False)
    async with FabricSession(targets, session_options) as session:
        up = await session.reachable(names)
        unreachable = {n: _why_unreachable(session, n) for n in names if n not in up}
        held = tuple(n for n in up if not session.switch(n).is_primary)
        if held:
            return LiveWiring(WiringReport(()), unreachable=unreachable, not_primary=held)
        if not up:
            _, unchecked = _split(fabric, check_wiring(fabric, Observed()).findings, set(names), set())
            return LiveWiring(WiringReport(()), unchecked, unreachable)
        unprogrammed = await _unprogrammed(session, up, set(loop.hosts.gateways), target)
        hearing = [n for n in up if n not in unprogrammed]
        # The readers register with their switches at their first step, which runs at the
        # first send's first wait: before any frame goes out.
        readers = [asyncio.create_task(runner._read(session, n)) for n in hearing]
        sent = [0, 0]
        try:
            for r in range(settings.rounds):
                began = time.monotonic()
                clock.now_ns = r * settings.round_ns
                probes = [(p.switch, p.port, p.frame) for p in loop.probes() if p.switch in up]
                asks = [(p.switch, p.port, p.frame) for p in loop.host_probes() if p.switch in hearing]
                if r == 0:
                    say(
                        f"{fabric.name}: {len(up)} of {len(names)} switches; {len(probes)} fabric ports "
                        f"and {len(asks)} host ports probed, {settings.rounds} rounds in "
                        f"{settings.collect_ns / NS:g} s ..."
                    )
                await runner._send(session, "probes", probes)
                await runner._send(session, "host probes", asks)
                sent[0] += len(probes)
                sent[1] += len(asks)
                await asyncio.sleep(max(0.0, began + settings.round_ns / NS - time.monotonic()))
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
        for name in up:
            if not session.switch(name).is_up:
                unreachable[name] = _why_unreachable(session, name, "lost during the check: ")
    sample = loop.metrics.registry.get_sample_value
    heard = int(sample("hpn_probes_received_total") or 0)
    replies = int(sample("hpn_host_replies_received_total") or 0)
    refused = tuple(e for e in events.events if e.kind is EventKind.REFUSED)
    say(f"heard {heard} probes and {replies} host replies; {len(refused)} punted frames refused")
    checked, unchecked = _split(fabric, loop.wiring().findings, set(unreachable), set(unprogrammed))
    return LiveWiring(
        WiringReport(checked),
        unchecked,
        unreachable,
        unprogrammed,
        probes_sent=sent[0],
        probes_heard=heard,
        host_probes_sent=sent[1],
        host_replies=replies,
        refused=refused,
    )


def _why_unreachable(session: FabricSession, name: str, when: str = "") -> str:
    link = session.switch(name)
    return str(SwitchUnreachable(name, link.address, when + (link.last_error or "not connected")))


async def _unprogrammed(
    session: FabricSession, names: Iterable[str], tors: set[str], target: Target
) -> dict[str, str]:
    """The switches in `names` whose cpu_punt table lacks an entry of theirs (a ToR's
    includes ARP), each with what it lacks."""
    wanted = {n: punt_entries(target, has_hosts=n in tors) for n in names}
    diffs = await session.diff(wanted)
    out = {}
    for name, diff in diffs.items():
        link = session.switch(name)
        if diff.error is not None:
            out[name] = f"its cpu_punt entries could not be read: {diff.error}"
            continue
        lacking = {e.key for e in [*diff.inserts, *diff.modifies]}
        if not lacking:
            continue
        ethertypes = [
            f"0x{entry.match['ether_type']:04x}"
            for entry in wanted[name]
            if entry.match is not None and link.encoder.encode(entry).key in lacking
        ]
        out[name] = f"cpu_punt does not punt ethertype {', '.join(ethertypes)}"
        if link.pipeline_pushes:
            out[name] += " (its pipeline was not this program: it was put on it now, with no entries)"
    return out


def _split(
    fabric: Fabric, findings: Iterable[Finding], unreachable: set[str], deaf: set[str]
) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """(checked, unchecked): a port is not checked when its switch could not hear (it is
    unreachable or punts nothing), or when it heard nothing from a far end that could not
    send (unreachable)."""
    checked, unchecked = [], []
    for f in findings:
        peer = fabric.peer(f.at.switch, f.at.port)
        silent_far_end = isinstance(peer, SwitchPort) and peer.switch in unreachable and f.found is None
        if f.at.switch in unreachable | deaf or silent_far_end:
            unchecked.append(f)
        else:
            checked.append(f)
    return tuple(checked), tuple(unchecked)

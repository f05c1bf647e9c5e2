"""The controller of a running emulation: P4Runtime to its switches, failures to its hosts.

One object holds what the controller believes: the failure view and, for
experiments, an LB mode forced on every group. From that it computes the
desired tables (hpn.routing + hpn.pipeline), pushes them, keeps switches that
restart in sync, and tells the emulation process to follow a new failure view
(cables, then the hosts' routes) in the order that loses the least traffic:

- something goes down: cables and hosts first (the failure happens, hosts stop
  using the dead paths at once), then the switches' tables;
- something comes back: the cable first (a link is up before anyone notices),
  then the switches' tables (they route over it again), then the hosts (they
  use the path only once the switches route it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType

from hpn.emulation.fabric import Emulation
from hpn.pipeline import Entity, switch_entities
from hpn.pipeline.names import PORT_TX_COUNTER
from hpn.routing.compute import compute_fabric_state
from hpn.routing.failures import FailureView
from hpn.routing.state import LbMode, SwitchState
from hpn.runtime import Backoff, CounterValue, FabricSession, PushReport, SessionOptions, SwitchReport

EMULATION_OPTIONS = SessionOptions(
    own_all_tables=True,
    connect_timeout=30.0,
    # A restarted bmv2 is back within a second or two: retry often so it is re-synced soon.
    backoff=Backoff(initial=0.2, factor=1.5, maximum=1.0),
)


def with_lb_mode(states: dict[str, SwitchState], mode: LbMode) -> dict[str, SwitchState]:
    """Every group of every switch in `mode` (group ids and members unchanged)."""
    return {
        name: dataclasses.replace(st, groups=tuple(dataclasses.replace(g, mode=mode) for g in st.groups))
        for name, st in states.items()
    }


@dataclass(frozen=True)
class FailureChange:
    """What applying a failure view took."""

    view: FailureView
    hosts_seconds: float  # cables + host routes, in the emulation process
    push: PushReport
    host_changes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.push.ok


class EmulationController:
    """`async with EmulationController(emulation) as ctl:` — connected to every switch."""

    def __init__(self, emulation: Emulation, options: SessionOptions = EMULATION_OPTIONS) -> None:
        self.emulation = emulation
        self.fabric = emulation.fabric
        self.session = FabricSession(emulation.targets(), options)
        self.failed_links: tuple[str, ...] = ()
        self.failed_switches: tuple[str, ...] = ()
        self.lb_mode: LbMode | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self.resynced: asyncio.Queue[SwitchReport] = asyncio.Queue()

    async def __aenter__(self) -> EmulationController:
        self.session.start()
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            await asyncio.gather(self._sync_task, return_exceptions=True)  # its CancelledError
        await self.session.close()

    # -- desired state ---------------------------------------------------------------------
    @property
    def failures(self) -> FailureView:
        return FailureView.parse(self.fabric, self.failed_links, self.failed_switches)

    def states(self) -> dict[str, SwitchState]:
        states = compute_fabric_state(self.fabric, self.failures)
        return with_lb_mode(states, self.lb_mode) if self.lb_mode is not None else states

    def desired(self) -> dict[str, list[Entity]]:
        return {name: switch_entities(state) for name, state in self.states().items()}

    async def push(self) -> PushReport:
        return await self.session.push(self.desired())

    async def wait_connected(self, timeout: float = 60.0) -> None:
        await asyncio.wait_for(self.session.wait_connected(), timeout)

    # -- keeping restarted switches in sync ----------------------------------------------------
    def start_keep_in_sync(self, on_sync: Callable[[SwitchReport], None] | None = None) -> None:
        """Re-sync every switch that reconnects (a restarted bmv2), in the background."""

        def synced(report: SwitchReport) -> None:
            self.resynced.put_nowait(report)
            if on_sync is not None:
                on_sync(report)

        if self._sync_task is None:
            self._sync_task = asyncio.create_task(self.session.keep_in_sync(self.desired, on_sync=synced))

    # -- experiments ------------------------------------------------------------------------
    async def set_lb_mode(self, mode: LbMode | None) -> PushReport:
        """Force every group into `mode` (None: the topology's modes) and push."""
        self.lb_mode = mode
        return await self.push()

    async def set_failures(self, links: Iterable[str] = (), switches: Iterable[str] = ()) -> FailureChange:
        """Make `links`/`switches` the failure view: emulation and switches, in a lossless order."""
        new_links, new_switches = tuple(sorted(set(links))), tuple(sorted(set(switches)))
        FailureView.parse(self.fabric, new_links, new_switches)  # names are checked before anything moves
        old_links, old_switches = set(self.failed_links), set(self.failed_switches)
        going_down = bool(set(new_links) - old_links or set(new_switches) - old_switches)
        coming_back = bool(old_links - set(new_links) or old_switches - set(new_switches))
        changes: list[str] = []
        seconds = 0.0
        if going_down:
            # First everything that fails (and what stays failed), then what comes back.
            both = (
                tuple(sorted(old_links | set(new_links))),
                tuple(sorted(old_switches | set(new_switches))),
            )
            seconds += await self._hosts(*both, changes)
            self.failed_links, self.failed_switches = both
            report = await self.push()
        if coming_back or not going_down:
            # A cable comes back before the switches route over it; hosts use it last.
            seconds += await self._hosts(new_links, new_switches, changes, hosts=False)
            self.failed_links, self.failed_switches = new_links, new_switches
            report = await self.push()
            seconds += await self._hosts(new_links, new_switches, changes, cables=False)
        return FailureChange(self.failures, seconds, report, tuple(changes))

    async def _hosts(
        self,
        links: tuple[str, ...],
        switches: tuple[str, ...],
        changes: list[str],
        cables: bool = True,
        hosts: bool = True,
    ) -> float:
        started = time.monotonic()
        answer = await asyncio.to_thread(
            self.emulation.control,
            "failures",
            links=list(links),
            switches=list(switches),
            cables=cables,
            hosts=hosts,
        )
        changes += [str(c) for c in answer.get("changes", [])]
        return time.monotonic() - started

    # -- counters ---------------------------------------------------------------------------
    async def port_tx(self, ports: dict[str, list[int]]) -> dict[tuple[str, int], CounterValue]:
        """Egress packets/bytes of the given ports, by (switch, port)."""
        out: dict[tuple[str, int], CounterValue] = {}
        by_ports: dict[tuple[int, ...], list[str]] = {}
        for switch, wanted in ports.items():
            by_ports.setdefault(tuple(sorted(wanted)), []).append(switch)
        for plist, switches in by_ports.items():
            cells = await self.session.read_counters(PORT_TX_COUNTER, plist, switches=switches)
            for switch in switches:
                if switch not in cells:
                    raise RuntimeError(f"{switch}: could not read {PORT_TX_COUNTER}")
                for port in plist:
                    out[(switch, port)] = cells[switch].get(port, CounterValue(0, 0))
        return out

"""The controller of a running emulation: P4Runtime to its switches, failures to its hosts.

One object holds what the controller believes: the failure view and, for
experiments, an LB mode forced on every group. From that it computes the
desired tables (hpn.desired, as `hpnctl push` does), pushes them, keeps switches
that restart in sync, and tells the emulation process to follow a new failure
view (cables, then the hosts' routes) in the order of hpn.emulation.failure_steps,
the one that loses the least traffic.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType

from hpn.desired import desired_entities, desired_states
from hpn.emulation.emulation import Emulation
from hpn.emulation.failure_steps import failure_steps
from hpn.pipeline import Entity
from hpn.pipeline.names import PORT_TX_COUNTER
from hpn.routing.failures import FailureView
from hpn.routing.state import LbMode, SwitchState
from hpn.runtime import Backoff, CounterValue, FabricSession, PushReport, SessionOptions, SwitchReport

EMULATION_OPTIONS = SessionOptions(
    own_all_tables=True,
    connect_timeout=30.0,
    # A restarted bmv2 is back within a second or two: retry often so it is re-synced soon.
    backoff=Backoff(initial=0.2, factor=1.5, maximum=1.0),
)


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
        return desired_states(self.fabric, self.failures, self.lb_mode)

    def desired(self) -> dict[str, list[Entity]]:
        return desired_entities(self.states())

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
        changes: list[str] = []
        seconds = 0.0
        report = PushReport()
        for step in failure_steps(self.failed_links, self.failed_switches, new_links, new_switches):
            if step.target == "emulation":
                seconds += await self._hosts(step.links, step.switches, changes, step.cables, step.hosts)
            else:
                self.failed_links, self.failed_switches = step.links, step.switches
                report = await self.push()
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

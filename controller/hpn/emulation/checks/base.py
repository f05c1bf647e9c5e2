"""What the checks share: the `Lab` they work on, the result verdict, and one way to send flows."""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hpn.emulation.emulation import Emulation
from hpn.emulation.emulation_controller import EmulationController
from hpn.emulation.traffic import Capture, EmulatedNic, Flow, FlowLog, FlowSet, fabric_nics
from hpn.topology.model import Fabric, NicPort, Role, SwitchPort


class CheckResult(Protocol):
    """What every check returns: a verdict, a one-line summary, the problems found, its duration."""

    problems: list[str]
    seconds: float

    @property
    def ok(self) -> bool: ...

    def summary(self) -> str: ...


class Verdict:
    """The `ok` of a check's result: it passed when it found no problems.

    A plain mixin, not a dataclass: each result declares `problems` and
    `seconds` itself, last, so its fields keep their positions.
    """

    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Lab:
    """A running emulation with its controller: what every check works on."""

    emulation: Emulation
    ctl: EmulationController
    nics: dict[tuple[str, int], EmulatedNic] = field(init=False)

    def __post_init__(self) -> None:
        self.nics = fabric_nics(self.emulation.layout)

    @property
    def fabric(self) -> Fabric:
        return self.emulation.fabric

    def nic(self, host: str, rail: int) -> EmulatedNic:
        return self.nics[(host, rail)]

    def tor(self, nic: EmulatedNic, port: int) -> str:
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


def _uplinks(fabric: Fabric, tor: str) -> list[int]:
    return [
        port
        for port, peer in fabric.peers(tor).items()
        if isinstance(peer, SwitchPort) and fabric.switch(peer.switch).role is Role.AGG
    ]


@dataclass
class FlowRun:
    """What one `run_flows` measured."""

    logs: list[FlowLog]
    tx_bytes: dict[tuple[str, int], int]  # (switch, port) -> egress bytes during the run, as watched
    captured: Capture | None  # the frames seen, when capture points were given

    @property
    def capture(self) -> Capture:
        assert self.captured is not None, "run_flows was given no capture points"
        return self.captured

    @property
    def sent(self) -> int:
        return sum(len(log.sent) for log in self.logs)

    @property
    def delivered(self) -> int:
        return sum(len(log.received) for log in self.logs)

    @property
    def lost(self) -> int:
        return sum(len(log.lost) for log in self.logs)


async def run_flows(
    lab: Lab,
    flows: Sequence[Flow],
    rounds: int,
    interval: float,
    *,
    burst: int = 1,
    size: int = 200,
    drain_timeout: float = 2.0,
    capture: dict[str, tuple[str, str]] | None = None,
    watch: dict[str, list[int]] | None = None,
) -> FlowRun:
    """Send `rounds` of paced packets on `flows` (see `FlowSet.run`) and collect what they did.

    With `capture` (label -> (namespace, interface)) the frames on those
    interfaces are captured while the flows run; with `watch` (switch ->
    ports) the ports' egress byte counters are read over P4Runtime before
    and after, and their growth returned. The sockets run in a thread so the
    controller's event loop keeps going.
    """
    before = await lab.ctl.port_tx(watch) if watch is not None else {}

    def run() -> tuple[list[FlowLog], Capture | None]:
        with contextlib.ExitStack() as stack:
            # Capture first, so it sees the flows' first frames and is stopped after their last.
            cap = stack.enter_context(Capture(capture)) if capture is not None else None
            fs = stack.enter_context(FlowSet(flows, size=size))
            logs = fs.run(rounds=rounds, interval=interval, burst=burst, drain_timeout=drain_timeout)
        return logs, cap

    logs, cap = await asyncio.to_thread(run)
    after = await lab.ctl.port_tx(watch) if watch is not None else {}
    return FlowRun(logs, {k: after[k].bytes - before[k].bytes for k in after}, cap)

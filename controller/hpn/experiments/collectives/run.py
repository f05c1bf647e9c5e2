"""One run of collectives on a running, programmed emulation, with the links' bytes.

The switches' egress byte counters (PORT_TX_COUNTER, over P4Runtime) of every cabled
port are read before and after the generator runs; their growth is what each link
carried. The generator runs in a thread, so the controller's event loop keeps going.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from hpn.emulation.checks.base import Lab
from hpn.experiments.collectives.generator import Generator, GeneratorRun, Transport
from hpn.experiments.collectives.metrics import LinkBalance, algorithm_bandwidth, bus_bandwidth
from hpn.experiments.collectives.program import CollectivePlan
from hpn.topology.model import Fabric, Role, SwitchPort


@dataclass(frozen=True)
class JobOutcome:
    name: str
    algorithm: str
    ranks: int
    size: int  # bytes per rank
    seconds: float | None  # None: it did not complete
    algbw: float | None  # bytes/s
    busbw: float | None


@dataclass
class CollectiveRun:
    run: GeneratorRun
    jobs: list[JobOutcome]
    link_bytes: dict[SwitchPort, int]  # every cabled switch port: bytes it sent during the run

    @property
    def complete(self) -> bool:
        return all(j.seconds is not None for j in self.jobs)

    def uplink_bytes(self, fabric: Fabric) -> dict[SwitchPort, int]:
        return {p: n for p, n in self.link_bytes.items() if p in set(uplinks(fabric))}

    def uplink_balance(self, fabric: Fabric, tors: set[str] | None = None) -> LinkBalance:
        """max/mean over the uplinks of the ToRs that sent anything up (or of `tors`)."""
        up = self.uplink_bytes(fabric)
        busy = tors if tors is not None else {p.switch for p, n in up.items() if n > 0}
        return LinkBalance.of({str(p): n for p, n in up.items() if p.switch in busy})


def uplinks(fabric: Fabric) -> list[SwitchPort]:
    """Every ToR port cabled to an agg."""
    out = []
    for tor in fabric.tors():
        for port, peer in fabric.peers(tor.name).items():
            if isinstance(peer, SwitchPort) and fabric.switch(peer.switch).role is Role.AGG:
                out.append(SwitchPort(tor.name, port))
    return out


def cabled_ports(fabric: Fabric) -> dict[str, list[int]]:
    return {s.name: sorted(fabric.switch_ports(s.name)) for s in fabric.switches}


def outcomes(plan: CollectivePlan, run: GeneratorRun) -> list[JobOutcome]:
    out = []
    for job in plan.jobs:
        done = run.job_done_ns(job.name)
        seconds = None if done is None or done <= 0 else done / 1e9
        n, size = len(job.hosts), job.spec.size
        out.append(
            JobOutcome(
                job.name,
                job.spec.algorithm.value,
                n,
                size,
                seconds,
                None if seconds is None else algorithm_bandwidth(size, seconds),
                None if seconds is None else bus_bandwidth(size, n, seconds),
            )
        )
    return out


async def run_collectives(
    lab: Lab,
    plan: CollectivePlan,
    sports: tuple[int, ...],
    transport: Transport,
    stop: threading.Event | None = None,
) -> CollectiveRun:
    """Run every job of `plan` once, all together, from the given source ports."""
    watch = cabled_ports(lab.fabric)
    generator = Generator(plan, lab.nics, sports, transport)
    stopping = stop if stop is not None else threading.Event()

    def run() -> GeneratorRun:
        with generator:
            return generator.run(stopping)

    before = await lab.ctl.port_tx(watch)
    try:
        result = await asyncio.to_thread(run)
    except asyncio.CancelledError:
        stopping.set()  # the generator's thread ends its loop and closes its sockets
        raise
    after = await lab.ctl.port_tx(watch)
    carried = {SwitchPort(s, p): after[(s, p)].bytes - before[(s, p)].bytes for s, p in after}
    return CollectiveRun(result, outcomes(plan, result), carried)

"""One incast run: slow the bottleneck, start the agents on the timeline, sample, stop, collect.

N - 1 senders start together; the last one joins ``before_join_s`` later. Time 0 is when the
first N - 1 are all ready to send (started, sockets bound), and the senders are stopped
``after_join_s`` after the joiner is ready, so a sender slow to start loses none of its part.
The bottleneck is slowed for the run with bmv2's queue controls and set back to unlimited
(and bmv2's default depth) afterwards, however the run ends.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpn.emulation.emulation import Emulation
from hpn.emulation.traffic import EmulatedNic
from hpn.experiments.incast.agents import Agent, Agents, sender_args, start_receiver, start_senders, tail
from hpn.experiments.incast.errors import IncastError
from hpn.experiments.incast.logs import Arrival, read_arrivals, read_summary
from hpn.experiments.incast.placement import IncastSetup
from hpn.experiments.incast.sampler import QueueSampler
from hpn.experiments.incast.settings import BMV2_DEFAULT_QUEUE_DEPTH, CC_MODES, IncastSettings
from hpn.experiments.incast.timeline import Timeline
from hpn.hpcc.cli import SENDER_READY
from hpn.netlab.bmv2 import Bmv2Error
from hpn.pipeline.names import PORT_QUEUE

UNLIMITED_QUEUE_RATE_PPS = 1_000_000
"""What a slowed port is set back to (as the PTF suites do)."""
DRAIN_S = 0.5
"""After the senders stop: time for the bottleneck's queue to reach the receiver."""
SAFETY_S = 10.0
"""Each agent's own --duration is this much longer than its part: a bound, not the timeline.
It is also how long the joiner may take to be ready (the others run that much longer)."""


@dataclass
class IncastRun:
    """What one run measured, before any statistics."""

    cc: str
    settings: IncastSettings
    setup: IncastSetup
    start_ns: int
    """The first data packet at the receiver."""
    join_ns: int | None
    """The joining sender's first packet at the receiver (None: it never arrived)."""
    end_ns: int
    """When the senders were told to stop."""
    arrivals: list[Arrival]
    bmv2_queue: list[tuple[int, int]]
    """(time, bytes) read from the bottleneck's byte-queue register."""
    senders: dict[str, dict[str, Any]]
    """Each sender's JSON summary, by address."""
    work_dir: Path


def run_incast(
    emulation: Emulation,
    setup: IncastSetup,
    settings: IncastSettings,
    cc: str,
    work_dir: Path,
    stop: threading.Event | None = None,
) -> IncastRun:
    """One run with every sender in congestion-control mode `cc` (CC_MODES); blocks for its duration.

    Logs and summaries stay in `work_dir`. Raises IncastError, or IncastStopped when `stop`
    is set before the run is over.
    """
    if cc not in CC_MODES:
        raise ValueError(f"cc must be one of {CC_MODES}, not {cc!r}")
    timeline = Timeline(stop)
    timeline.check()
    work_dir.mkdir(parents=True, exist_ok=True)
    recv_log = work_dir / "receiver.jsonl"
    port = setup.bottleneck_port
    senders: list[Agent] = []
    try:
        with emulation.switch_cli(setup.bottleneck_switch) as cli, Agents(work_dir) as agents:
            cli.set_queue(port, rate_pps=round(settings.line_rate_pps), depth=settings.queue_depth)
            try:
                receiver = start_receiver(agents, setup, recv_log)
                with QueueSampler(cli, PORT_QUEUE, port, settings.sample_interval_s) as sampler:
                    starts: list[tuple[str, EmulatedNic, list[str]]] = []
                    for i, nic in enumerate(setup.senders):
                        joins = nic is setup.joiner
                        seconds = (settings.after_join_s if joins else settings.duration_s) + SAFETY_S
                        args = sender_args(
                            setup,
                            settings,
                            nic,
                            i,
                            cc=cc,
                            pps=settings.line_rate_pps,
                            seconds=seconds,
                            log=work_dir / f"sender{i}.jsonl",
                        )
                        starts.append((f"sender{i}", nic, args))
                    *first, last = starts
                    senders += start_senders(agents, first)
                    timeline.start()
                    timeline.until(settings.before_join_s)
                    joiner = agents.start(*last, ready=SENDER_READY, wait=False)
                    senders.append(joiner)
                    agents.wait_ready(joiner, timeout=SAFETY_S)
                    joined_s = time.monotonic() - timeline.t0
                    timeline.until(max(settings.duration_s, joined_s + settings.after_join_s))
                    end_ns = time.monotonic_ns()
                    agents.stop(senders)
                    timeline.wait(DRAIN_S)
                    agents.stop([receiver])
                sampler.check()
            finally:
                cli.set_queue(port, rate_pps=UNLIMITED_QUEUE_RATE_PPS, depth=BMV2_DEFAULT_QUEUE_DEPTH)
    except Bmv2Error as exc:
        raise IncastError(f"{setup.bottleneck_switch}: {exc}") from None
    summaries = {str(nic.ip): read_summary(agent) for agent, nic in zip(senders, setup.senders, strict=True)}
    unstarted = [a.name for a, s in zip(senders, summaries.values(), strict=True) if s["started"] is False]
    if unstarted:
        raise IncastError(f"stopped before they sent: {', '.join(unstarted)} (summaries in {work_dir})")
    arrivals = read_arrivals(recv_log)
    if not arrivals:
        raise IncastError(f"the receiver got no data packet: {tail(receiver.log)}")
    joined = [a.t_ns for a in arrivals if a.sender == str(setup.joiner.ip)]
    return IncastRun(
        cc=cc,
        settings=settings,
        setup=setup,
        start_ns=arrivals[0].t_ns,
        join_ns=min(joined) if joined else None,
        end_ns=end_ns,
        arrivals=arrivals,
        bmv2_queue=sampler.samples,
        senders=summaries,
        work_dir=work_dir,
    )

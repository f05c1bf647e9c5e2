"""HPCC's T for a fabric: the agents' round trip with an empty bottleneck."""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hpn.experiments.incast.agents import READY_TIMEOUT_S, Agents, sender_args, start_receiver, tail
from hpn.experiments.incast.errors import IncastError
from hpn.experiments.incast.logs import read_rtts_us
from hpn.experiments.incast.placement import IncastSetup
from hpn.experiments.incast.settings import IncastSettings
from hpn.hpcc.metrics import percentile

CALIBRATION_SHARE = 0.2
"""The RTT is measured with one flow at this share of the line rate: nothing queues."""
CALIBRATION_S = 1.5


@dataclass(frozen=True)
class RttStats:
    """Round trips between the agents, from one sender's ACK log, in microseconds."""

    samples: int
    min_us: float
    median_us: float
    p90_us: float

    @property
    def base_rtt_us(self) -> float:
        """HPCC's T for this fabric: the 90th percentile, up to the next 100 us (docs/hpcc.md)."""
        return math.ceil(self.p90_us / 100) * 100


def measure_rtt(setup: IncastSetup, settings: IncastSettings, work_dir: Path) -> RttStats:
    """The agents' RTT with an empty bottleneck: the first sender alone, without congestion
    control, at CALIBRATION_SHARE of the line rate for CALIBRATION_S (the port is not slowed)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    log = work_dir / "sender0.jsonl"
    pps = settings.line_rate_pps * CALIBRATION_SHARE
    with Agents(work_dir) as agents:
        receiver = start_receiver(agents, setup, work_dir / "receiver.jsonl")
        args = sender_args(
            setup, settings, setup.senders[0], 0, cc="none", pps=pps, seconds=CALIBRATION_S, log=log
        )
        sender = agents.start("sender0", setup.senders[0], args)
        try:
            sender.proc.wait(timeout=CALIBRATION_S + READY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise IncastError(f"the calibration sender did not finish: {tail(sender.log)}") from None
        agents.stop([receiver])
    rtts = read_rtts_us(log)
    if not rtts:
        raise IncastError(f"the calibration flow got no ACK: {tail(sender.log)}")
    return RttStats(len(rtts), min(rtts), percentile(rtts, 50), percentile(rtts, 90))

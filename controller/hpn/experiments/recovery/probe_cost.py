"""What the probes cost in CPU on the emulated fabric.

The runner is started on the fabric with probes every `interval_ms` (100 ms, the default),
then with one probe round in `idle_interval_ms` (an hour: one round at its start, then
none), alternately, `rounds` times each. In each phase, once the runner has pushed and
sent its first probes and a settling second has passed, the CPU time of the runner
process and of every bmv2 process (user + system, from /proc/<pid>/stat) is read over
`seconds` of wall time. The ratio of the means is the probe load's cost: measured side by
side in one run, so the machine's other load weighs on both alike.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from hpn.emulation.emulation import Emulation
from hpn.emulation.runner_process import RunnerRecord, RunnerSettings, start_runner, stop_runner
from hpn.emulation.runner_readings import scrape
from hpn.netlab.load import parse_process_stat

DEFAULT_INTERVAL_MS = 100
IDLE_INTERVAL_MS = 3_600_000
SETTLE_S = 1.0
START_TIMEOUT_S = 60.0


def cpu_seconds(pid: int, proc: Path = Path("/proc")) -> float | None:
    """CPU time (user + system, with reaped children) of `pid`; None when it is gone."""
    try:
        _, ticks = parse_process_stat((proc / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuRates:
    """CPU seconds per wall second over one measurement."""

    runner: float
    bmv2: float
    """Summed over every bmv2 process."""
    seconds: float


def _total(pids: list[int]) -> float:
    return sum(t for pid in pids if (t := cpu_seconds(pid)) is not None)


@dataclass(frozen=True)
class ProbeCost:
    interval_ms: int
    idle_interval_ms: int
    probing: list[CpuRates] = field(default_factory=list)
    idle: list[CpuRates] = field(default_factory=list)
    switches: int = 0

    @staticmethod
    def _mean(rates: list[CpuRates], which: str) -> float:
        return statistics.fmean(getattr(r, which) for r in rates) if rates else 0.0

    def mean(self, probing: bool, which: str) -> float:
        """Mean CPU seconds per second of `which` (runner or bmv2) in one kind of phase."""
        return self._mean(self.probing if probing else self.idle, which)

    def ratio(self, which: str) -> float | None:
        idle = self.mean(False, which)
        return self.mean(True, which) / idle if idle > 0 else None


async def _wait_probing(record: RunnerRecord, timeout: float) -> None:
    """Until the runner sent its first probes (it pushed the fabric before)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and record.proc.alive():
        try:
            if (await asyncio.to_thread(scrape, record.metrics_url)).probes_sent > 0:
                return
        except OSError:
            pass  # not serving yet
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the runner sent no probes within {timeout:.0f} s (log: {record.log})")


async def _phase(emu: Emulation, interval_ms: int, seconds: float) -> CpuRates:
    await asyncio.to_thread(stop_runner, emu.layout)
    events = emu.layout.run_dir / "runner-events-probe-cost.jsonl"  # the campaign's stay
    record = await asyncio.to_thread(
        start_runner, emu.layout, emu.topology, None, RunnerSettings(interval_ms=interval_ms), events
    )
    await _wait_probing(record, START_TIMEOUT_S)
    await asyncio.sleep(SETTLE_S)  # the push's read-back and the first probes' answers pass
    state = emu.state()
    bmv2 = [p.pid for p in state.switches.values()] if state is not None else []
    runner0, bmv20, t0 = cpu_seconds(record.proc.pid) or 0.0, _total(bmv2), time.monotonic()
    await asyncio.sleep(seconds)  # the measurement period
    runner1, bmv21, t1 = cpu_seconds(record.proc.pid) or 0.0, _total(bmv2), time.monotonic()
    wall = t1 - t0
    return CpuRates((runner1 - runner0) / wall, (bmv21 - bmv20) / wall, wall)


async def measure_probe_cost(
    emu: Emulation,
    seconds: float = 5.0,
    rounds: int = 2,
    interval_ms: int = DEFAULT_INTERVAL_MS,
    idle_interval_ms: int = IDLE_INTERVAL_MS,
) -> ProbeCost:
    """Alternate probing and idle phases on the running emulation (its runner is replaced;
    the last phase's runner is left running, idle)."""
    cost = ProbeCost(interval_ms, idle_interval_ms, switches=len(emu.fabric.switches))
    for _ in range(rounds):
        cost.probing.append(await _phase(emu, interval_ms, seconds))
        cost.idle.append(await _phase(emu, idle_interval_ms, seconds))
    return cost

"""The same incast once per congestion-control mode, on one fabric: calibrate T, then run each."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from hpn.emulation.emulation import Emulation
from hpn.experiments.incast.calibration import RttStats, measure_rtt
from hpn.experiments.incast.placement import IncastSetup, incast_setup
from hpn.experiments.incast.run import IncastRun, run_incast
from hpn.experiments.incast.settings import CC_MODES, IncastSettings
from hpn.experiments.incast.statistics import IncastOutcome, summarize
from hpn.experiments.incast.timeline import Timeline


@dataclass
class Comparison:
    """The same incast once per congestion-control mode, on one fabric."""

    settings: IncastSettings
    """As run: ``base_rtt_us`` is the measured one when it was measured."""
    setup: IncastSetup
    rtt: RttStats | None
    """The calibration, when T was measured."""
    runs: dict[str, IncastRun] = field(default_factory=dict)
    outcomes: dict[str, IncastOutcome] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """What says the experiment itself did not work (not whether the goals were met)."""
        out = []
        for cc, o in self.outcomes.items():
            silent = [k for k, c in o.senders.items() if c.delivered == 0]
            if silent:
                out.append(f"{cc}: nothing delivered in order from {', '.join(silent)}")
            if o.queue_int is None:
                out.append(f"{cc}: no data packet carried INT from the bottleneck")
            if o.queue_bmv2 is None:
                out.append(f"{cc}: no reading of the bottleneck's queue from bmv2")
            if o.join_s is None:
                out.append(f"{cc}: the joining sender's packets never arrived")
        return out


def compare(
    emulation: Emulation,
    settings: IncastSettings,
    work_dir: Path,
    *,
    modes: Sequence[str] = CC_MODES,
    measure_base_rtt: bool = True,
    on_run: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> Comparison:
    """Calibrate T (unless told not to), then one run per mode; logs under ``work_dir/<mode>``.

    ``on_run`` is told each step's name ("rtt", then each mode) as it starts. Blocks for the
    whole experiment; raises IncastError, ValueError (a fabric that cannot give the incast),
    or IncastStopped once `stop` is set (between steps, or within a run).
    """
    timeline = Timeline(stop)
    setup = incast_setup(emulation, settings.senders)
    rtt = None
    if measure_base_rtt:
        timeline.check()
        if on_run is not None:
            on_run("rtt")
        rtt = measure_rtt(setup, settings, work_dir / "rtt")
        settings = replace(settings, base_rtt_us=rtt.base_rtt_us)
    comparison = Comparison(settings, setup, rtt)
    for cc in modes:
        timeline.check()
        if on_run is not None:
            on_run(cc)
        run = run_incast(emulation, setup, settings, cc, work_dir / cc, timeline.stop)
        comparison.runs[cc] = run
        comparison.outcomes[cc] = summarize(run)
    return comparison

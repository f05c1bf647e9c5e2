"""HPCC's N:1 incast through one slowed port of a running emulation (docs/hpcc.md, "The incast
experiment").

N senders in other segments than the receiver, all on its rail, send to it through its ToR's
host port, which bmv2's queue controls slow to the NICs' scaled line rate with a bounded
buffer. N - 1 senders start together; the last one joins later. One module per concern:

- `settings`: what a run is asked to do; `placement`: who sends to whom, and the bottleneck;
- `agents`: the hpn.hpcc processes, started in their hosts' namespaces and stopped by pid;
- `sampler`: the bottleneck's byte queue read over Thrift in a thread;
- `timeline`: the run's clock, cut short by the caller's stop event (IncastStopped);
- `logs`: what the agents wrote; `run`: one run; `calibration`: HPCC's T, measured;
- `reaction`: HPCC's rate cuts with U above eta, from the senders' ACK logs;
- `statistics`: the reported numbers of a run; `comparison`: one run per mode;
- `goals`: HPCC's goals against no CC, behaviour or speed; `report`: tables and a PNG
  (rich, matplotlib).

Nothing here prints or forks. The names below are the experiment's interface; `report` is
imported on its own (it needs rich and, for the PNG, matplotlib).
"""

from hpn.experiments.incast.calibration import RttStats, measure_rtt
from hpn.experiments.incast.comparison import Comparison, compare
from hpn.experiments.incast.errors import IncastError, IncastStopped
from hpn.experiments.incast.goals import Goal, behaviour_problems, goals, queue_ratio, speed_note
from hpn.experiments.incast.logs import Arrival, read_arrivals
from hpn.experiments.incast.placement import IncastSetup, incast_setup
from hpn.experiments.incast.run import IncastRun, run_incast
from hpn.experiments.incast.settings import CC_MODES, IncastSettings
from hpn.experiments.incast.statistics import IncastOutcome, SenderCounts, summarize

__all__ = [
    "CC_MODES",
    "Arrival",
    "Comparison",
    "Goal",
    "IncastError",
    "IncastOutcome",
    "IncastRun",
    "IncastSettings",
    "IncastSetup",
    "IncastStopped",
    "RttStats",
    "SenderCounts",
    "behaviour_problems",
    "compare",
    "goals",
    "incast_setup",
    "measure_rtt",
    "queue_ratio",
    "read_arrivals",
    "run_incast",
    "speed_note",
    "summarize",
]

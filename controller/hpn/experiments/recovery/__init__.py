"""How fast `hpnctl run` heals the emulated fabric with no command, and what its probes cost
(bench/bench_recovery.py; docs/emulation.md, "hpnctl run on the emulation").

- `kinds`: the failures cut, per kind (a ToR-agg cable, a host cable on the receiver's
  side, an agg's bmv2 killed), a different one each time where the fabric has several;
- `campaign`: the runner started on the fabric, each cut made with traffic running and
  undone (hpn.emulation.cut_run), the machine's load per kind;
- `probe_cost`: the CPU time the runner and the bmv2 processes spend per second with
  probes every 100 ms and with hardly any;
- `swapped`: two cables crossed in the patch panel, and `hpnctl wiring` (live) on them;
- `report`: the text and the timeline PNG.
"""

from hpn.experiments.recovery.campaign import KindResult, RecoveryRun, run_campaign
from hpn.experiments.recovery.kinds import cuts_per_kind
from hpn.experiments.recovery.probe_cost import CpuRates, ProbeCost, measure_probe_cost
from hpn.experiments.recovery.swapped import WiringRun, swapped_wiring

__all__ = [
    "CpuRates",
    "KindResult",
    "ProbeCost",
    "RecoveryRun",
    "WiringRun",
    "cuts_per_kind",
    "measure_probe_cost",
    "run_campaign",
    "swapped_wiring",
]

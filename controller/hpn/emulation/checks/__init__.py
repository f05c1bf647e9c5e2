"""End-to-end checks of a running, programmed emulation; shared by `hpnctl demo` and the tests.

Each check takes a `Lab` (the emulation, its controller, the hosts' NICs),
drives bounded, paced traffic, reads what it needs (port counters over
P4Runtime, frames on ports, INT records) and returns a result that says
whether it passed, with the numbers measured. Nothing here prints.

One module per check, or per pair of related checks; what they share
(`Lab`, `run_flows`, the result verdict) is in `base`. Everything is
re-exported here: use `hpn.emulation.checks.<name>`.
"""

from hpn.emulation.checks.balance import (
    LOSS_TOLERANCE,
    LoadBalancingResult,
    ModeLoad,
    PolarizationResult,
    load_balancing,
    polarization,
)
from hpn.emulation.checks.base import CheckResult, FlowRun, Lab, Verdict, max_mean, run_flows, source_ports
from hpn.emulation.checks.disruption import (
    FailoverEvent,
    FailoverResult,
    RestartResult,
    default_failures,
    failover,
    restart,
)
from hpn.emulation.checks.int_probes import IntHopReport, IntResult, int_telemetry
from hpn.emulation.checks.isolation import PlaneIsolationResult, plane_isolation
from hpn.emulation.checks.reachability import ConnectivityResult, connectivity

__all__ = [
    "LOSS_TOLERANCE",
    "CheckResult",
    "ConnectivityResult",
    "FailoverEvent",
    "FailoverResult",
    "FlowRun",
    "IntHopReport",
    "IntResult",
    "Lab",
    "LoadBalancingResult",
    "ModeLoad",
    "PlaneIsolationResult",
    "PolarizationResult",
    "RestartResult",
    "Verdict",
    "connectivity",
    "default_failures",
    "failover",
    "int_telemetry",
    "load_balancing",
    "max_mean",
    "plane_isolation",
    "polarization",
    "restart",
    "run_flows",
    "source_ports",
]

"""P4Runtime for the fabric: the only package that speaks P4Runtime.

(hpn.emulation.bmv2 also opens a gRPC channel, only to see a switch's server listen.)

Input: `SwitchTarget`s and, per switch, the desired entities (finsy `P4TableEntry`s built
by hpn.pipeline). `FabricSession` connects to all switches at once, pushes the pipeline
only when its cookie differs, reconciles entries (diff in canonical form, write only the
difference in batches), names every rejected entry, and re-syncs switches that restart.
A change the caller already knows is written as given, without reading back (`apply`).
"""

from hpn.runtime.apply import EntityUpdates
from hpn.runtime.errors import EntryError, RuntimeFailure, SwitchRejected, SwitchUnreachable
from hpn.runtime.fabric import DesiredState, FabricSession, Progress
from hpn.runtime.options import Backoff, SessionOptions
from hpn.runtime.reconcile import ApplyResult, Diff
from hpn.runtime.report import CounterValue, ProgressEvent, PushReport, SwitchReport, SwitchStatus
from hpn.runtime.session import SwitchSession
from hpn.runtime.targets import SwitchTarget

__all__ = [
    "ApplyResult",
    "Backoff",
    "CounterValue",
    "DesiredState",
    "Diff",
    "EntityUpdates",
    "EntryError",
    "FabricSession",
    "Progress",
    "ProgressEvent",
    "PushReport",
    "RuntimeFailure",
    "SessionOptions",
    "SwitchRejected",
    "SwitchReport",
    "SwitchSession",
    "SwitchStatus",
    "SwitchTarget",
    "SwitchUnreachable",
]

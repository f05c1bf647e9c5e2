"""Results of runtime operations: per-switch outcomes a CLI can print and tests can check."""

from __future__ import annotations

from dataclasses import dataclass, field

from hpn.runtime.errors import EntryError


@dataclass(frozen=True)
class ProgressEvent:
    """Progress of one switch during a push; `done`/`total` count updates in stage "write".

    stage: "connect" (waiting for the switch), "read" (reading back), "write",
    "done" (synced), "failed" (see the push report for why).
    """

    switch: str
    stage: str
    done: int = 0
    total: int = 0


@dataclass
class SwitchReport:
    """Outcome of pushing one switch."""

    name: str
    address: str
    reachable: bool = False
    primary: bool = False  # this controller held the switch's write access (arbitration)
    pipeline_pushed: bool = False
    inserted: int = 0
    modified: int = 0
    deleted: int = 0
    unchanged: int = 0
    requests: int = 0  # WriteRequests sent
    largest_request: int = 0  # most updates in one WriteRequest
    errors: list[str] = field(default_factory=list)  # everything that went wrong, readable
    rejected: list[EntryError] = field(default_factory=list)  # the per-entry subset, structured
    warnings: list[str] = field(default_factory=list)  # e.g. duplicate keys in the desired state
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.reachable and not self.errors

    @property
    def updates(self) -> int:
        """Updates the switch accepted."""
        return self.inserted + self.modified + self.deleted

    def summary(self) -> str:
        state = "ok" if self.ok else f"{len(self.errors)} error(s)"
        pipeline = ", pipeline pushed" if self.pipeline_pushed else ""
        return (
            f"{self.name}: {state}{pipeline}: +{self.inserted} ~{self.modified} -{self.deleted} "
            f"={self.unchanged} in {self.seconds:.2f}s"
        )


@dataclass
class PushReport:
    """Outcome of `FabricSession.push`: one report per switch in the desired state."""

    switches: dict[str, SwitchReport] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.switches.values())

    @property
    def updates(self) -> int:
        return sum(r.updates for r in self.switches.values())

    @property
    def errors(self) -> list[str]:
        return [e for r in self.switches.values() for e in r.errors]

    def __getitem__(self, name: str) -> SwitchReport:
        return self.switches[name]


@dataclass(frozen=True)
class CounterValue:
    """Packets and bytes of one counter cell."""

    packets: int
    bytes: int


@dataclass
class SwitchStatus:
    """What `FabricSession.status` found on one switch."""

    name: str
    address: str
    reachable: bool
    primary: bool = False
    pipeline_cookie_matches: bool | None = None  # None: could not tell
    entries: dict[str, int] = field(default_factory=dict)  # table name -> entry count
    error: str | None = None

    @property
    def total_entries(self) -> int:
        return sum(self.entries.values())

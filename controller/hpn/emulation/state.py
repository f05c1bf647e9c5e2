"""The emulation's state file: which processes it started, for `status` and `down`.

A pid alone may be reused after a crash; a pid together with its start time
(field 22 of /proc/<pid>/stat) names one process for good, so `down` never
signals a process the emulation did not start.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def start_time(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot), or None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


@dataclass(frozen=True)
class Proc:
    """A process the emulation started."""

    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> Proc | None:
        started = start_time(pid)
        return None if started is None else cls(pid, started)

    def alive(self) -> bool:
        """Still running (not a zombie) and still the same process."""
        if start_time(self.pid) != self.start:
            return False
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return False
        return state[state.rindex(")") + 2] != "Z"


def _proc(data: Any) -> Proc:
    return Proc(int(data["pid"]), int(data["start"]))


@dataclass
class EmulationState:
    """What the emulation process writes (atomically) as it goes."""

    fabric: str
    topology: str
    phase: str  # starting | ready | stopping | stopped | failed
    daemon: Proc
    switches: dict[str, Proc] = field(default_factory=dict)
    hosts: dict[str, Proc] = field(default_factory=dict)
    error: str | None = None

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> EmulationState | None:
        """The state in `path`, or None when absent or unreadable (a crash mid-write)."""
        try:
            data = json.loads(path.read_text())
            return cls(
                fabric=str(data["fabric"]),
                topology=str(data["topology"]),
                phase=str(data["phase"]),
                daemon=_proc(data["daemon"]),
                switches={str(k): _proc(v) for k, v in data.get("switches", {}).items()},
                hosts={str(k): _proc(v) for k, v in data.get("hosts", {}).items()},
                error=data.get("error"),
            )
        except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def processes(self) -> dict[str, Proc]:
        """Every recorded process by a readable label."""
        out = {"emulation process": self.daemon}
        out.update({f"bmv2 {name}": p for name, p in self.switches.items()})
        out.update({f"host shell {name}": p for name, p in self.hosts.items()})
        return out

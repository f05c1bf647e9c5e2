"""`hpnctl run` on a running emulation, as a process of its own (`hpnctl emulate up --run`).

It is started with posix_spawn in its own session (the caller may hold gRPC channels, and
a Ctrl-C at the terminal must not reach it), as `python -m hpn.cli run` on the emulation's
targets file, with its output in `<run dir>/runner.log`, its events in
`<run dir>/runner-events.jsonl` and its metrics on 127.0.0.1. Its pid and start time go
to `<run dir>/runner.json`, so `stop_runner` (which `Emulation.down` calls first) stops
that very process by PID, never one that reused the pid.
"""

from __future__ import annotations

import json
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from hpn.emulation.layout import Layout
from hpn.emulation.runner_readings import EventsTail, subjects_of
from hpn.emulation.state import Proc
from hpn.netlab.processes import reap, terminate
from hpn.netlab.spawn import spawn_logged
from hpn.operations.events import EventKind
from hpn.topology.model import Fabric, SwitchPort

METRICS_ADDRESS = "127.0.0.1"
LEARN_TIMEOUT = 120.0
"""How long `up --run` waits for the runner to push the fabric and learn every cable."""


class RunnerError(RuntimeError):
    """The runner could not be started or did not come up; the message says where to look."""


@dataclass(frozen=True)
class RunnerSettings:
    """`hpnctl run`'s options; None leaves its default."""

    interval_ms: int | None = None
    misses: int | None = None
    hold_down_ms: int | None = None
    election_id: int | None = None

    def args(self) -> list[str]:
        out = []
        for option, value in (
            ("--interval-ms", self.interval_ms),
            ("--misses", self.misses),
            ("--hold-down-ms", self.hold_down_ms),
            ("--election-id", self.election_id),
        ):
            if value is not None:
                out += [option, str(value)]
        return out


@dataclass(frozen=True)
class RunnerRecord:
    """A runner started for an emulation: which process, where it reports."""

    proc: Proc
    metrics_port: int
    events: Path
    log: Path

    @property
    def metrics_url(self) -> str:
        return f"http://{METRICS_ADDRESS}:{self.metrics_port}/metrics"

    def write(self, path: Path) -> None:
        data = {
            "pid": self.proc.pid,
            "start": self.proc.start,
            "metrics_port": self.metrics_port,
            "events": str(self.events),
            "log": str(self.log),
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> RunnerRecord | None:
        """The record in `path`; None when there is none or it is unreadable."""
        try:
            data = json.loads(path.read_text())
            return cls(
                Proc(int(data["pid"]), int(data["start"])),
                int(data["metrics_port"]),
                Path(data["events"]),
                Path(data["log"]),
            )
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None


def free_port(address: str = METRICS_ADDRESS) -> int:
    """A TCP port nothing listens on at `address` now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, address: str = METRICS_ADDRESS) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((address, port))
        except OSError:
            return True
    return False


def runner_argv(
    layout: Layout, topology: Path, metrics_port: int, settings: RunnerSettings, events: Path | None = None
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hpn.cli",
        "run",
        str(topology),
        "--targets",
        str(layout.targets_file),
        "--metrics-port",
        str(metrics_port),
        "--metrics-address",
        METRICS_ADDRESS,
        "--events",
        str(events or layout.runner_events),
        *settings.args(),
    ]


def running_runner(layout: Layout) -> RunnerRecord | None:
    """The runner of this emulation, if one runs."""
    record = RunnerRecord.read(layout.runner_file)
    return record if record is not None and record.proc.alive() else None


def start_runner(
    layout: Layout,
    topology: Path,
    metrics_port: int | None = None,
    settings: RunnerSettings | None = None,
    events: Path | None = None,
) -> RunnerRecord:
    """Start `hpnctl run` on the emulation in `layout` (up, with its targets file written).

    `metrics_port` None picks a free port; `events` (emptied first) defaults to the run
    dir's `runner-events.jsonl`. Returns at once; `wait_learnt` waits for it.
    """
    running = running_runner(layout)
    if running is not None:
        raise RunnerError(
            f"hpnctl run already keeps this fabric (pid {running.proc.pid}, {layout.runner_file})"
        )
    if not layout.targets_file.exists():
        raise RunnerError(f"{layout.targets_file} does not exist: the emulation is not up")
    if metrics_port is not None and port_in_use(metrics_port):
        raise RunnerError(f"--metrics-port {metrics_port}: something already listens on {METRICS_ADDRESS}")
    port = free_port() if metrics_port is None else metrics_port
    events = events or layout.runner_events
    events.unlink(missing_ok=True)  # the events of this run only
    argv = runner_argv(layout, topology, port, settings or RunnerSettings(), events)
    pid = spawn_logged(argv, layout.runner_log)
    proc = Proc.of(pid)
    if proc is None or not proc.alive():
        reap(pid)
        raise RunnerError(f"hpnctl run exited at once:\n{log_tail(layout.runner_log)}")
    record = RunnerRecord(proc, port, events, layout.runner_log)
    record.write(layout.runner_file)
    return record


def switch_cables(fabric: Fabric) -> set[str]:
    """The switch-to-switch cables the runner probes, named as its events name them."""
    return {
        str(link)
        for link in fabric.links
        if isinstance(link.a, SwitchPort) and isinstance(link.b, SwitchPort)
    }


def wait_learnt(record: RunnerRecord, fabric: Fabric, timeout: float = LEARN_TIMEOUT) -> EventsTail:
    """Wait until the runner has pushed the fabric and learnt every cable from its probes.

    Returns the tail of its events (read so far). Raises RunnerError, with its log's tail,
    when it exits or does not get there within `timeout`.
    """
    cables = switch_cables(fabric)
    tail = EventsTail(record.events)
    if tail.wait_for(lambda ev: cables <= subjects_of(ev, EventKind.LEARNT), timeout, record.proc.alive):
        return tail
    learnt = len(cables & subjects_of(tail.events, EventKind.LEARNT))
    if not record.proc.alive():
        reap(record.proc.pid)
        raise RunnerError(
            f"hpnctl run exited after learning {learnt}/{len(cables)} cables; "
            f"{record.log}:\n{log_tail(record.log)}"
        )
    raise RunnerError(
        f"hpnctl run learnt {learnt}/{len(cables)} cables in {timeout:.0f} s "
        f"(events: {record.events}, log: {record.log})"
    )


def stop_runner(layout: Layout, timeout: float = 5.0) -> list[str]:
    """Stop the emulation's runner by its recorded PID (TERM, then KILL after `timeout`);
    returns what was done, readable. Nothing when none was started."""
    record = RunnerRecord.read(layout.runner_file)
    if record is None:
        return []
    done = []
    if record.proc.alive():
        killed = terminate([record.proc.pid], timeout)
        done.append(f"hpnctl run (pid {record.proc.pid}) stopped" + (" (killed)" if killed else ""))
    else:
        reap(record.proc.pid)
    layout.runner_file.unlink(missing_ok=True)
    done.append(f"file {layout.runner_file}")
    return done


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"({path} does not exist)"

"""Bring an emulated fabric up, find it, take it down: the side of hpnctl emulate.

`up` creates the emulation namespace, starts the emulation process in it
(posix_spawn: no fork, so this works from a process holding gRPC channels),
waits on a pipe until the process says the fabric is wired and every switch
listens, gives the hosts' namespaces their names, and writes the targets file
hpnctl reads. It does not program the switches (hpn.emulation.emulation_controller
does). If anything fails or is interrupted half way, it takes down what it
created before returning.

`down` removes exactly what `up` creates, found by name from the fabric (so
also after a crash that left no state behind): it stops the `hpnctl run` that
`up --run` started (by its recorded pid and start time), asks the emulation process
to stop, signals the processes it recorded (pid *and* start time must match)
and any process still inside the fabric's namespaces, deletes those
namespaces (their veths and bridges go with them) and the run-state files.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from hpn.emulation.control_socket import ControlError, request
from hpn.emulation.layout import Crossing, Layout
from hpn.emulation.runner_process import RunnerRecord, stop_runner
from hpn.emulation.state import EmulationState, Proc
from hpn.netlab.bmv2 import Bmv2Cli, bmv2_missing, cli_argv
from hpn.netlab.netns import Netns, existing_namespaces, require_tools
from hpn.netlab.processes import reap, terminate, wait_gone
from hpn.netlab.spawn import spawn_logged
from hpn.pipeline import BMV2_JSON_PATH, P4INFO_PATH
from hpn.runtime import SwitchTarget
from hpn.topology.model import Fabric

UP_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
TERM_GRACE = 5.0


class EmulationError(RuntimeError):
    """The emulation could not be brought up or down; the message says why and where to look."""


class MissingPrerequisites(EmulationError):
    """Root, Mininet, bmv2 or the compiled program is missing (hpnctl exit code 4)."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("cannot emulate here: " + "; ".join(missing))
        self.missing = missing


class AlreadyUp(EmulationError):
    """`up` on a fabric whose emulation already runs."""


class StaleEmulation(EmulationError):
    """Leftovers of an earlier run are in the way; `down` removes them."""

    def __init__(self, fabric: str, leftovers: Leftovers) -> None:
        super().__init__(
            f"leftovers of an earlier emulation of {fabric} are in the way "
            f"({leftovers.describe()}); run `hpnctl emulate down` for this topology first"
        )
        self.leftovers = leftovers


def missing_prerequisites(*, stand_in_switch: bool = False) -> list[str]:
    """Everything missing to emulate a fabric here (empty when all is there).

    `stand_in_switch`: the switch binary is a stand-in that needs no compiled program
    (the lifecycle tests): bmv2 and the P4 output are then not asked for.
    """
    missing = list(require_tools())
    for tool in ("mnexec", "sysctl"):
        if shutil.which(tool) is None:
            missing.append(
                f"`{tool}` not on PATH" + (" (Mininet: apt-get install mininet)" if tool == "mnexec" else "")
            )
    if importlib.util.find_spec("mininet") is None:
        missing.append(
            "the mininet Python package is not importable from this Python (`make setup` links it)"
        )
    if stand_in_switch:
        return missing
    why = bmv2_missing()
    if why:
        missing.append(why)
    for path in (BMV2_JSON_PATH, P4INFO_PATH):
        if not Path(path).exists():
            missing.append(f"{path} does not exist (`make p4` compiles it)")
    return missing


@dataclass
class Leftovers:
    """What exists of an emulation of this fabric (not counting a healthy running one)."""

    namespaces: list[str] = field(default_factory=list)
    processes: dict[str, Proc] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.namespaces or self.processes or self.files)

    def describe(self) -> str:
        parts = []
        if self.namespaces:
            parts.append(f"namespaces {', '.join(self.namespaces)}")
        if self.processes:
            parts.append(f"{len(self.processes)} process(es)")
        if self.files:
            parts.append(f"files {', '.join(p.name for p in self.files)}")
        return "; ".join(parts) or "nothing"


@dataclass
class EmulationStatus:
    up: bool
    phase: str | None
    switches: dict[str, bool]  # name -> process alive
    hosts: dict[str, bool]
    failures: dict[str, list[str]]
    unplugged: list[str]
    leftovers: Leftovers
    error: str | None = None


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[list[int]]:
    """Hold SIGINT/SIGTERM during a cleanup; re-raise KeyboardInterrupt afterwards if one came."""
    got: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        got.append(signum)

    old = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield got
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    if got:
        raise KeyboardInterrupt


def _running(procs: Iterable[Proc]) -> list[Proc]:
    """Those of `procs` still running as the same processes; our exited children are reaped."""
    alive = []
    for p in procs:
        if p.alive():
            alive.append(p)
        else:
            reap(p.pid)
    return alive


def _netns_pids(name: str) -> list[Proc]:
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    return [p for line in out.split() if line.isdigit() and (p := Proc.of(int(line))) is not None]


class Emulation:
    """The emulation of one fabric under one run directory."""

    def __init__(
        self,
        fabric: Fabric,
        topology: Path,
        run_dir: Path,
        log_level: str = "warn",
        crossed: Sequence[Crossing] = (),
    ) -> None:
        """`crossed`: switch ports whose cables the patch panel swaps (see hpn.emulation.layout)."""
        self.fabric = fabric
        self.topology = topology.resolve()
        self.layout = Layout(fabric, run_dir.resolve(), tuple(crossed))
        self.log_level = log_level
        self._child: int | None = None

    # -- looking ------------------------------------------------------------------------
    def state(self) -> EmulationState | None:
        return EmulationState.read(self.layout.state_file)

    def control(self, op: str, timeout: float = 60.0, **args: Any) -> dict[str, Any]:
        """One request to the emulation process (raises ControlError)."""
        return request(self.layout.control_socket, op, timeout=timeout, **args)

    def is_up(self) -> bool:
        """Up and finished: the process answers ready and `up` got to write the targets file.

        A fabric whose `up` died half way (the process may still run) is not up:
        it counts as leftovers, for `down` to remove.
        """
        if not self.layout.targets_file.exists():
            return False
        try:
            return self.control("status", timeout=5.0).get("phase") == "ready"
        except ControlError:
            return False

    def leftovers(self) -> Leftovers:
        """What exists of this fabric's emulation, running or not."""
        left = Leftovers()
        ours = set(self.layout.all_namespaces)
        left.namespaces = sorted(ours & existing_namespaces())
        state = self.state()
        if state is not None:
            left.processes = {label: p for label, p in state.processes().items() if p.alive()}
        for ns in left.namespaces:
            for p in _netns_pids(ns):
                if p not in left.processes.values():
                    left.processes[f"process {p.pid} in {ns}"] = p
        runner = RunnerRecord.read(self.layout.runner_file)
        if runner is not None and runner.proc.alive():
            left.processes["hpnctl run"] = runner.proc
        sockets = [self.layout.grpc_socket(s.name) for s in self.fabric.switches]
        files = [self.layout.state_file, self.layout.control_socket, self.layout.targets_file, *sockets]
        left.files = [f for f in [*files, self.layout.runner_file] if f.exists()]
        return left

    def status(self) -> EmulationStatus:
        state = self.state()
        try:
            answer = self.control("status", timeout=5.0)
        except ControlError as exc:
            answer = {"error": str(exc)}
        up = answer.get("phase") == "ready"
        return EmulationStatus(
            up=up,
            phase=answer.get("phase") or (state.phase if state else None),
            switches={str(k): bool(v) for k, v in answer.get("switches", {}).items()}
            or ({n: p.alive() for n, p in state.switches.items()} if state else {}),
            hosts={n: p.alive() for n, p in state.hosts.items()} if state else {},
            failures={k: list(v) for k, v in answer.get("failures", {}).items()},
            unplugged=[str(c) for c in answer.get("unplugged", [])],
            leftovers=self.leftovers(),
            error=None if up else (state.error if state and state.error else answer.get("error")),
        )

    def switch_cli(self, switch: str) -> Bmv2Cli:
        """bmv2's runtime CLI on one switch (Thrift, in the emulation namespace); use it with `with`."""
        return Bmv2Cli(cli_argv(Netns(self.layout.namespace), self.layout.thrift_port(switch)))

    def targets(self) -> list[SwitchTarget]:
        return [
            SwitchTarget(s.name, self.layout.grpc_address(s.name), s.device_id, P4INFO_PATH, BMV2_JSON_PATH)
            for s in self.fabric.switches
        ]

    # -- up -----------------------------------------------------------------------------
    def up(self, failed_links: list[str] | None = None, failed_switches: list[str] | None = None) -> float:
        """Bring the fabric up (not programmed); returns the seconds it took.

        Raises AlreadyUp, StaleEmulation, MissingPrerequisites or EmulationError;
        on any failure or interrupt, what was created is removed again.
        """
        if self.is_up():
            raise AlreadyUp(f"the emulation of {self.fabric.name} is already up ({self.layout.run_dir})")
        missing = missing_prerequisites()
        if missing:
            raise MissingPrerequisites(missing)
        left = self.leftovers()
        if left:
            raise StaleEmulation(self.fabric.name, left)
        started = time.monotonic()
        try:
            self.layout.switch_dir.mkdir(parents=True, exist_ok=True)
            Netns(self.layout.namespace).create()
            answer = self._spawn_and_wait(failed_links or [], failed_switches or [])
            if not answer.get("ok"):
                raise EmulationError(
                    f"the emulation process failed: {answer.get('error')}\n"
                    f"(log: {self.layout.daemon_log}; switch logs: {self.layout.switch_dir}/<switch>.log)"
                )
            self._name_host_namespaces()
            tmp = self.layout.targets_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({t.name: t.address for t in self.targets()}, indent=1))
            tmp.replace(self.layout.targets_file)
        except BaseException:
            with interrupts_deferred():
                self.down()
            raise
        return time.monotonic() - started

    def _spawn_and_wait(self, failed_links: list[str], failed_switches: list[str]) -> dict[str, Any]:
        argv = [
            sys.executable,
            "-m",
            "hpn.emulation.daemon",
            str(self.topology),
            str(self.layout.run_dir),
            "--ready-fd",
            "3",
            "--log-level",
            self.log_level,
        ]
        argv += [a for link in failed_links for a in ("--failed-link", link)]
        argv += [a for sw in failed_switches for a in ("--failed-switch", sw)]
        argv += [a for p, q in self.layout.crossed for a in ("--cross", f"{p},{q}")]
        argv = Netns(self.layout.namespace).exec_argv(argv)
        read_fd, write_fd = os.pipe()
        try:
            self._child = spawn_logged(argv, self.layout.daemon_log, pass_fds=[(write_fd, 3)])
        finally:
            os.close(write_fd)
        try:
            return self._read_ready(read_fd)
        finally:
            os.close(read_fd)

    def _read_ready(self, fd: int) -> dict[str, Any]:
        deadline = time.monotonic() + UP_TIMEOUT
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise EmulationError(
                    f"the fabric was not up after {UP_TIMEOUT:.0f}s (log: {self.layout.daemon_log})"
                )
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                tail = "\n".join(self.layout.daemon_log.read_text(errors="replace").splitlines()[-15:])
                raise EmulationError(f"the emulation process exited during start; log tail:\n{tail}")
            data += chunk
        answer = json.loads(data)
        return answer if isinstance(answer, dict) else {"ok": False, "error": f"bad ready message {data!r}"}

    def _name_host_namespaces(self) -> None:
        """`ip netns attach`: done here, in the machine's mount namespace, so the names are visible."""
        state = self.state()
        if state is None:
            raise EmulationError(f"{self.layout.state_file}: unreadable after start")
        for host in self.fabric.hosts:
            proc = state.hosts.get(host.name)
            if proc is None or not proc.alive():
                raise EmulationError(f"host {host.name} has no running shell")
            subprocess.run(
                ["ip", "netns", "attach", self.layout.host_namespace(host.name), str(proc.pid)],
                check=True,
                capture_output=True,
                text=True,
            )

    # -- down -----------------------------------------------------------------------------
    def down(self) -> list[str]:
        """Remove everything of this fabric's emulation; returns what was removed, readable."""
        # The runner first: it would see every switch go and write to those still there.
        removed: list[str] = stop_runner(self.layout, TERM_GRACE)
        state = self.state()
        try:
            self.control("stop", timeout=STOP_TIMEOUT)
            removed.append("stopped the emulation process (switches and hosts)")
        except ControlError:
            pass  # not running, or not answering: its processes are handled below
        recorded = list(state.processes().values()) if state else []
        if self._child is not None:
            child = Proc.of(self._child)
            if child is not None and child not in recorded:
                recorded.append(child)
        daemon = _running([state.daemon] if state is not None else [])
        if daemon and wait_gone([daemon[0].pid], STOP_TIMEOUT if removed else 0.0):
            recorded = [p for p in recorded if p not in daemon] + daemon  # stopped last
        removed += self._terminate(recorded, "recorded")
        ours = [ns for ns in self.layout.all_namespaces if ns in existing_namespaces()]
        for ns in ours:
            removed += self._terminate(_netns_pids(ns), f"in {ns}")
        # Hosts first: deleting the emulation namespace then removes every veth and bridge.
        for ns in sorted(ours, key=lambda n: n == self.layout.namespace):
            result = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True)
            if result.returncode != 0 and ns in existing_namespaces():
                raise EmulationError(f"could not delete namespace {ns}: {result.stderr.strip()}")
            removed.append(f"namespace {ns}")
        sockets = [self.layout.grpc_socket(s.name) for s in self.fabric.switches]
        for path in (self.layout.state_file, self.layout.control_socket, self.layout.targets_file, *sockets):
            if path.exists():
                path.unlink()
                removed.append(f"file {path}")
        self._child = None
        return removed

    def _terminate(self, procs: list[Proc], where: str) -> list[str]:
        alive = _running(procs)
        if not alive:
            return []
        killed = terminate([p.pid for p in alive], TERM_GRACE)
        return [f"{len(alive)} process(es) {where} stopped" + (f" ({len(killed)} killed)" if killed else "")]

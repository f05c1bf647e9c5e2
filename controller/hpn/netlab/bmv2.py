"""simple_switch_grpc process control: start in a namespace, wait until it listens, stop.

The process is started with posix_spawn (no fork), so it is safe to start or
restart switches from a process that already holds gRPC channels; readiness is
seen on the gRPC Unix socket without a gRPC channel, so a process that forks
(the emulation's, Mininet) may wait for it too.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from hpn.netlab.netns import Netns
from hpn.netlab.processes import TERM_TIMEOUT, terminate
from hpn.netlab.spawn import spawn_logged
from hpn.params import BMV2_CPU_PORT

BMV2_BINARY = "simple_switch_grpc"
CLI_BINARY = "simple_switch_CLI"
START_TIMEOUT = 30.0
READY_RETRY_S = 0.05
"""How often a starting switch's socket is tried."""


class Bmv2Error(RuntimeError):
    """The switch did not start or stopped; the message points at its log."""


def bmv2_missing() -> str | None:
    """Why bmv2 cannot run here, or None."""
    if shutil.which(BMV2_BINARY) is None:
        return f"{BMV2_BINARY} not on PATH (install bmv2 with PI from p4lang's packages)"
    return None


def cli_missing() -> str | None:
    """Why bmv2's runtime CLI (Thrift: queue controls, register reads) cannot run here, or None."""
    if shutil.which(CLI_BINARY) is None:
        return f"{CLI_BINARY} not on PATH (it comes with bmv2)"
    return None


def cli_argv(netns: Netns, thrift_port: int) -> list[str]:
    """simple_switch_CLI on the Thrift port of a switch in `netns`."""
    return netns.exec_argv([CLI_BINARY, "--thrift-port", str(thrift_port)])


@dataclass
class Bmv2Switch:
    """One simple_switch_grpc in namespace `netns`, ports port_number -> interface."""

    name: str
    netns: Netns
    ports: dict[int, str]
    run_dir: Path
    device_id: int = 1
    thrift_port: int = 9090
    log_level: str = "warn"
    # Run the switch under this command (e.g. valgrind and its options); the first
    # word must be on PATH.
    wrapper: tuple[str, ...] = ()
    pid: int | None = field(default=None, init=False)

    @property
    def grpc_socket(self) -> Path:
        return self.run_dir / f"{self.name}.grpc.sock"

    @property
    def grpc_address(self) -> str:
        return f"unix:{self.grpc_socket}"

    @property
    def log_path(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def argv(self) -> list[str]:
        argv = [
            *self.wrapper,
            BMV2_BINARY,
            "--device-id",
            str(self.device_id),
            "--thrift-port",
            str(self.thrift_port),
        ]
        for port, iface in sorted(self.ports.items()):
            argv += ["-i", f"{port}@{iface}"]
        argv += ["--log-console", "--log-level", self.log_level, "--no-p4"]
        # Packet-ins leave by, and packet-outs come in by, the program's CPU port.
        argv += ["--", "--grpc-server-addr", self.grpc_address, "--cpu-port", str(BMV2_CPU_PORT)]
        return self.netns.exec_argv(argv)

    def spawn(self) -> None:
        """Start the process and return at once (`wait_ready` waits until it listens)."""
        missing = bmv2_missing()
        if missing:
            raise Bmv2Error(missing)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.grpc_socket.exists():
            self.grpc_socket.unlink()
        self.pid = spawn_logged(self.argv(), self.log_path)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the process and wait until it listens."""
        self.spawn()
        self.wait_ready(timeout)

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return done == 0

    def listening(self) -> bool:
        """Whether the switch's gRPC server accepts connections on its Unix socket."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.grpc_socket))
            except OSError:
                return False
        return True

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until the gRPC server accepts connections (or fail with the log's tail).

        bmv2 gives no readiness signal but its socket, so the socket is tried every
        READY_RETRY_S; between tries this waits on the process's pidfd, so an exit
        during the start is seen at once. No gRPC channel is opened: a process that
        forks (Mininet) may call this.
        """
        if self.pid is None:
            raise Bmv2Error(f"{self.name}: not started")
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            raise Bmv2Error(self._exited()) from None
        deadline = time.monotonic() + timeout
        try:
            while not self.listening():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Bmv2Error(f"{self.name}: not listening after {timeout}s; log:\n{self.log_tail()}")
                exited, _, _ = select.select([pidfd], [], [], min(READY_RETRY_S, left))
                if exited:
                    raise Bmv2Error(self._exited())
        finally:
            os.close(pidfd)

    def _exited(self) -> str:
        return f"{self.name}: {BMV2_BINARY} exited during start; log {self.log_path}:\n{self.log_tail()}"

    def stop(self, timeout: float = TERM_TIMEOUT) -> None:
        """TERM, then KILL after `timeout` seconds; reaps the process."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        terminate([pid], timeout, group=True)

    def kill(self) -> None:
        """Crash the switch (SIGKILL), as a failure test wants."""
        if self.pid is not None:
            os.killpg(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def cli(self, *commands: str) -> str:
        """Run simple_switch_CLI commands (Thrift) inside the switch's namespace."""
        text = "\n".join(commands) + "\n"
        proc = subprocess.run(
            cli_argv(self.netns, self.thrift_port),
            input=text,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise Bmv2Error(f"{self.name}: simple_switch_CLI failed: {proc.stderr.strip()}")
        return proc.stdout


_REGISTER_VALUE = re.compile(r"^\S+\[(\d+)\]\s*=\s*(\d+)\s*$")


class Bmv2Cli:
    """One simple_switch_CLI kept running: a command at a time, each answer read up to the prompt.

    A command costs a Thrift round trip (~0.1 ms) instead of a process start (~0.3 s), so
    a register can be sampled every few milliseconds. The CLI only shapes queues and reads
    registers here; tables stay P4Runtime's. Thread-safe: one command at a time.
    """

    PROMPT = b"RuntimeCmd: "

    def __init__(self, argv: Sequence[str], timeout: float = 10.0) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Bmv2Cli:
        env = dict(os.environ, PYTHONUNBUFFERED="1")  # the CLI is Python: answers must not sit in a buffer
        self._proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
        )
        try:
            self._answer()  # the banner, up to the first prompt
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def _answer(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + self.timeout
        data = b""
        while not data.endswith(self.PROMPT):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if not ready:
                raise Bmv2Error(f"{CLI_BINARY}: no answer within {self.timeout}s (so far: {data[-200:]!r})")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise Bmv2Error(f"{CLI_BINARY} exited: {data.decode(errors='replace').strip()}")
            data += chunk
        return data[: -len(self.PROMPT)].decode(errors="replace")

    def command(self, line: str) -> str:
        """Run one command; its output. Raises Bmv2Error when the CLI answers with an error."""
        with self._lock:
            if self._proc is None or self._proc.stdin is None:
                raise Bmv2Error(f"{CLI_BINARY} is not running")
            self._proc.stdin.write(line.encode() + b"\n")
            self._proc.stdin.flush()
            out = self._answer()
        if out.lstrip().startswith(("Error", "Invalid")):
            raise Bmv2Error(f"{CLI_BINARY} {line!r}: {out.strip()}")
        return out

    def register_read(self, register: str, index: int) -> int:
        out = self.command(f"register_read {register} {index}").strip()
        match = _REGISTER_VALUE.match(out)
        if match is None or int(match.group(1)) != index:
            raise Bmv2Error(f"{CLI_BINARY}: unexpected answer to register_read {register} {index}: {out!r}")
        return int(match.group(2))

    def set_queue(self, port: int, *, rate_pps: int, depth: int | None = None) -> None:
        """Slow (or restore) one egress queue: at most `rate_pps` packets/s, `depth` packets deep."""
        self.command(f"set_queue_rate {rate_pps} {port}")
        if depth is not None:
            self.command(f"set_queue_depth {depth} {port}")

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

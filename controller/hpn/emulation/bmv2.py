"""simple_switch_grpc process control: start in a namespace, wait until ready, stop.

The process is started with posix_spawn (no fork), so it is safe to start or
restart switches from a process that already holds gRPC channels.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from hpn.emulation.netns import Netns
from hpn.emulation.spawn import spawn_logged

BMV2_BINARY = "simple_switch_grpc"


class Bmv2Error(RuntimeError):
    """The switch did not start or stopped; the message points at its log."""


def bmv2_missing() -> str | None:
    """Why bmv2 cannot run here, or None."""
    if shutil.which(BMV2_BINARY) is None:
        return f"{BMV2_BINARY} not on PATH (install bmv2 with PI from p4lang's packages)"
    return None


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
        argv = [BMV2_BINARY, "--device-id", str(self.device_id), "--thrift-port", str(self.thrift_port)]
        for port, iface in sorted(self.ports.items()):
            argv += ["-i", f"{port}@{iface}"]
        argv += ["--log-console", "--log-level", self.log_level, "--no-p4"]
        argv += ["--", "--grpc-server-addr", self.grpc_address]
        return self.netns.exec_argv(argv)

    def start(self, timeout: float = 30.0) -> None:
        missing = bmv2_missing()
        if missing:
            raise Bmv2Error(missing)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.grpc_socket.exists():
            self.grpc_socket.unlink()
        self.pid = spawn_logged(self.argv(), self.log_path)
        self.wait_ready(timeout)

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return done == 0

    def wait_ready(self, timeout: float) -> None:
        """Block until the gRPC server accepts a connection (or fail with the log tail)."""
        deadline = time.monotonic() + timeout
        while not self.grpc_socket.exists():
            if not self.alive():
                raise Bmv2Error(f"{self.name}: {BMV2_BINARY} exited during start; log:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise Bmv2Error(f"{self.name}: no gRPC socket after {timeout}s; log:\n{self.log_tail()}")
            # The socket appears when the server binds; poll it, the process gives no signal.
            time.sleep(0.05)
        channel = grpc.insecure_channel(self.grpc_address)
        try:
            grpc.channel_ready_future(channel).result(timeout=max(0.1, deadline - time.monotonic()))
        except grpc.FutureTimeoutError:
            tail = self.log_tail()
            raise Bmv2Error(f"{self.name}: gRPC not ready after {timeout}s; log:\n{tail}") from None
        finally:
            channel.close()

    def stop(self, timeout: float = 5.0) -> None:
        """TERM, then KILL after `timeout` seconds; reaps the process."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

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
            self.netns.exec_argv(["simple_switch_CLI", "--thrift-port", str(self.thrift_port)]),
            input=text,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise Bmv2Error(f"{self.name}: simple_switch_CLI failed: {proc.stderr.strip()}")
        return proc.stdout

"""The HPCC agents of a run: started in their hosts' namespaces, waited for, stopped by pid.

Every agent is the command line of hpn.hpcc (``python -m hpn.hpcc receive|send``), one
process per role. Processes are started with subprocess (vfork + exec), not fork, so a
caller holding gRPC channels (hpnctl demo) may use this; they start with the stop signals
blocked (hpn.hpcc.stopping), so one stopped at any moment still writes its summary.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import hpn
from hpn.emulation.traffic import EmulatedNic
from hpn.experiments.incast.errors import IncastError
from hpn.experiments.incast.placement import IncastSetup
from hpn.experiments.incast.settings import IncastSettings
from hpn.hpcc.cli import RECEIVER_READY, SENDER_READY
from hpn.hpcc.stopping import stop_signals_blocked
from hpn.netlab.netns import Netns
from hpn.netlab.processes import terminate

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def agent_env() -> dict[str, str]:
    """The agents import hpn from the same tree as this process."""
    tree = str(Path(hpn.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=tree if not path else f"{tree}{os.pathsep}{path}")


def tail(path: Path, lines: int = 8) -> str:
    """The last lines of an agent's log, on one line, for an error message."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return f"(no log {path})"
    return " | ".join(text[-lines:]) + f" (log {path})"


@dataclass
class Agent:
    name: str
    proc: subprocess.Popen[bytes]
    summary: Path
    """Its stdout: the JSON summary it writes when it stops."""
    log: Path
    """Its stderr."""
    ready: str | None = None
    """What its stderr says once it is ready (None: not to be waited for, or waited for already)."""


class Agents:
    """The agent processes of one run; every one still running is stopped (by pid) on exit."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.started: list[Agent] = []
        self._files: list[IO[bytes]] = []

    def start(
        self,
        name: str,
        nic: EmulatedNic,
        args: Sequence[str],
        *,
        ready: str | None = None,
        wait: bool = True,
    ) -> Agent:
        """Start one agent in `nic`'s namespace; with `ready`, wait until its stderr says so
        (with `wait` False, the caller waits with `wait_ready`)."""
        summary, log = self.work_dir / f"{name}.json", self.work_dir / f"{name}.err"
        out = open(summary, "wb")  # noqa: SIM115 (closed in __exit__)
        self._files.append(out)
        err: IO[bytes] | int = subprocess.PIPE
        if ready is None:
            err = open(log, "wb")  # noqa: SIM115 (closed in __exit__)
            self._files.append(err)
        argv = Netns(nic.netns).exec_argv([sys.executable, "-m", "hpn.hpcc", *args])
        with stop_signals_blocked():
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=agent_env())
        agent = Agent(name, proc, summary, log, ready)
        self.started.append(agent)
        if ready is not None and wait:
            self.wait_ready(agent)
        return agent

    def wait_ready(self, agent: Agent, timeout: float = READY_TIMEOUT_S) -> None:
        """Until `agent` says it is ready; IncastError, naming it, when it exits or times out first."""
        marker, agent.ready = agent.ready, None
        if marker is None:
            return  # not to be waited for, or waited for already
        assert agent.proc.stderr is not None
        fd = agent.proc.stderr.fileno()
        deadline = time.monotonic() + timeout
        seen = b""
        while marker.encode() not in seen:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            chunk = os.read(fd, 65536) if ready else b""
            seen += chunk
            if ready and not chunk:
                agent.log.write_bytes(seen)
                raise IncastError(f"{agent.name} exited during start: {tail(agent.log)}")
            if not ready:
                agent.log.write_bytes(seen)
                raise IncastError(f"{agent.name} not ready after {timeout:.0f}s: {tail(agent.log)}")
        agent.log.write_bytes(seen)

    def stop(self, agents: Sequence[Agent], timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM (the agents stop and write their summary), SIGKILL after `timeout`."""
        terminate([a.proc.pid for a in agents if a.proc.poll() is None], timeout)
        for agent in agents:
            agent.proc.wait()  # reaped already: this only records it
            if agent.proc.stderr is not None:  # what it wrote after it was ready
                with open(agent.log, "ab") as log:
                    log.write(agent.proc.stderr.read())
                agent.proc.stderr.close()

    def __enter__(self) -> Agents:
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self.stop([a for a in self.started if a.proc.poll() is None])
        finally:
            for f in self._files:
                f.close()


def sender_args(
    setup: IncastSetup,
    settings: IncastSettings,
    nic: EmulatedNic,
    i: int,
    *,
    cc: str,
    pps: float,
    seconds: float,
    log: Path,
) -> list[str]:
    """`python -m hpn.hpcc send` for sender `i` (source port and QP from it) for `seconds`."""
    return [
        "send",
        "--log",
        str(log),
        "--ip",
        str(nic.ip),
        "--to",
        str(setup.receiver.ip),
        "--sport",
        str(49152 + i),
        "--qpn",
        str(i + 1),
        "--cc",
        cc,
        "--duration",
        f"{seconds:.3f}",
        "--nic-gbps",
        str(setup.nic_gbps),
        "--line-rate-pps",
        str(pps),
        "--payload-bytes",
        str(settings.payload_bytes),
        "--base-rtt-us",
        str(settings.base_rtt_us),
    ]


def start_senders(
    agents: Agents, named_args: Sequence[tuple[str, EmulatedNic, Sequence[str]]]
) -> list[Agent]:
    """Senders started together, returned once every one is ready to send (its sockets bound)."""
    senders = [
        agents.start(name, nic, args, ready=SENDER_READY, wait=False) for name, nic, args in named_args
    ]
    for sender in senders:
        agents.wait_ready(sender)
    return senders


def start_receiver(agents: Agents, setup: IncastSetup, log: Path) -> Agent:
    """The receiver, once its socket is bound."""
    args = ["receive", "--ip", str(setup.receiver.ip), "--log", str(log)]
    return agents.start("receiver", setup.receiver, args, ready=RECEIVER_READY)

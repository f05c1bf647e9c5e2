"""Stopping processes: SIGTERM, then SIGKILL for those still running after a timeout.

Exits are waited for on pidfds (select, no polling). A process that is our child is
reaped once it is gone, so it leaves no zombie; one that is not is only waited for.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Iterable, Sequence

TERM_TIMEOUT = 5.0
"""How long a process is given to exit on SIGTERM before it is killed."""


def reap(pid: int) -> None:
    """Collect `pid` if it is an exited child of ours; nothing otherwise."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait up to `timeout` seconds until the processes exit; returns those still running."""
    fds: dict[int, int] = {}
    for pid in pids:
        try:
            fds[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            continue  # gone already (and reaped)
    deadline = time.monotonic() + timeout
    try:
        while fds:
            ready, _, _ = select.select(list(fds), [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            for fd in ready:
                reap(fds.pop(fd))
                os.close(fd)
        return list(fds.values())
    finally:
        for fd in fds:
            os.close(fd)


def _send(pids: Iterable[int], sig: signal.Signals, group: bool) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)


def terminate(pids: Sequence[int], timeout: float = TERM_TIMEOUT, *, group: bool = False) -> list[int]:
    """SIGTERM every process, SIGKILL those still running after `timeout`; returns the killed ones.

    `group`: signal each pid's process group (a process started in its own session, with
    whatever it started). After SIGKILL it waits up to `timeout` again.
    """
    _send(pids, signal.SIGTERM, group)
    stuck = wait_gone(pids, timeout)
    _send(stuck, signal.SIGKILL, group)
    wait_gone(stuck, timeout)
    return stuck

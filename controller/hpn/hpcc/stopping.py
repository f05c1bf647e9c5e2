"""How an agent is stopped: SIGTERM or SIGINT sets an event it checks, so it still writes its summary.

Only the standard library is imported here: ``python -m hpn.hpcc`` installs these handlers
before it imports anything else. A signal that arrives earlier still, while the interpreter
starts, would kill the agent; a process started inside ``stop_signals_blocked()`` inherits
both signals blocked, so such a signal waits until ``StopSignals.install`` unblocks it and is
then handled like any other.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


class StopSignals:
    """`event` is set by the first stop signal, whose name `signal` keeps."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: str | None = None

    def install(self) -> StopSignals:
        """Handle the stop signals from now on, including one that waited while blocked."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        return self

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signal.Signals(signum).name
        self.event.set()


@contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """Start agents inside this: they begin with SIGTERM and SIGINT blocked (see the module)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)

"""The bottleneck's byte queue, read from bmv2 over Thrift in a thread while a run goes on.

bmv2's P4Runtime server does not read registers, so the port's queue register is read with
the runtime CLI (hpn.netlab.bmv2.Bmv2Cli).
"""

from __future__ import annotations

import threading
import time

from hpn.experiments.incast.errors import IncastError
from hpn.netlab.bmv2 import Bmv2Cli
from hpn.pipeline.names import queued_bytes

JOIN_TIMEOUT_S = 10.0


class QueueSampler:
    """Reads a port's queue count every `interval` seconds in a thread: (monotonic ns, bytes)."""

    def __init__(self, cli: Bmv2Cli, register: str, index: int, interval: float) -> None:
        self.cli, self.register, self.index, self.interval = cli, register, index, interval
        self.samples: list[tuple[int, int]] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hpn-queue-sampler", daemon=True)

    def _run(self) -> None:
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                cell = self.cli.register_read(self.register, self.index)
                self.samples.append((time.monotonic_ns(), queued_bytes(cell)))
                next_at += self.interval
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        except BaseException as exc:  # reported by check(), in the caller's thread
            self.error = exc

    def __enter__(self) -> QueueSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=JOIN_TIMEOUT_S)

    def check(self) -> None:
        """Raise IncastError when a reading failed."""
        if self.error is not None:
            raise IncastError(f"reading {self.register}[{self.index}] failed: {self.error}")

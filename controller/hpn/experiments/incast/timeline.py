"""The experiment's clock: waits until points in monotonic time, unless the caller says stop."""

from __future__ import annotations

import threading
import time

from hpn.experiments.incast.errors import IncastStopped


class Timeline:
    """Time from `start()`, with every wait cut short by the `stop` event (IncastStopped)."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self.stop = stop if stop is not None else threading.Event()
        self.t0 = time.monotonic()

    def start(self) -> None:
        """Time 0 is now."""
        self.t0 = time.monotonic()

    def check(self) -> None:
        """Raise IncastStopped when the stop event is set."""
        if self.stop.is_set():
            raise IncastStopped

    def until(self, offset_s: float) -> None:
        """Wait until `offset_s` seconds after time 0; IncastStopped when stopped first."""
        self.wait(self.t0 + offset_s - time.monotonic())

    def wait(self, seconds: float) -> None:
        """Wait `seconds` (a part of the experiment, not a synchronisation); IncastStopped if stopped."""
        if self.stop.wait(max(0.0, seconds)):
            raise IncastStopped

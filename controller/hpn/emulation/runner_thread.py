"""`hpnctl run`'s runner on an emulation, in a thread of this process: for the tests and for
reading what the runner knows (its link states, what each port heard), which a runner
process (hpn.emulation.runner_process) only shows through its events and metrics.

    with RunnerThread(emulation) as rt:           # returns once the fabric is pushed
        rt.wait_for("every cable learnt", lambda events: ...)
        rt.runner.loop.monitor.observed()

The runner gets its own event loop in the thread; its events are kept in `events`, and a
waiter is woken by each one (and every `poll` seconds, for state no event announces).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from types import TracebackType

from hpn.emulation.emulation import Emulation
from hpn.emulation.emulation_controller import EMULATION_OPTIONS
from hpn.operations.events import Event
from hpn.operations.liveness import Timers
from hpn.operations.runner import FabricRunner
from hpn.runtime import SessionOptions

START_TIMEOUT = 120.0


class RunnerThread:
    def __init__(
        self,
        emulation: Emulation,
        timers: Timers | None = None,
        options: SessionOptions = EMULATION_OPTIONS,
        poll: float = 0.1,
    ) -> None:
        self.events: list[Event] = []
        self.runner = FabricRunner(
            emulation.fabric, emulation.targets(), options, emit=self._record, timers=timers
        )
        self._poll = poll
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hpnctl-run", daemon=True)

    def _record(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self.runner.run(self._stop, self._started.set))
        except BaseException as exc:  # handed to the caller at the stop
            self._error = exc
        finally:
            self._started.set()  # a runner that failed to start wakes the caller too
            self._loop.close()

    def __enter__(self) -> RunnerThread:
        self._thread.start()
        if not self._started.wait(START_TIMEOUT) or not self._thread.is_alive():
            self.stop()
            raise RuntimeError(f"the runner did not push the fabric within {START_TIMEOUT:.0f} s")
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self, timeout: float = 60.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def mark(self) -> int:
        """The number of events so far: `events[mark:]` are those that come after."""
        with self._changed:
            return len(self.events)

    def wait_for(self, holds: Callable[[list[Event]], bool], timeout: float) -> bool:
        """Until `holds(events)` (True), `timeout` passes or the runner ends (False);
        checked at each event and every `poll` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not holds(self.events):
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return holds(self.events)
                self._changed.wait(min(left, self._poll))
            return True

"""What the operations loop did, as JSON lines with times.

One event a line: `{"t": 12.300000000, "event": "declared", "subject": "tor-s0-r0-p0:130--agg-p0-a1:1", ...}`.
`t` is seconds on the loop's monotonic clock (the timestamps the caller gave the state
machines), so the lines of one run subtract into durations; `detail` keys are per kind.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

NS_PER_S = 1_000_000_000


class EventKind(str, enum.Enum):
    LEARNT = "learnt"  # a cable of the topology was heard from both ends for the first time
    DETECTED = "detected"  # a link missed its first probe interval
    DECLARED = "declared"  # ... and is declared down after k misses
    HELD = "held"  # a down link is heard again and waits out its hold-down
    HOLD_BROKEN = "hold_broken"  # it missed a probe during the hold-down: down again, no write
    RESTORED = "restored"  # it was heard for the whole hold-down: up again
    SWITCH_DOWN = "switch_down"  # a switch stopped answering
    SWITCH_UP = "switch_up"  # it answers again (the runtime re-programs it)
    RECOMPUTED = "recomputed"  # the failure view changed: the affected switches' writes are known
    WRITTEN = "written"  # those writes were made
    REFUSED = "refused"  # an input (probe, host reply) was bad; it is named and dropped
    HOST_SEEN = "host_seen"  # a ToR host port answered for the first time, again, or from another NIC
    HOST_LOST = "host_lost"  # ... and then missed k host probe rounds


@dataclass(frozen=True)
class Event:
    t_ns: int
    kind: EventKind
    subject: str
    detail: Mapping[str, object] = field(default_factory=dict)

    def json(self) -> str:
        return json.dumps(
            {
                "t": round(self.t_ns / NS_PER_S, 9),
                "event": self.kind.value,
                "subject": self.subject,
                **self.detail,
            },
            sort_keys=False,
        )


EventSink = Callable[[Event], None]


class JsonLines:
    """An event sink writing one JSON line per event to a text stream, flushed at once."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, event: Event) -> None:
        self._stream.write(event.json() + "\n")
        self._stream.flush()


class EventList:
    """An event sink that keeps the events (tests, and `hpnctl run`'s summary)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self, subject: str | None = None) -> list[EventKind]:
        return [e.kind for e in self.events if subject is None or e.subject == subject]

"""What a running `hpnctl run` reports: its events (JSON lines in a file) and its metrics
(Prometheus text on its HTTP endpoint), read back as numbers.

`EventsTail` follows the events file as the runner appends to it (one flushed line per
event, `hpn.operations.events.JsonLines`); a line is taken only once it is whole. Event
times are seconds on the runner's monotonic clock, which is this machine's
CLOCK_MONOTONIC: they compare with `time.monotonic()` of any process here.

`scrape` reads the metrics of docs/operations.md ("Metrics") that say what the runner did:
failovers, switches touched, updates written, the detection-to-written histogram, the
failure view's size and the probes.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from hpn.operations.events import Event, EventKind

NS = 1_000_000_000
POLL = 0.02
"""How often a waiter reads the events file again (seconds)."""


class EventLineError(ValueError):
    """A line of the events file is not an event; the message names the file and the line."""


def parse_event(line: str, where: str) -> Event:
    """One JSON line of `hpnctl run`'s events as an `Event`."""
    try:
        data = json.loads(line)
        t, kind, subject = data.pop("t"), EventKind(data.pop("event")), str(data.pop("subject"))
        return Event(round(float(t) * NS), kind, subject, data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EventLineError(f"{where}: not an event ({exc}): {line[:200]!r}") from None


class EventsTail:
    """The events of one events file, read as the runner writes them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[Event] = []
        self._offset = 0
        self._partial = b""
        self._lines = 0

    def read(self) -> list[Event]:
        """The events written since the last read (also kept in `events`)."""
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *whole, self._partial = (self._partial + data).split(b"\n")
        new = []
        for raw in whole:
            self._lines += 1
            if raw.strip():
                new.append(parse_event(raw.decode(), f"{self.path}:{self._lines}"))
        self.events += new
        return new

    def wait_for(
        self,
        holds: Callable[[list[Event]], bool],
        timeout: float,
        running: Callable[[], bool] = lambda: True,
    ) -> bool:
        """Read until `holds(events)` (True), `timeout` passes or `running()` turns False (False)."""
        deadline = time.monotonic() + timeout
        while True:
            self.read()
            if holds(self.events):
                return True
            if time.monotonic() >= deadline or not running():
                self.read()
                return holds(self.events)
            time.sleep(POLL)

    def since(self, t_s: float) -> list[Event]:
        """The events at or after `t_s` (monotonic seconds)."""
        return [e for e in self.events if e.t_ns >= t_s * NS]


def subjects_of(events: Iterable[Event], kind: EventKind) -> set[str]:
    return {e.subject for e in events if e.kind is kind}


def followed_by(events: Sequence[Event], subjects: set[str], first: EventKind, then: EventKind) -> bool:
    """Some event `first` about one of `subjects`, and a later `then` about one of them."""
    at = next((i for i, e in enumerate(events) if e.kind is first and e.subject in subjects), None)
    return at is not None and any(e.kind is then and e.subject in subjects for e in events[at + 1 :])


# -- metrics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Histogram:
    """A Prometheus histogram: observations, their sum, cumulative counts per upper bound."""

    count: int = 0
    total: float = 0.0
    buckets: tuple[tuple[float, int], ...] = ()

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def describe(self, unit: float = 1e3, suffix: str = " ms") -> str:
        """`3 observations, mean 412 ms; <= 250 ms: 0, <= 500 ms: 3, ...` (finite bounds only)."""
        if not self.count:
            return "no observations"
        mean = self.mean or 0.0
        shown = ", ".join(f"<= {le * unit:g}{suffix}: {n}" for le, n in self.buckets if le != float("inf"))
        return f"{self.count} observations, mean {mean * unit:.0f}{suffix}; {shown}"


@dataclass(frozen=True)
class RunnerNumbers:
    """The runner's own numbers at one scrape."""

    failovers: dict[str, float] = field(default_factory=dict)
    """hpn_failovers_total by kind (link_down, link_up, switch_down, switch_up)."""
    switches_touched: float = 0.0
    updates_written: float = 0.0
    """hpn_updates_written_total summed over the switches."""
    write_errors: float = 0.0
    detection_to_written: Histogram = field(default_factory=Histogram)
    failure_view: dict[str, float] = field(default_factory=dict)
    """hpn_failure_view_size by kind (link, switch)."""
    probes_sent: float = 0.0
    probes_received: float = 0.0

    @property
    def failure_view_empty(self) -> bool:
        return not any(self.failure_view.values())


def parse_metrics(text: str) -> RunnerNumbers:
    """The numbers of `RunnerNumbers` out of a Prometheus text exposition."""
    failovers: dict[str, float] = {}
    view: dict[str, float] = {}
    sums: dict[str, float] = {}
    hist_count, hist_sum = 0, 0.0
    buckets: list[tuple[float, int]] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "hpn_failovers_total":
                failovers[labels.get("kind", "")] = value
            elif name == "hpn_failure_view_size":
                view[labels.get("kind", "")] = value
            elif name == "hpn_failover_detection_to_written_seconds_bucket":
                buckets.append((float(labels["le"]), int(value)))
            elif name == "hpn_failover_detection_to_written_seconds_count":
                hist_count = int(value)
            elif name == "hpn_failover_detection_to_written_seconds_sum":
                hist_sum = value
            elif name in (
                "hpn_failover_switches_touched_total",
                "hpn_updates_written_total",
                "hpn_write_errors_total",
                "hpn_probes_sent_total",
                "hpn_probes_received_total",
            ):
                sums[name] = sums.get(name, 0.0) + value
    return RunnerNumbers(
        failovers=failovers,
        switches_touched=sums.get("hpn_failover_switches_touched_total", 0.0),
        updates_written=sums.get("hpn_updates_written_total", 0.0),
        write_errors=sums.get("hpn_write_errors_total", 0.0),
        detection_to_written=Histogram(hist_count, hist_sum, tuple(sorted(buckets))),
        failure_view=view,
        probes_sent=sums.get("hpn_probes_sent_total", 0.0),
        probes_received=sums.get("hpn_probes_received_total", 0.0),
    )


def scrape(url: str, timeout: float = 5.0) -> RunnerNumbers:
    """The runner's numbers from its metrics endpoint (raises OSError when it does not answer)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return parse_metrics(response.read().decode())

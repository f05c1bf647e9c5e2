"""The runner's events around a cut and its restore, as times after each; and their PNG.

A cut's timeline holds every event of `hpnctl run` about the cut's subjects (a cable, or
a switch and its cables): from the cut until the restore, in seconds after the cut
(detected, declared or switch_down, recomputed, written), and from the restore on, in
seconds after the restore (held, switch_up, restored, recomputed, written). Next to them:
when traffic delivered again after the cut, and when the fabric was intact again after
the restore, as the caller measured them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpn.emulation.plotting import pyplot
from hpn.operations.events import Event, EventKind

NS = 1_000_000_000
CUT_KINDS = (
    EventKind.DETECTED,
    EventKind.DECLARED,
    EventKind.SWITCH_DOWN,
    EventKind.RECOMPUTED,
    EventKind.WRITTEN,
)
BACK_KINDS = (
    EventKind.HELD,
    EventKind.HOLD_BROKEN,
    EventKind.SWITCH_UP,
    EventKind.RESTORED,
    EventKind.RECOMPUTED,
    EventKind.WRITTEN,
)
_STYLE = {
    EventKind.DETECTED: ("o", "tab:orange"),
    EventKind.DECLARED: ("s", "tab:red"),
    EventKind.SWITCH_DOWN: ("X", "tab:red"),
    EventKind.HELD: ("o", "tab:olive"),
    EventKind.HOLD_BROKEN: ("x", "tab:red"),
    EventKind.SWITCH_UP: ("P", "tab:green"),
    EventKind.RESTORED: ("s", "tab:green"),
    EventKind.RECOMPUTED: ("^", "tab:purple"),
    EventKind.WRITTEN: ("v", "tab:blue"),
}


@dataclass(frozen=True)
class Mark:
    after_s: float
    kind: EventKind
    subject: str


@dataclass(frozen=True)
class CutTimeline:
    label: str
    cut: tuple[Mark, ...]
    """Events from the cut until the restore, seconds after the cut."""
    back: tuple[Mark, ...]
    """Events from the restore on, seconds after the restore."""
    recovered_s: float | None
    """Traffic delivered again, seconds after the cut (None: not all of it)."""
    intact_s: float | None
    """The fabric was intact again, seconds after the restore (None: not seen)."""

    def first(self, kind: EventKind) -> float | None:
        """The first event of `kind` after the cut."""
        return next((m.after_s for m in self.cut if m.kind is kind), None)

    def last_back(self, kind: EventKind) -> float | None:
        """The last event of `kind` after the restore."""
        times = [m.after_s for m in self.back if m.kind is kind]
        return max(times) if times else None


def cut_timeline(
    label: str,
    events: Iterable[Event],
    subjects: set[str],
    t_cut: float,
    t_back: float,
    t_end: float,
    recovered_s: float | None,
    intact_s: float | None,
) -> CutTimeline:
    """The timeline of one cut at `t_cut`, restored at `t_back`, observed until `t_end`
    (monotonic seconds, the clock of the runner's events)."""
    cut, back = [], []
    for e in events:
        if e.subject not in subjects:
            continue
        t = e.t_ns / NS
        if t_cut <= t < t_back and e.kind in CUT_KINDS:
            cut.append(Mark(t - t_cut, e.kind, e.subject))
        elif t_back <= t <= t_end and e.kind in BACK_KINDS:
            back.append(Mark(t - t_back, e.kind, e.subject))
    return CutTimeline(label, tuple(cut), tuple(back), recovered_s, intact_s)


def plot_timelines(timelines: Sequence[CutTimeline], path: Path, title: str, target_s: float = 1.0) -> Path:
    """One row per cut: the events after the cut (left) and after the restore (right), in
    ms, with traffic's recovery and the fabric intact again. Raises PlottingUnavailable."""
    plt = pyplot()
    rows = len(timelines)
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(13, max(2.8, 1.2 + 0.42 * rows)), sharey=True, squeeze=True
    )
    seen: set[str] = set()

    def point(ax: Any, x: float, y: int, marker: str, color: str, label: str) -> None:
        shown = label if label not in seen else None
        seen.add(label)
        ax.scatter([x * 1000], [y], marker=marker, color=color, s=36, label=shown, zorder=3)

    for y, tl in enumerate(timelines):
        for ax, marks in ((left, tl.cut), (right, tl.back)):
            for m in marks:
                marker, color = _STYLE[m.kind]
                point(ax, m.after_s, y, marker, color, m.kind.value)
        if tl.recovered_s is not None:
            point(left, tl.recovered_s, y, "*", "black", "traffic delivers again")
        if tl.intact_s is not None:
            point(right, tl.intact_s, y, "D", "black", "intact (view empty, diff empty)")
    left.axvline(target_s * 1000, color="red", linewidth=0.8, label="target")
    left.set_yticks(range(rows), [tl.label for tl in timelines], fontsize=8)
    left.invert_yaxis()
    left.set_xlabel("ms after the cut")
    right.set_xlabel("ms after the restore")
    for ax in (left, right):
        ax.set_xlim(left=0)
        ax.grid(axis="x", linewidth=0.3)
    handles = [h for ax in (left, right) for h in ax.get_legend_handles_labels()[0]]
    labels = [lab for ax in (left, right) for lab in ax.get_legend_handles_labels()[1]]
    fig.legend(handles, labels, loc="upper center", ncol=6, fontsize=8, frameon=False)
    fig.suptitle(title, y=0.02, va="bottom", fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 0.9))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

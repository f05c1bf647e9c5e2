"""The incast comparison as tables (rich) and one PNG, for bench/bench_hpcc.py and hpnctl demo.

docs/hpcc.md ("The incast experiment") says how to read them. The PNG needs matplotlib
(the ``plot`` extra); without it, PlottingUnavailable says how to get it.
"""

from __future__ import annotations

import math
from pathlib import Path

from rich.table import Table

from hpn.emulation.plotting import pyplot
from hpn.experiments.incast.comparison import Comparison
from hpn.experiments.incast.goals import BEHAVIOUR, goals, queue_ratio, speed_note
from hpn.experiments.incast.statistics import IncastOutcome
from hpn.hpcc.metrics import QueueSummary
from hpn.netlab.load import MachineLoad

MODE_NAMES = {"none": "no CC", "hpcc": "HPCC"}


def _bytes(value: float, buffer: int) -> str:
    """A queue reading; one beyond the buffer is shown as the buffer, starred (see the notes)."""
    if value > buffer:
        return f"{buffer:,}*"
    return f"{value:,.0f}"


def _queue(summary: QueueSummary | None, pick: str, buffer: int) -> str:
    if summary is None:
        return "-"
    return _bytes(getattr(summary, pick), buffer)


def _ratio(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def _jain(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _windowed(values: tuple[float, float] | None) -> str:
    return "-" if values is None else f"{values[0]:.3f} / {values[1]:.3f}"


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def title(comparison: Comparison) -> str:
    s, setup = comparison.settings, comparison.setup
    return (
        f"HPCC incast: {s.senders}:1 into {setup.receiver} through {setup.bottleneck} at "
        f"{s.line_rate_pps:g} pkt/s ({setup.nic_gbps} Gb/s scaled), buffer {s.queue_depth} packets, "
        f"T = {s.base_rtt_us:.0f} us; the last sender joins after {s.before_join_s:g} s"
    )


def table(comparison: Comparison) -> Table:
    """The side-by-side numbers: one column per mode, and HPCC's over no CC's."""
    modes = list(comparison.outcomes)
    out: list[IncastOutcome] = [comparison.outcomes[m] for m in modes]
    t = Table("", *[MODE_NAMES.get(m, m) for m in modes], "HPCC / no CC", title=title(comparison))

    def row(label: str, values: list[str], ratio: str = "") -> None:
        t.add_row(label, *values, ratio)

    row("queue median, INT (B)", [_queue(o.queue_int, "median", o.buffer_bytes) for o in out])
    row(
        "queue p99, INT (B)",
        [_queue(o.queue_int, "p99", o.buffer_bytes) for o in out],
        _ratio(queue_ratio(comparison, "int")),
    )
    row("queue median, bmv2 (B)", [_queue(o.queue_bmv2, "median", o.buffer_bytes) for o in out])
    row(
        "queue p99, bmv2 (B)",
        [_queue(o.queue_bmv2, "p99", o.buffer_bytes) for o in out],
        _ratio(queue_ratio(comparison, "bmv2")),
    )
    row("goodput / bottleneck rate", [f"{o.goodput_share:.1%}" for o in out])
    row("all data at the receiver / rate", [f"{o.busy_share:.1%}" for o in out])
    row("Jain fairness before the join", [_jain(o.fairness_before) for o in out])
    row("Jain fairness after the join", [f"{o.fairness:.3f}" for o in out])
    window = f"{comparison.settings.window_s:g} s"
    row(f"  per {window} window: median / min", [_windowed(o.windowed_fairness) for o in out])
    row("convergence after the join (s)", [_seconds(o.convergence_s) for o in out])
    row("join at (s) / window (s)", [f"{_seconds(o.join_s)} / {o.seconds:.1f}" for o in out])
    row("packets sent", [f"{o.packets_sent:,}" for o in out])
    row("delivered in order", [f"{sum(c.delivered for c in o.senders.values()):,}" for o in out])
    row("go-back-N (NACK or timeout)", [f"{o.retransmits:,}" for o in out])
    row("samples INT / bmv2", [f"{_n(o.queue_int)} / {_n(o.queue_bmv2)}" for o in out])
    return t


def _n(summary: QueueSummary | None) -> str:
    return "0" if summary is None else f"{summary.samples:,}"


def senders_table(comparison: Comparison) -> Table:
    """Per sender: packets delivered in order over the window, of packets sent (retransmissions)."""
    modes = list(comparison.outcomes)
    t = Table("sender", *[MODE_NAMES.get(m, m) for m in modes], title="delivered in order / sent (go-back-N)")
    for i, nic in enumerate(comparison.setup.senders):
        cells = []
        for m in modes:
            c = comparison.outcomes[m].senders[str(nic.ip)]
            cells.append(f"{c.delivered:,} / {c.sent:,} ({c.retransmits})")
        joined = " (joins)" if i == len(comparison.setup.senders) - 1 else ""
        t.add_row(f"{nic}{joined} {nic.ip}", *cells)
    return t


def notes(comparison: Comparison, load: MachineLoad | None = None) -> list[str]:
    """Footnotes for the tables: the starred readings, the calibration, the goals (behaviour
    and speed), and the machine's load over the experiment when it was measured."""
    out = []
    for mode, o in comparison.outcomes.items():
        readings = [q.maximum for q in (o.queue_int, o.queue_bmv2) if q is not None]
        if readings and max(readings) > o.buffer_bytes:
            out.append(
                f"* {MODE_NAMES.get(mode, mode)}: the switch's byte count read up to {max(readings):,.0f} B, "
                f"more than the buffer holds ({o.buffer_bytes:,} B = {comparison.settings.queue_depth} x "
                f"{comparison.settings.frame_bytes} B): it also counts packets bmv2's traffic manager "
                "dropped, so such readings are shown, and compared, as the buffer"
            )
    if comparison.rtt is not None:
        r, base = comparison.rtt, comparison.settings.base_rtt_us
        out.append(
            f"T measured: {r.samples} RTTs of one flow alone, min {r.min_us:.0f} us, "
            f"median {r.median_us:.0f} us, p90 {r.p90_us:.0f} us -> T = {base:.0f} us"
        )
    measured = goals(comparison)
    for goal in measured:
        verdict = "met" if goal.met else "NOT met"
        out.append(f"goal ({goal.kind}) {goal.what} {goal.wanted}: {goal.shown}, {verdict}")
    out.append(
        f"{BEHAVIOUR} goals test what HPCC and the switches do; speed goals depend on how promptly "
        f"the machine runs bmv2 and the agents: {speed_note(measured, load)}"
    )
    if load is not None:
        out.append(f"machine load over the experiment: {load.describe()}")
    return out


def plot(comparison: Comparison, path: Path) -> Path:
    """The queue (INT and bmv2) and per-sender delivered rates over time, one column per mode.

    Raises PlottingUnavailable when matplotlib is missing.
    """
    plt = pyplot()

    modes = list(comparison.outcomes)
    fig, axes = plt.subplots(2, len(modes), figsize=(6.5 * len(modes), 7), squeeze=False)
    keys = [str(n.ip) for n in comparison.setup.senders]
    for col, mode in enumerate(modes):
        o = comparison.outcomes[mode]
        name = MODE_NAMES.get(mode, mode)
        top, bottom = axes[0, col], axes[1, col]
        limit = o.buffer_bytes * 1.15
        beyond = sum(1 for _, q in o.int_queue if q > o.buffer_bytes)
        top.plot(
            [t / 1e9 for t, _ in o.int_queue],
            [min(q, limit) for _, q in o.int_queue],
            ".",
            markersize=2,
            label="INT qlen (last hop) per packet",
        )
        top.plot(
            [t / 1e9 for t, _ in o.bmv2_queue],
            [min(q, limit) for _, q in o.bmv2_queue],
            linewidth=0.8,
            label="bmv2 register, sampled",
        )
        top.axhline(o.buffer_bytes, color="red", linewidth=0.8, linestyle="--", label="buffer")
        top.set_ylim(0, limit)
        top.set_ylabel("bottleneck queue (bytes)")
        clipped = f" ({beyond} INT readings beyond the buffer, drawn at the top)" if beyond else ""
        p99 = "-" if o.queue_int is None else _bytes(o.queue_int.p99, o.buffer_bytes)
        top.set_title(f"{name}: bottleneck queue, p99 INT {p99} B{clipped}", fontsize=9)
        for i, key in enumerate(keys):
            bottom.plot(
                [s.end_ns / 1e9 for s in o.rates],
                [s.rates.get(key, 0.0) for s in o.rates],
                linewidth=1,
                label=f"{key}" + (" (joins)" if i == len(keys) - 1 else ""),
            )
        bottom.axhline(comparison.settings.line_rate_pps, color="black", linewidth=0.6, linestyle=":")
        bottom.set_ylabel(f"delivered in order (pkt/s, {comparison.settings.bin_s:g} s bins)")
        bottom.set_xlabel("seconds from the first packet")
        bottom.set_title(
            f"{name}: goodput {o.goodput_share:.0%} of the bottleneck, Jain {o.fairness:.3f}, "
            f"converged after {_seconds(o.convergence_s)} s",
            fontsize=9,
        )
        for ax in (top, bottom):
            if o.join_s is not None:
                ax.axvline(o.join_s, color="grey", linewidth=0.8)
            ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(title(comparison), fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

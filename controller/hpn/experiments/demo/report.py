"""The demo's report: rich tables on the terminal and one PNG of link loads.

How to read it is in docs/emulation.md ("Reading the report"). The PNG needs
matplotlib, an optional dependency (`pip install 'hpn-p4[plot]'`; `make setup`
installs it): without it the demo still runs and says why there is no PNG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hpn.emulation.checks import (
    CheckResult,
    ConnectivityResult,
    FailoverResult,
    IntResult,
    LoadBalancingResult,
    PlaneIsolationResult,
    PolarizationResult,
    RestartResult,
)
from hpn.emulation.plotting import PlottingUnavailable as PlottingUnavailable  # re-exported for the demo
from hpn.emulation.plotting import pyplot
from hpn.experiments.demo.collectives_check import CollectivesResult
from hpn.experiments.demo.hpcc_check import HpccIncastResult
from hpn.experiments.demo.operations_check import OperationsResult
from hpn.experiments.incast import report as incast_report


@dataclass
class DemoReport:
    """Everything one demo run measured."""

    fabric: str
    run_dir: Path
    up_seconds: float = 0.0
    push_seconds: float = 0.0
    push_updates: int = 0
    connectivity: ConnectivityResult | None = None
    isolation: PlaneIsolationResult | None = None
    int_telemetry: IntResult | None = None
    load_balancing: LoadBalancingResult | None = None
    polarization: list[PolarizationResult] = field(default_factory=list)
    restart: RestartResult | None = None
    failover: FailoverResult | None = None
    hpcc: HpccIncastResult | None = None
    collectives: CollectivesResult | None = None
    operations: OperationsResult | None = None
    notes: list[str] = field(default_factory=list)
    plot: Path | None = None
    hpcc_plot: Path | None = None

    def checks(self) -> list[tuple[str, CheckResult]]:
        named: list[tuple[str, CheckResult | None]] = [
            ("reachability", self.connectivity),
            ("plane isolation", self.isolation),
            ("INT (HPCC hop slots)", self.int_telemetry),
            ("load balancing", self.load_balancing),
            *((f"hash polarization ({p.fabric})", p) for p in self.polarization),
            ("switch restart", self.restart),
            ("failures with traffic", self.failover),
            ("hpnctl run: a cable cut healed", self.operations),
            ("HPCC incast", self.hpcc),
            ("collectives, several jobs", self.collectives),
        ]
        return [(n, r) for n, r in named if r is not None]

    @property
    def polarization_verdict(self) -> bool | None:
        """Dual-plane closer to 1 than merged planes (None: not both measured)."""
        dual = [p for p in self.polarization if not p.merged]
        merged = [p for p in self.polarization if p.merged]
        if not dual or not merged:
            return None
        return abs(dual[0].ratio - 1) < abs(merged[0].ratio - 1)

    @property
    def ok(self) -> bool:
        return all(r.ok for _, r in self.checks()) and self.polarization_verdict is not False


def _ms(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds * 1000:.0f}"


def _us(ns: int) -> str:
    return f"{ns / 1000:.0f}"


def _kb(n: int) -> str:
    return f"{n / 1000:.1f}"


def render(console: Console, report: DemoReport) -> None:
    console.rule(f"[bold]hpn emulation report: {report.fabric}")
    console.print(
        f"fabric up in {report.up_seconds:.1f}s, programmed in {report.push_seconds:.1f}s "
        f"({report.push_updates} P4Runtime updates); run dir {report.run_dir}",
        highlight=False,
    )
    overview = Table("check", "result", "what was measured", "s", title="Checks")
    for name, result in report.checks():
        verdict = "[green]PASS[/green]" if result.ok else "[red]FAIL[/red]"
        overview.add_row(name, verdict, result.summary(), f"{result.seconds:.1f}")
    console.print(overview)

    if report.connectivity is not None:
        rtts = sorted(v for v in report.connectivity.ping_rtt.values() if v is not None)
        if rtts:
            console.print(
                f"ping RTT ({len(rtts)} echoes sent at once): min {rtts[0] * 1000:.2f} ms, "
                f"median {rtts[len(rtts) // 2] * 1000:.2f} ms, max {rtts[-1] * 1000:.2f} ms",
                highlight=False,
            )
    if report.int_telemetry is not None and report.int_telemetry.hops:
        sender_us = ", ".join(_us(ns) for ns in report.int_telemetry.sender_steps_ns)
        t = Table(
            "slot",
            "switch:port",
            "link rate (topology)",
            "timestamp steps (us, mod 16.8 ms)",
            "tx_bytes advance / port counter",
            title=f"INT hop slots (sender steps {sender_us} us)",
        )
        for i, hop in enumerate(report.int_telemetry.hops):
            t.add_row(
                str(i),
                f"{hop.switch}:{hop.port}",
                f"{hop.link_gbps} Gb/s ({hop.expected_gbps})",
                ", ".join(_us(ns) for ns in hop.timestamp_steps_ns),
                f"{hop.tx_advance_bytes} B / {hop.counter_bytes} B",
            )
        console.print(t)
    if report.load_balancing is not None and report.load_balancing.modes:
        lb = report.load_balancing
        modes = list(lb.modes.values())
        t = Table(
            "source-ToR uplink",
            *[m.mode.name.lower() for m in modes],
            title=f"Load balancing: KB per uplink ({lb.flows} flows x {lb.packets_per_flow} packets)",
        )
        for link in sorted(modes[0].link_bytes):
            t.add_row(link, *[_kb(m.link_bytes[link]) for m in modes])
        t.add_section()
        t.add_row("[bold]max/mean, all uplinks", *[f"[bold]{m.ratio:.2f}" for m in modes])
        t.add_row("max/mean, worst ToR", *[f"{max(m.per_switch_ratio.values()):.2f}" for m in modes])
        t.add_row("packets lost", *[str(m.lost) for m in modes])
        console.print(t)
    if report.polarization:
        t = Table(
            "fabric",
            "planes",
            "downlinks",
            "KB per agg->ToR downlink",
            "max/mean",
            "KB to the NIC ports",
            "packets lost",
            title="Hash polarization: many senders, one destination NIC",
        )
        for pol in report.polarization:
            t.add_row(
                pol.fabric,
                "merged" if pol.merged else "dual",
                str(len(pol.downlink_bytes)),
                " ".join(_kb(v) for _, v in sorted(pol.downlink_bytes.items())),
                f"{pol.ratio:.2f}",
                " ".join(_kb(v) for _, v in sorted(pol.nic_link_bytes.items())),
                f"{pol.lost}/{pol.sent}",
            )
        console.print(t)
        closer = report.polarization_verdict
        if closer is not None:
            console.print(
                "dual-plane is closer to an even split than merged planes"
                if closer
                else "[red]dual-plane is NOT closer to an even split than merged planes[/red]"
            )
    if report.failover is not None:
        fo = report.failover
        t = Table(
            "step",
            "cables+hosts ms",
            "push ms",
            "traffic flows again after ms",
            "flows hit",
            "packets lost",
            "pairs reachable",
            title=f"Failures with {fo.flows} flows running (a packet per flow every "
            f"{fo.interval * 1000:.0f} ms); target < {fo.target * 1000:.0f} ms",
        )
        for ev in fo.events:
            rec = _ms(ev.recovery)
            if ev.recovery is not None and ev.recovery >= fo.target:
                rec = f"[yellow]{rec}[/yellow]"
            t.add_row(
                ev.what,
                _ms(ev.hosts_seconds),
                _ms(ev.push_seconds),
                rec,
                str(ev.affected_flows),
                str(ev.lost_packets),
                f"{ev.reachable[0]}/{ev.reachable[1]}",
            )
        console.print(t)
    if report.restart is not None:
        console.print(report.restart.summary(), highlight=False)
    for line in report.operations.lines() if report.operations is not None else []:
        console.print(line, highlight=False)
    if report.hpcc is not None and report.hpcc.comparison is not None:
        console.print(incast_report.table(report.hpcc.comparison))
        for line in incast_report.notes(report.hpcc.comparison, report.hpcc.load):
            console.print(line, highlight=False)
    if report.collectives is not None:
        report.collectives.render(console)
    for name, result in report.checks():
        for problem in result.problems:
            console.print(f"[red]{name}:[/red] {problem}", highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)
    for png in (report.plot, report.hpcc_plot):
        if png is not None:
            console.print(f"plot: {png}", highlight=False)
    console.rule("[green]all checks passed" if report.ok else "[red]some checks failed")


def plot(report: DemoReport, path: Path) -> Path | None:
    """Per-link load per LB mode (and polarization, failover) as one PNG; None if nothing to plot.

    Raises PlottingUnavailable when matplotlib is missing.
    """
    plt = pyplot()

    panels = []
    if report.load_balancing is not None and report.load_balancing.modes:
        panels.append("lb")
    if report.polarization:
        panels.append("pol")
    if report.failover is not None and report.failover.events:
        panels.append("fo")
    if not panels:
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.6 * len(panels)), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        if panel == "lb":
            assert report.load_balancing is not None
            modes = report.load_balancing.modes
            links = sorted(next(iter(modes.values())).link_bytes)
            width = 0.8 / len(modes)
            for k, (mode, load) in enumerate(modes.items()):
                mean = sum(load.link_bytes.values()) / len(links)
                values = [load.link_bytes[link] / mean if mean else 0 for link in links]
                xs = [i + (k - (len(modes) - 1) / 2) * width for i in range(len(links))]
                ax.bar(xs, values, width, label=f"{mode.name.lower()} (max/mean {load.ratio:.2f})")
            ax.axhline(1.0, color="black", linewidth=0.8)
            ax.set_xticks(
                range(len(links)),
                [link.replace("tor-", "") for link in links],
                rotation=30,
                ha="right",
                fontsize=8,
            )
            ax.set_ylabel("load / mean")
            ax.set_title(f"{report.fabric}: per-uplink load of the source ToRs, per LB mode")
            ax.legend(fontsize=8)
        elif panel == "pol":
            x = 0
            ticks, labels = [], []
            for p in report.polarization:
                values = [v for _, v in sorted(p.downlink_bytes.items())]
                mean = sum(values) / len(values) if values else 0
                xs = list(range(x, x + len(values)))
                kind = "merged planes" if p.merged else "dual-plane"
                ax.bar(
                    xs,
                    [v / mean if mean else 0 for v in values],
                    0.8,
                    label=f"{kind} (max/mean {p.ratio:.2f})",
                )
                ticks += xs
                labels += [k for k, _ in sorted(p.downlink_bytes.items())]
                x += len(values) + 1
            ax.axhline(1.0, color="black", linewidth=0.8)
            ax.set_xticks(ticks, labels, rotation=30, ha="right", fontsize=8)
            ax.set_ylabel("load / mean")
            ax.set_title("agg->ToR downlinks toward one destination NIC")
            ax.legend(fontsize=8)
        else:
            assert report.failover is not None
            events = report.failover.events
            values = [(e.recovery or 0) * 1000 if e.recovery is not None else math.nan for e in events]
            ax.bar([e.what for e in events], values)
            ax.axhline(report.failover.target * 1000, color="red", linewidth=0.8, label="target")
            ax.set_ylabel("ms until traffic flows again")
            ax.set_title("failures with traffic running")
            ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

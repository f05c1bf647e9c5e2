"""Summaries and dumps of computed switch state (what `hpnctl plan` shows)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hpn.bulk import gc_paused
from hpn.routing.groups import MAX_GROUPS
from hpn.routing.state import PORT_LIMIT, Group, LbMode, PortConfig, Route, SwitchState
from hpn.topology.model import Fabric

IPV4_LPM_SIZE = 8192
"""Route table size (p4src/shared/sizes.p4)."""

_MODE_NAMES = {mode: mode.name.lower() for mode in LbMode}


@dataclass(frozen=True)
class SwitchSummary:
    name: str
    role: str
    plane: int
    routes: int
    host_routes: int  # /32s
    groups: int
    max_group_size: int
    ports: int
    down_ports: int

    def fits(self) -> bool:
        return self.routes <= IPV4_LPM_SIZE and self.groups < MAX_GROUPS


@dataclass(frozen=True)
class PlanSummary:
    fabric: str
    switches: tuple[SwitchSummary, ...]
    down: tuple[str, ...]  # switches with no state (down)

    @property
    def routes(self) -> int:
        return sum(s.routes for s in self.switches)

    @property
    def groups(self) -> int:
        return sum(s.groups for s in self.switches)

    @property
    def ports(self) -> int:
        return sum(s.ports for s in self.switches)

    def fits(self) -> bool:
        return all(s.fits() for s in self.switches)


def summarize(fabric: Fabric, states: Mapping[str, SwitchState]) -> PlanSummary:
    rows = []
    for sw in fabric.switches:
        state = states.get(sw.name)
        if state is None:
            continue
        rows.append(
            SwitchSummary(
                name=sw.name,
                role=sw.role.value,
                plane=sw.plane,
                routes=len(state.routes),
                host_routes=sum(1 for r in state.routes if r.prefix.prefixlen == 32),
                groups=len(state.groups),
                max_group_size=max((len(g.ports) for g in state.groups), default=0),
                ports=len(state.ports),
                down_ports=0 if state.live_ports is None else len(state.ports) - len(state.live_ports),
            )
        )
    down = tuple(sw.name for sw in fabric.switches if sw.name not in states)
    return PlanSummary(fabric.name, tuple(rows), down)


def summary_text(summary: PlanSummary, limit: int | None = None) -> str:
    """A fixed-width table, one switch a line (first `limit` switches), then totals."""
    header = (
        f"{'switch':<16} {'role':<4} {'plane':>5} {'routes':>6} {'/32':>5} "
        f"{'groups':>6} {'max':>4} {'ports':>5} {'down':>4}"
    )
    lines = [header, "-" * len(header)]
    rows = summary.switches if limit is None else summary.switches[:limit]
    for s in rows:
        lines.append(
            f"{s.name:<16} {s.role:<4} {s.plane:>5} {s.routes:>6} {s.host_routes:>5} {s.groups:>6} "
            f"{s.max_group_size:>4} {s.ports:>5} {s.down_ports:>4}"
        )
    if limit is not None and len(summary.switches) > limit:
        lines.append(f"... {len(summary.switches) - limit} more switches")
    lines.append(
        f"{summary.fabric}: {len(summary.switches)} switches, {summary.routes} routes, "
        f"{summary.groups} groups, {summary.ports} ports"
        + (f"; down: {', '.join(summary.down)}" if summary.down else "")
    )
    worst = max(summary.switches, key=lambda s: (s.routes, s.groups), default=None)
    if worst is not None:
        verdict = "fits" if summary.fits() else "DOES NOT FIT"
        lines.append(
            f"largest: {worst.name} with {worst.routes} routes, {worst.groups} groups "
            f"({verdict} {IPV4_LPM_SIZE} routes / {MAX_GROUPS} groups / ports < {PORT_LIMIT})"
        )
    return "\n".join(lines)


def _route_key(route: Route) -> tuple[int, int, int]:
    """Plane, then address, then length (cheaper than comparing IPv4Network objects)."""
    return (route.plane, int(route.prefix.network_address), route.prefix.prefixlen)


def _port_key(port: PortConfig) -> int:
    return port.port


def _group_key(group: Group) -> int:
    return group.group_id


def state_to_dict(state: SwitchState) -> dict[str, Any]:
    """A JSON-ready form of one switch's state, in a stable order."""
    return {
        "name": state.name,
        "switch_mac": state.switch_mac,
        "lb": {
            "hash_seed": state.lb.hash_seed,
            "flowlet_gap_us": state.lb.flowlet_gap_us,
            "load_window_us": state.lb.load_window_us,
        },
        "live_ports": None if state.live_ports is None else sorted(state.live_ports),
        "ports": [
            {
                "port": p.port,
                "plane": p.plane,
                "peer": p.peer,
                "neighbor_mac": p.neighbor_mac,
                "speed_gbps": p.speed_gbps,
                "ecn": None
                if p.ecn is None
                else {"kmin": p.ecn.kmin, "kmax": p.ecn.kmax, "pmax": p.ecn.pmax},
            }
            for p in sorted(state.ports, key=_port_key)
        ],
        "groups": [
            {"id": g.group_id, "mode": _MODE_NAMES[g.mode], "ports": sorted(g.ports)}
            for g in sorted(state.groups, key=_group_key)
        ],
        "routes": [
            {"plane": r.plane, "prefix": str(r.prefix), "group": r.group_id}
            for r in sorted(state.routes, key=_route_key)
        ],
    }


def plan_json(
    states: Mapping[str, SwitchState], switches: Iterable[str] | None = None, indent: int | None = 1
) -> str:
    """JSON of the given switches' states (all when `switches` is None), keyed by name."""
    names = list(states) if switches is None else list(switches)
    missing = [n for n in names if n not in states]
    if missing:
        raise KeyError(f"no state for: {', '.join(missing)}")
    with gc_paused():
        return json.dumps({n: state_to_dict(states[n]) for n in names}, indent=indent)


def state_text(state: SwitchState) -> str:
    """Human-readable entries of one switch: ports, groups, routes."""
    lines = [f"{state.name}  mac {state.switch_mac}  seed {state.lb.hash_seed:#010x}"]
    lines.append(f"  flowlet gap {state.lb.flowlet_gap_us} us, load window {state.lb.load_window_us} us")
    live = state.live_ports
    for p in sorted(state.ports, key=_port_key):
        status = "" if live is None or p.port in live else "  DOWN"
        ecn = "" if p.ecn is None else f"  ecn {p.ecn.kmin}/{p.ecn.kmax}/{p.ecn.pmax}"
        lines.append(
            f"  port {p.port:>3} plane {p.plane} {p.speed_gbps}G -> {p.peer} ({p.neighbor_mac}){ecn}{status}"
        )
    for g in sorted(state.groups, key=_group_key):
        lines.append(f"  group {g.group_id:>4} {_MODE_NAMES[g.mode]:<8} ports {_ranges(sorted(g.ports))}")
    for r in sorted(state.routes, key=_route_key):
        lines.append(f"  route plane {r.plane} {r.prefix!s:<18} -> group {r.group_id}")
    return "\n".join(lines)


def _ranges(ports: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3,7'."""
    runs: list[list[int]] = []
    for p in ports:
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs) or "-"

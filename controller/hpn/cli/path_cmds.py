"""hpnctl trace | paths: where a flow goes, and source ports that spread flows (hpn.paths)."""

from __future__ import annotations

import json
from ipaddress import AddressValueError, IPv4Address
from pathlib import Path as FilePath
from typing import Annotated, Any

import typer

from hpn.cli.common import Exit, console, fail, load, note
from hpn.cli.failure_state import failure_view
from hpn.paths.flow import Flow
from hpn.paths.flows_file import FlowsError, load_flows
from hpn.paths.load import Direction, LinkLoad
from hpn.paths.planner import DEFAULT_BUDGET, Plan, plan_source_ports, random_source_ports
from hpn.paths.predict import Path, PathPredictor
from hpn.pipeline import Target

Topology = Annotated[FilePath, typer.Argument(help="topology YAML (topologies/*.yaml)", show_default=False)]
TargetOption = Annotated[
    Target, typer.Option("--target", help="the switch program whose hashes decide: bmv2 or tofino")
]
FailedLinks = Annotated[
    list[str], typer.Option("--failed-link", help="treat a link as down: SWITCH:PORT or HOST/nicR/pP")
]
FailedSwitches = Annotated[list[str], typer.Option("--failed-switch", help="treat a switch as down")]
Unannounced = Annotated[
    bool,
    typer.Option(
        "--unannounced",
        help="the controller has not yet reacted to the failures: only the switches' own liveness acts",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]


def _predictor(
    topology: FilePath,
    target: Target,
    failed_link: list[str],
    failed_switch: list[str],
    unannounced: bool,
    flowlet_id: int | None = None,
) -> PathPredictor:
    fabric = load(topology)
    view = failure_view(fabric, failed_link, failed_switch)
    return PathPredictor.for_view(
        fabric, view, target=target, controller_knows=not unannounced, flowlet_id=flowlet_id
    )


def _address(option: str, value: str) -> IPv4Address:
    try:
        return IPv4Address(value)
    except AddressValueError:
        fail(Exit.BAD_INPUT, f"{option}: {value!r} is not an IPv4 address")


def trace(
    topology: Topology,
    src: Annotated[str, typer.Option("--src", help="source IPv4 address (a NIC of the topology)")],
    dst: Annotated[str, typer.Option("--dst", help="destination IPv4 address")],
    sport: Annotated[int, typer.Option("--sport", min=0, max=65535, help="UDP/TCP source port")],
    dport: Annotated[int, typer.Option("--dport", min=0, max=65535, help="destination port")] = 4791,
    qp: Annotated[
        int, typer.Option("--qp", min=0, max=0xFFFFFF, help="RoCEv2 destination QP (UDP to 4791)")
    ] = 0,
    protocol: Annotated[int, typer.Option("--protocol", min=0, max=255, help="IP protocol")] = 17,
    nic_port: Annotated[
        int, typer.Option("--nic-port", min=0, max=1, help="the source NIC's port it is sent on: its plane")
    ] = 0,
    target: TargetOption = Target.BMV2,
    flowlet_id: Annotated[
        int | None,
        typer.Option(
            "--flowlet-id",
            min=0,
            max=0xFFFFFFFF,
            help="FLOWLET/ADAPTIVE groups: the flow's flowlet id (bmv2: 1, a slot's first flowlet, "
            "by default; Tofino: the flowlet's start time, needed)",
        ),
    ] = None,
    failed_link: FailedLinks = [],  # noqa: B006 - typer needs a literal default
    failed_switch: FailedSwitches = [],  # noqa: B006
    unannounced: Unannounced = False,
    as_json: AsJson = False,
) -> None:
    """The path of one flow: every switch with its ingress and egress port.

    Exit 1 when the flow does not reach a NIC (dropped, or its path cannot be known).
    """
    predictor = _predictor(topology, target, failed_link, failed_switch, unannounced, flowlet_id)
    flow = Flow(_address("--src", src), _address("--dst", dst), sport, dport, protocol, qp)
    try:
        source = predictor.source_port(flow, nic_port)
    except ValueError as exc:
        fail(Exit.BAD_INPUT, f"--src: {exc}")
    path = predictor.predict(flow, source)
    if as_json:
        print(json.dumps({"target": target.value, **path_dict(path)}, indent=1))
    else:
        console.print(path_text(path, target))
    if not path.ok:
        raise typer.Exit(int(Exit.FAILED))


def path_dict(path: Path) -> dict[str, Any]:
    return {
        "flow": {
            "src": str(path.flow.src),
            "dst": str(path.flow.dst),
            "protocol": path.flow.protocol,
            "sport": path.flow.sport,
            "dport": path.flow.dport,
            "qp": path.flow.qp,
        },
        "source": str(path.source),
        "hops": [
            {
                "switch": h.switch,
                "in_port": h.in_port,
                "out_port": h.out_port,
                "group": h.group_id,
                "bucket": h.bucket,
                "pick": h.pick,
            }
            for h in path.hops
        ],
        "delivered_to": None if path.delivered_to is None else str(path.delivered_to),
        "drop": None if path.drop is None else path.drop.name,
        "stopped": path.stopped,
    }


def path_text(path: Path, target: Target) -> str:
    lines = [f"{path.flow}, sent on {path.source} ({target.value})"]
    header = f"  {'switch':<18} {'in':>4} {'out':>4} {'group':>6} {'bucket':>6} {'pick':>6}"
    lines.append(header)
    for h in path.hops:
        cells = (h.out_port, h.group_id, h.bucket, h.pick)
        out, group, bucket, pick = ("-" if c is None else str(c) for c in cells)
        lines.append(f"  {h.switch:<18} {h.in_port:>4} {out:>4} {group:>6} {bucket:>6} {pick:>6}")
    lines.append(f"delivered to {path.delivered_to}" if path.ok else f"not delivered: {path.stopped}")
    return "\n".join(lines)


def paths(
    topology: Topology,
    flows: Annotated[FilePath, typer.Argument(help="flows YAML (docs/collectives.md)", show_default=False)],
    target: TargetOption = Target.BMV2,
    budget: Annotated[int, typer.Option("--budget", min=1, help="source ports tried per flow at most")] = (
        DEFAULT_BUDGET
    ),
    baseline: Annotated[
        bool, typer.Option("--baseline", help="also show the loads of random source ports (plain ECMP)")
    ] = False,
    failed_link: FailedLinks = [],  # noqa: B006 - typer needs a literal default
    failed_switch: FailedSwitches = [],  # noqa: B006
    unannounced: Unannounced = False,
    as_json: AsJson = False,
) -> None:
    """Source ports for the flows of FLOWS so that no ToR uplink or agg downlink carries
    more than its share; prints each flow's port and path, and the load of every link.

    Exit 1 when some flow cannot reach its NIC on any source port.
    """
    predictor = _predictor(topology, target, failed_link, failed_switch, unannounced)
    try:
        spec = load_flows(flows, predictor.fabric)
    except FlowsError as exc:
        fail(Exit.BAD_INPUT, f"invalid flows file\n{exc}")
    plan = plan_source_ports(predictor, spec.demands, ports=spec.ports, budget=budget)
    ecmp = random_source_ports(predictor, spec.demands, ports=spec.ports) if baseline else None
    if as_json:
        out: dict[str, Any] = {"target": target.value, **plan_dict(plan)}
        if ecmp is not None:
            out["random_source_ports"] = {"balance": _balance_dict(ecmp)}
        print(json.dumps(out, indent=1))
    else:
        console.print(plan_text(plan))
        if ecmp is not None:
            console.print(f"random source ports (ECMP): {_balance_line(ecmp)}")
    if plan.undelivered:
        note(f"{len(plan.undelivered)} flow(s) reach their NIC on no source port tried")
        raise typer.Exit(int(Exit.FAILED))


def _nic(nic: tuple[str, int]) -> str:
    return f"{nic[0]}/nic{nic[1]}"


def _link_dict(row: LinkLoad) -> dict[str, Any]:
    return {
        "link": str(row.link),
        "to": row.peer,
        "direction": row.direction.value,
        "gbps": row.gbps,
        "bytes": row.bytes,
        "share": round(row.share, 1),
    }


def _balance_dict(plan: Plan) -> dict[str, Any]:
    out = {}
    for d in Direction:
        b = plan.balance(d)
        out[d.value] = {
            "links": b.links,
            "max_bytes": b.max_bytes,
            "mean_bytes": round(b.mean_bytes, 1),
            "max_over_mean": round(b.max_over_mean, 4),
            "max_over_share": round(b.max_over_share, 4),
        }
    return out


def plan_dict(plan: Plan) -> dict[str, Any]:
    return {
        "flows": [
            {
                "src": _nic(f.demand.src),
                "dst": _nic(f.demand.dst),
                "size": f.demand.size,
                "port": f.demand.nic_port,
                "qp": f.demand.qp,
                "dport": f.demand.dport,
                "sport": f.sport,
                "hops": [[h.switch, h.in_port, h.out_port] for h in f.path.hops],
                "delivered": f.path.ok,
            }
            for f in plan.flows
        ],
        "links": [_link_dict(r) for r in plan.links],
        "balance": _balance_dict(plan),
    }


def _balance_line(plan: Plan) -> str:
    parts = []
    for d in Direction:
        b = plan.balance(d)
        name = "uplinks" if d is Direction.UP else "downlinks"
        parts.append(f"{name} max/mean {b.max_over_mean:.3f}, max/share {b.max_over_share:.3f}")
    return "; ".join(parts)


def plan_text(plan: Plan) -> str:
    lines = [f"{'src':<20} {'dst':<20} {'size':>12} {'port':>4} {'qp':>8} {'sport':>6}  path"]
    for f in plan.flows:
        route = " ".join(f"{h.switch}:{'-' if h.out_port is None else h.out_port}" for h in f.path.hops)
        lines.append(
            f"{_nic(f.demand.src):<20} {_nic(f.demand.dst):<20} {f.demand.size:>12} "
            f"{f.demand.nic_port:>4} {f.demand.qp:>8} {f.sport:>6}  {route}"
            + ("" if f.path.ok else f"  NOT DELIVERED: {f.path.stopped}")
        )
    lines.append("")
    lines.append(f"{'link':<22} {'to':<18} {'dir':<4} {'bytes':>14} {'share':>14} {'/share':>7}")
    for r in plan.links:
        lines.append(
            f"{r.link!s:<22} {r.peer:<18} {r.direction.value:<4} {r.bytes:>14} {r.share:>14.0f} "
            f"{r.over_share:>7.3f}"
        )
    lines.append(f"planned source ports: {_balance_line(plan)}")
    return "\n".join(lines)

"""Source ports that place flows: a C4-style planner over the predicted paths.

RoCEv2 leaves the UDP source port to the sender as entropy, and the switches' choice is
a function of it that the controller knows (`hpn.paths.predict`). So a sender can pick
each flow's path by its source port. `plan_source_ports` takes the flows largest first
and gives each the source port whose path adds least to its busiest fabric link (ToR
uplink or agg downlink, by bytes per Gb/s of the link); it stops trying ports as soon
as one reaches the best any path could (the least loaded uplink and downlink the
flow's groups can reach), or after `budget` ports. `random_source_ports` is the
baseline: what ECMP does with ports the senders pick at random.

The traffic generator calls `plan_source_ports` with the flows of its collectives and
sends each flow from the port the plan gives it; on bmv2 FLOWLET groups a plan holds for
each flow's first flowlet (`PathPredictor.flowlet_id`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hpn.paths.flow import PROTO_UDP, ROCEV2_PORT, Flow
from hpn.paths.hashing import SourcePortHashes
from hpn.paths.load import Balance, Direction, LinkGroups, LinkLoad
from hpn.paths.predict import Path, PathPredictor
from hpn.topology.model import NicId, NicPort, SwitchPort

ROCEV2_SOURCE_PORTS = range(49152, 65536)
"""RoCEv2's recommended source-port range (the dynamic ports)."""
DEFAULT_BUDGET = 1024
"""Source ports tried per flow at most."""
_STRIDE = 40503
"""Step between the first ports tried for consecutive flows (odd: covers the range)."""


@dataclass(frozen=True)
class FlowDemand:
    """A flow to place: from NIC `src` to NIC `dst`, `size` bytes, sent on port
    `nic_port` (0 or 1: its plane) of the source NIC, to UDP `dport` and QP `qp`."""

    src: NicId
    dst: NicId
    size: int
    nic_port: int = 0
    dport: int = ROCEV2_PORT
    qp: int = 0


@dataclass(frozen=True)
class PlannedFlow:
    demand: FlowDemand
    sport: int
    path: Path


@dataclass(frozen=True)
class Plan:
    """Each flow's source port and path, and the bytes on every fabric link they use."""

    flows: tuple[PlannedFlow, ...]
    links: tuple[LinkLoad, ...]

    def balance(self, direction: Direction | None = None) -> Balance:
        return Balance.of(r for r in self.links if direction in (None, r.direction))

    @property
    def undelivered(self) -> tuple[PlannedFlow, ...]:
        return tuple(f for f in self.flows if not f.path.ok)


_Hop = tuple[tuple[str, int], float | None, SwitchPort | None]


class _Placer:
    """The loads so far and the flows' reachable links, to cost a path and bound it."""

    def __init__(self, predictor: PathPredictor) -> None:
        self.predictor = predictor
        self.groups = LinkGroups.of(predictor.fabric, predictor.down_ports, predictor.down_switches)
        # bytes per Gb/s so far, and each balanced link's weight (1 / Gb/s)
        self.weight = {(p.switch, p.port): 1.0 / g for p, g in self.groups.gbps.items()}
        self.load = dict.fromkeys(self.weight, 0.0)
        self._reach: dict[tuple[str, int, int], tuple[_Hop, ...]] = {}

    def cost(self, links: list[tuple[str, int]], size: int) -> float:
        """The busiest balanced link of a path once the flow is on it."""
        worst = 0.0
        for link in links:
            w = self.weight.get(link)
            if w is not None:
                worst = max(worst, self.load[link] + size * w)
        return worst

    def add(self, links: list[tuple[str, int]], size: int) -> None:
        for link in links:
            w = self.weight.get(link)
            if w is not None:
                self.load[link] += size * w

    def _hops(self, switch: str, in_port: int, dst: int) -> tuple[_Hop, ...]:
        """Where the switch may send the destination's flows from `in_port` (any bucket's
        member): (its link, the link's weight or None, the far end if a switch)."""
        model = self.predictor.model(switch)
        plane = model.port_plane.get(in_port, -1)
        gid = model.route(plane, dst)
        key = (switch, plane, -1 if gid is None else gid)
        found = self._reach.get(key)
        if found is None:
            table = None if gid is None else model.group_table(gid)
            ports = sorted({p for bucket in table.buckets for p in bucket if p >= 0}) if table else []
            peers = self.predictor.fabric.peers(switch)
            hops = []
            for port in ports:
                peer = peers.get(port)
                hops.append(
                    (
                        (switch, port),
                        self.weight.get((switch, port)),
                        peer if isinstance(peer, SwitchPort) else None,
                    )
                )
            found = self._reach[key] = tuple(hops)
        return found

    def bound(self, at: SwitchPort, dst: int, size: int, depth: int = 0) -> float:
        """The least cost any path from `at` toward `dst` could have (a path's cost is
        its busiest balanced link)."""
        if depth > 4 or at.switch in self.predictor.down_switches or at.switch not in self.predictor.states:
            return 0.0
        best: float | None = None
        for link, w, peer in self._hops(at.switch, at.port, dst):
            cost = 0.0 if w is None else self.load[link] + size * w
            if peer is not None and (best is None or cost < best):
                cost = max(cost, self.bound(peer, dst, size, depth + 1))
            best = cost if best is None else min(best, cost)
        return best or 0.0


def _flow(predictor: PathPredictor, demand: FlowDemand) -> tuple[Flow, NicPort]:
    fabric = predictor.fabric
    src, dst = fabric.nic(*demand.src), fabric.nic(*demand.dst)
    if src is None or dst is None:
        missing = demand.src if src is None else demand.dst
        raise ValueError(f"no NIC {missing[0]}/nic{missing[1]} in fabric {fabric.name}")
    flow = Flow(src.ip, dst.ip, 0, demand.dport, PROTO_UDP, demand.qp)
    return flow, NicPort(demand.src[0], demand.src[1], demand.nic_port)


def plan_source_ports(
    predictor: PathPredictor,
    demands: Sequence[FlowDemand],
    *,
    ports: range = ROCEV2_SOURCE_PORTS,
    budget: int = DEFAULT_BUDGET,
) -> Plan:
    """Each flow's source port from `ports`, so that the busiest fabric link is as light
    as the greedy placement (largest flows first) gets it; see the module's doc."""
    placer = _Placer(predictor)
    chosen: dict[int, PlannedFlow] = {}
    order = sorted(range(len(demands)), key=lambda i: -demands[i].size)
    for i in order:
        demand = demands[i]
        flow, source = _flow(predictor, demand)
        hashes = SourcePortHashes(flow)
        entry = predictor.fabric.nic_switch_port(source)
        dst = int(flow.dst)
        floor = 0.0 if entry is None else placer.bound(entry, dst, demand.size)
        best: tuple[float, int, list[tuple[str, int]]] | None = None
        start = (i * _STRIDE) % len(ports)
        for k in range(min(budget, len(ports)) if entry is not None else 1):
            sport = ports[(start + k) % len(ports)]
            links = None if entry is None else predictor.egress_links(dst, entry, hashes.at(sport))
            cost = float("inf") if links is None else placer.cost(links, demand.size)
            if best is None or cost < best[0]:
                best = (cost, sport, links or [])
            if cost <= floor * (1 + 1e-12):
                break
        assert best is not None
        placer.add(best[2], demand.size)
        path = predictor.predict(flow.with_sport(best[1]), source)
        chosen[i] = PlannedFlow(demand, best[1], path)
    return _plan(placer.groups, [chosen[i] for i in range(len(demands))])


def random_source_ports(
    predictor: PathPredictor,
    demands: Sequence[FlowDemand],
    *,
    ports: range = ROCEV2_SOURCE_PORTS,
    seed: int = 0,
) -> Plan:
    """What ECMP does when each sender picks a random source port (the baseline)."""
    rng = random.Random(seed)
    planned = []
    for demand in demands:
        flow, source = _flow(predictor, demand)
        sport = rng.choice(ports)
        planned.append(PlannedFlow(demand, sport, predictor.predict(flow.with_sport(sport), source)))
    groups = LinkGroups.of(predictor.fabric, predictor.down_ports, predictor.down_switches)
    return _plan(groups, planned)


def _plan(groups: LinkGroups, planned: Iterable[PlannedFlow]) -> Plan:
    flows = tuple(planned)
    carried = ((link, f.demand.size) for f in flows for link in f.path.links())
    return Plan(flows, tuple(groups.loads(carried)))

"""The exact path of a flow through the fabric: every switch, its ingress and egress port.

A pure function of what the controller writes (each switch's `SwitchState`, turned into
entries by `hpn.pipeline`), the target's hash (`hpn.paths.switch_model`), and which
ports and switches are down. Two views of a failure:

- the controller knows it: the states are computed under the failure view (groups
  shrunk, routes moved) and the dead ports are down;
- it does not know yet: the states are the intact ones, and only the switches' own
  liveness acts (members watching a dead port leave selection; their flows go to the
  other member of each bucket).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import NamedTuple

from hpn.paths.flow import Flow
from hpn.paths.hashing import FlowHashes, KeyHashes
from hpn.paths.switch_model import SwitchModel
from hpn.pipeline import Target
from hpn.pipeline.drop_reasons import DropReason
from hpn.routing.compute import compute_fabric_state
from hpn.routing.failures import FailureView
from hpn.routing.state import LbMode, SwitchState
from hpn.topology.model import Fabric, NicId, NicPort, SwitchPort

MAX_HOPS = 16
"""A path longer than this is a loop (a 2-tier Clos path has at most 3 switches)."""


class Hop(NamedTuple):
    """One switch on the path: where the flow came in and went out (None: it did not)."""

    switch: str
    in_port: int
    out_port: int | None
    group_id: int | None = None
    bucket: int | None = None
    pick: int | None = None


@dataclass(frozen=True)
class Path:
    """A flow's path from the NIC port it is sent on. It ends `delivered_to` a NIC port,
    or short: `drop` says why the data plane drops it, `stopped` says so in words (also
    when the path cannot be known, e.g. SPRAY)."""

    flow: Flow
    source: NicPort
    hops: tuple[Hop, ...]
    delivered_to: NicPort | None = None
    drop: DropReason | None = None
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        return self.delivered_to is not None

    def links(self) -> list[SwitchPort]:
        """The switch egress ports the flow leaves through, in order."""
        return [SwitchPort(h.switch, h.out_port) for h in self.hops if h.out_port is not None]


@dataclass
class PathPredictor:
    """Predicts paths through `fabric` whose switches hold `states`, on `target`.

    `down_ports` are switch ports that are down (their members out of selection) and
    `down_switches` switches that are down. `flowlet_id` is the flowlet id of FLOWLET and
    ADAPTIVE groups (`SwitchModel.decide`)."""

    fabric: Fabric
    states: Mapping[str, SwitchState]
    target: Target = Target.BMV2
    down_ports: frozenset[SwitchPort] = frozenset()
    down_switches: frozenset[str] = frozenset()
    flowlet_id: int | None = None
    _models: dict[str, SwitchModel] = field(default_factory=dict, init=False, repr=False)
    _nics: dict[int, NicId] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def for_view(
        cls,
        fabric: Fabric,
        view: FailureView | None = None,
        *,
        target: Target = Target.BMV2,
        controller_knows: bool = True,
        lb_mode: LbMode | None = None,
        flowlet_id: int | None = None,
    ) -> PathPredictor:
        """The predictor of `fabric` under `view`: with the states the controller writes
        for it (`controller_knows`) or the intact ones; every group in `lb_mode` if given."""
        view = view or FailureView()
        states = compute_fabric_state(fabric, view if controller_knows else None)
        if lb_mode is not None:
            states = {
                name: dataclasses.replace(
                    s, groups=tuple(dataclasses.replace(g, mode=lb_mode) for g in s.groups)
                )
                for name, s in states.items()
            }
        return cls(fabric, states, target, view.dead_ports(fabric), view.switches, flowlet_id)

    def model(self, switch: str) -> SwitchModel:
        found = self._models.get(switch)
        if found is None:
            down = {p.port for p in self.down_ports if p.switch == switch}
            found = self._models[switch] = SwitchModel(self.states[switch], self.target, down)
        return found

    def nic_of(self, address: IPv4Address) -> NicId | None:
        """The NIC that has `address`."""
        if not self._nics:
            self._nics.update({int(nic.ip): (host.name, nic.rail) for host, nic in self.fabric.nics()})
        return self._nics.get(int(address))

    def source_port(self, flow: Flow, nic_port: int) -> NicPort:
        """The NIC port (0 or 1: its plane) of the flow's source address."""
        nic = self.nic_of(flow.src)
        if nic is None:
            raise ValueError(f"no NIC in fabric {self.fabric.name} has address {flow.src}")
        return NicPort(nic[0], nic[1], nic_port)

    def predict(self, flow: Flow, source: NicPort, hashes: FlowHashes | None = None) -> Path:
        """The path of `flow` sent on NIC port `source` (`hashes`: the flow's, if known)."""
        hashes = hashes or KeyHashes(flow)
        hops: list[Hop] = []

        def end(stopped: str, drop: DropReason | None = None) -> Path:
            return Path(flow, source, tuple(hops), drop=drop, stopped=stopped)

        entry = self.fabric.nic_switch_port(source)
        if entry is None:
            return end(f"{source} is not cabled")
        if entry in self.down_ports:
            return end(f"the link of {source} is down")
        dst = int(flow.dst)
        at = entry
        for _ in range(MAX_HOPS):
            if at.switch in self.down_switches or at.switch not in self.states:
                return end(f"{at.switch} is down")
            decision = self.model(at.switch).decide(at.port, dst, hashes, self.flowlet_id)
            hops.append(
                Hop(at.switch, at.port, decision.out_port, decision.group_id, decision.bucket, decision.pick)
            )
            if decision.out_port is None:
                if decision.drop is not None:
                    return end(f"{at.switch} drops it: {decision.drop.name}", decision.drop)
                return end(f"{at.switch}: {decision.unknown}")
            peer = self.fabric.peers(at.switch).get(decision.out_port)
            if isinstance(peer, NicPort):
                return Path(flow, source, tuple(hops), delivered_to=peer)
            if peer is None:
                return end(f"{at.switch}:{decision.out_port} has no cable")
            at = peer
        return end(f"a loop: more than {MAX_HOPS} switches")

    def egress_links(self, dst: int, entry: SwitchPort, hashes: FlowHashes) -> list[tuple[str, int]] | None:
        """`predict` reduced to what a search needs: the (switch, egress port) of every hop
        of a flow to `dst` entering the fabric at `entry`, or None when it is not delivered."""
        switch, port = entry.switch, entry.port
        links: list[tuple[str, int]] = []
        for _ in range(MAX_HOPS):
            if switch in self.down_switches or switch not in self.states:
                return None
            out = self.model(switch).decide(port, dst, hashes, self.flowlet_id).out_port
            if out is None:
                return None
            links.append((switch, out))
            peer = self.fabric.peers(switch).get(out)
            if isinstance(peer, NicPort):
                return links
            if peer is None:
                return None
            switch, port = peer.switch, peer.port
        return None


def _in_mode(state: SwitchState, mode: LbMode) -> SwitchState:
    return dataclasses.replace(state, groups=tuple(dataclasses.replace(g, mode=mode) for g in state.groups))


def predict_path(
    fabric: Fabric,
    flow: Flow,
    nic_port: int = 0,
    *,
    view: FailureView | None = None,
    target: Target = Target.BMV2,
    controller_knows: bool = True,
    flowlet_id: int | None = None,
) -> Path:
    """The path of `flow` sent on port `nic_port` of its source NIC (see `PathPredictor`)."""
    predictor = PathPredictor.for_view(
        fabric, view, target=target, controller_knows=controller_knows, flowlet_id=flowlet_id
    )
    return predictor.predict(flow, predictor.source_port(flow, nic_port))


def switch_egress(
    state: SwitchState,
    flows: Iterable[Flow],
    in_port: int,
    *,
    target: Target = Target.BMV2,
    down_ports: Iterable[int] = (),
    flowlet_id: int | None = None,
) -> list[int | None]:
    """The egress port one switch holding `state` picks for each flow arriving on
    `in_port` (None: dropped or unknown): one switch alone, as a PTF test programs it."""
    model = SwitchModel(state, target, frozenset(down_ports))
    return [model.decide(in_port, int(f.dst), KeyHashes(f), flowlet_id).out_port for f in flows]

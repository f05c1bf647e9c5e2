"""Failover: after every step of a failure sequence, the incrementally patched per-switch
states are exactly what a full `compute_fabric_state` gives for the same view, the
switches reported as changed are exactly those whose state differs from the step before,
and the entity writes built for the changed parts alone are the difference of the whole
entity lists, in an order a switch takes (nothing points at what is not there yet)."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Hashable, Sequence
from ipaddress import IPv4Network
from pathlib import Path

import finsy as fy
import pytest

from hpn.operations.failover import (
    EntityBuilder,
    EntityWrites,
    Failover,
    StateDelta,
    diff_entities,
    entity_key,
)
from hpn.operations.switch_writes import only_each
from hpn.pipeline import Entity, Target, names, switch_entities
from hpn.pipeline import load_balancing as lb
from hpn.pipeline.group_encoding import GroupEncoder, differing_middle
from hpn.routing.compute import compute_fabric_state
from hpn.routing.failures import FailureView
from hpn.routing.incremental import IncrementalRouting
from hpn.routing.state import Group, LbMode, LbParams, Route, SwitchState
from hpn.topology import Fabric, load_fabric
from hpn.topology.model import Link, NicPort, SwitchPort

TOPOLOGIES = Path(__file__).resolve().parent.parent / "topologies"


@pytest.fixture(scope="module", params=["hpn-mini.yaml", "hpn-mini-merged.yaml"])
def fabric(request: pytest.FixtureRequest) -> Fabric:
    return load_fabric(TOPOLOGIES / request.param)


def _differing(before: dict[str, SwitchState], after: dict[str, SwitchState]) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def _single_failures(fabric: Fabric) -> list[FailureView]:
    views = [FailureView(links=frozenset({link})) for link in fabric.links]
    return views + [FailureView(switches=frozenset({sw.name})) for sw in fabric.switches]


def test_the_start_is_the_full_computation(fabric: Fabric) -> None:
    assert IncrementalRouting(fabric).states == compute_fabric_state(fabric)


def test_every_single_failure_and_its_repair_match_the_full_computation(fabric: Fabric) -> None:
    intact = compute_fabric_state(fabric)
    routing = IncrementalRouting(fabric)
    for view in _single_failures(fabric):
        full = compute_fabric_state(fabric, view)
        update = routing.update(view)
        assert routing.states == full, view.describe()
        assert set(update.changed) == _differing(intact, full), view.describe()
        assert all(update.changed[n] == full.get(n) for n in update.changed)
        back = routing.update(FailureView())
        assert routing.states == intact, f"repair of {view.describe()}"
        assert set(back.changed) == set(update.changed)


def test_random_failure_sequences_match_the_full_computation(fabric: Fabric) -> None:
    rng = random.Random(16)
    routing = IncrementalRouting(fabric)
    previous = compute_fabric_state(fabric)
    links: set[Link] = set()
    switches: set[str] = set()
    for step in range(60):
        if rng.random() < 0.75:
            link = rng.choice(fabric.links)
            links ^= {link}
        else:
            switches ^= {rng.choice(fabric.switches).name}
        view = FailureView(frozenset(links), frozenset(switches))
        full = compute_fabric_state(fabric, view)
        update = routing.update(view)
        assert routing.states == full, f"step {step}: {view.describe()}"
        assert set(update.changed) == _differing(previous, full), f"step {step}"
        previous = full


def test_a_start_under_failures_is_the_full_computation(fabric: Fabric) -> None:
    view = FailureView(frozenset(fabric.links[:3]), frozenset({fabric.aggs()[0].name}))
    assert IncrementalRouting(fabric, view).states == compute_fabric_state(fabric, view)


# -- entity writes --------------------------------------------------------------------------


def _as_dict(entities: Sequence[Entity]) -> dict[Hashable, Entity]:
    return {entity_key(e): e for e in entities}


def _references(entity: Entity) -> list[Hashable]:
    """The keys of what `entity` points at: a bucket group's members, a next_hop's group."""
    if isinstance(entity, fy.P4ActionProfileGroup):
        return [("member", entity.action_profile_id, m.member_id) for m in entity.members or ()]
    if isinstance(entity, fy.P4TableEntry) and isinstance(entity.action, fy.P4IndirectAction):
        return [
            ("group", entity.table_id.replace(names.NEXT_HOP.name, names.NH_SELECTOR), entity.action.group_id)
        ]
    return []


def _applied(held: dict[Hashable, Entity], writes: EntityWrites) -> dict[Hashable, Entity]:
    """What a switch holding `held` holds after `writes` (inserts, modifies, deletes, each
    in its order, as hpn.runtime writes them); fails on a write the switch would refuse:
    one that points at what it does not hold, or deletes what something still points at."""
    table = dict(held)
    users: Counter[Hashable] = Counter(r for e in held.values() for r in _references(e))

    def put(entity: Entity, why: str) -> None:
        missing = [r for r in _references(entity) if r not in table]
        assert not missing, f"{writes.switch}: {why} {entity_key(entity)} before {missing}"
        users.update(_references(entity))
        table[entity_key(entity)] = entity

    def take(key: Hashable) -> None:
        users.subtract(_references(table.pop(key)))

    for e in writes.inserts:
        assert entity_key(e) not in table, f"{writes.switch}: insert of a held {entity_key(e)}"
        put(e, "insert of")
    for e in writes.modifies:
        assert entity_key(e) in table, f"{writes.switch}: modify of a missing {entity_key(e)}"
        take(entity_key(e))
        put(e, "modify of")
    for e in writes.deletes:
        assert entity_key(e) in table, f"{writes.switch}: delete of a missing {entity_key(e)}"
        take(entity_key(e))
        assert users[entity_key(e)] <= 0, f"{writes.switch}: delete of {entity_key(e)}, still used"
    return table


def _check(delta: StateDelta, writes: EntityWrites, target: Target) -> None:
    """`writes` are the difference of the whole lists, and applied in order give `after`."""
    what = f"{delta.switch}: {delta.before is not None} -> {delta.after is not None}"
    if delta.went_down:
        assert writes.updates == 0, what  # a switch that is down holds nothing
        return
    before = [] if delta.before is None else switch_entities(delta.before, target)
    after = switch_entities(delta.after, target) if delta.after is not None else []
    expected = diff_entities(before, after, delta.switch)
    assert _as_dict(writes.inserts) == _as_dict(expected.inserts), what
    assert _as_dict(writes.modifies) == _as_dict(expected.modifies), what
    assert _as_dict(writes.deletes) == _as_dict(expected.deletes), what
    assert writes.updates == expected.updates > 0, what
    assert _applied(_as_dict(before), writes) == _as_dict(after), what


def _kinds(fabric: Fabric) -> dict[str, FailureView]:
    tor = fabric.tors()[0]
    peers = fabric.peers(tor.name)
    uplink = next(p for p, peer in peers.items() if isinstance(peer, SwitchPort))
    host_port = next(p for p, peer in peers.items() if isinstance(peer, NicPort))
    return {
        "ToR-agg cable": FailureView.parse(fabric, [f"{tor.name}:{uplink}"]),
        "host cable": FailureView.parse(fabric, [f"{tor.name}:{host_port}"]),
        "agg switch": FailureView.parse(fabric, switches=[fabric.aggs()[0].name]),
        "ToR switch": FailureView.parse(fabric, switches=[tor.name]),
    }


@pytest.mark.parametrize("target", [Target.BMV2, Target.TOFINO])
@pytest.mark.parametrize("kind", ["ToR-agg cable", "host cable", "agg switch", "ToR switch"])
def test_each_failure_kind_and_its_repair_write_the_difference_of_whole_entity_lists(
    fabric: Fabric, kind: str, target: Target
) -> None:
    failover = Failover(fabric)
    builder = EntityBuilder(target)
    for step in (_kinds(fabric)[kind], FailureView()):
        plan = failover.apply(step)
        assert plan.deltas, f"{kind}: {step.describe()}"
        for delta in plan.deltas.values():
            _check(delta, builder.writes(delta), target)


@pytest.mark.parametrize("target", [Target.BMV2, Target.TOFINO])
def test_the_writes_of_single_failures_in_turn_are_the_difference_of_whole_entity_lists(
    fabric: Fabric, target: Target
) -> None:
    """One builder for a whole sequence, as the loop keeps it: what it remembers from one
    change must not leak into the next."""
    rng = random.Random(161)
    failover = Failover(fabric)
    builder = EntityBuilder(target)
    views = _single_failures(fabric)
    rng.shuffle(views)
    for view in views[:12]:
        for step in (view, FailureView()):
            plan = failover.apply(step)
            assert plan.deltas, step.describe()
            for delta in plan.deltas.values():
                _check(delta, builder.writes(delta), target)


def test_stream_builds_each_switch_in_the_plans_order(fabric: Fabric) -> None:
    plan = Failover(fabric).apply(_kinds(fabric)["ToR-agg cable"])
    streamed = list(EntityBuilder().stream(plan.deltas.values()))
    assert [w.switch for w in streamed] == plan.touched
    assert streamed == [EntityBuilder().writes(d) for d in plan.deltas.values()]


def test_a_switch_that_comes_back_gets_its_whole_entity_list(fabric: Fabric) -> None:
    name = fabric.aggs()[0].name
    failover = Failover(fabric, FailureView(switches=frozenset({name})))
    plan = failover.apply(FailureView())
    delta = plan.deltas[name]
    assert delta.came_up
    writes = EntityBuilder().writes(delta)
    assert delta.after is not None
    assert list(writes.inserts) == switch_entities(delta.after)


# -- changes no single failure of the mini fabrics makes ------------------------------------


def _uplink_state(fabric: Fabric) -> tuple[SwitchState, Group]:
    """A ToR of the merged fabric (four uplinks: 16 buckets) and its uplink group."""
    state = compute_fabric_state(fabric)[fabric.tors()[0].name]
    return state, max(state.groups, key=lambda g: len(g.ports))


def _with_group(state: SwitchState, old: Group, new: Group) -> SwitchState:
    groups = tuple(sorted(new if g is old else g for g in state.groups))
    routes = tuple(
        dataclasses.replace(r, group_id=new.group_id) if r.group_id == old.group_id else r
        for r in state.routes
    )
    return dataclasses.replace(state, groups=groups, routes=routes)


def _synthetic(fabric: Fabric) -> dict[str, tuple[SwitchState, SwitchState]]:
    state, uplinks = _uplink_state(fabric)
    two = sorted(uplinks.ports)[:2]
    narrow = Group(uplinks.group_id, uplinks.mode, frozenset(two))  # 1 bucket: another width
    adaptive = dataclasses.replace(uplinks, mode=LbMode.ADAPTIVE)  # every lb_group tracks load
    fresh_id = max(g.group_id for g in state.groups) + 1
    moved = Group(fresh_id, uplinks.mode, frozenset(two))  # a new group; the old one goes
    reseeded = dataclasses.replace(state, lb=LbParams(hash_seed=7))  # switch-wide: every lb_group
    return {
        "bucket width shrinks": (state, _with_group(state, uplinks, narrow)),
        "bucket width grows": (_with_group(state, uplinks, narrow), state),
        "load tracking starts": (state, _with_group(state, uplinks, adaptive)),
        "load tracking stops": (_with_group(state, uplinks, adaptive), state),
        "routes move to a new group": (state, _with_group(state, uplinks, moved)),
        "routes move to a new group on new ports": (_with_group(state, uplinks, moved), state),
        "switch-wide parameters": (state, _with_group(reseeded, uplinks, narrow)),
    }


@pytest.mark.parametrize("target", [Target.BMV2, Target.TOFINO])
@pytest.mark.parametrize(
    "change",
    [
        "bucket width shrinks",
        "bucket width grows",
        "load tracking starts",
        "load tracking stops",
        "routes move to a new group",
        "routes move to a new group on new ports",
        "switch-wide parameters",
    ],
)
def test_changes_beyond_single_failures_write_the_difference_too(change: str, target: Target) -> None:
    fabric = load_fabric(TOPOLOGIES / "hpn-mini-merged.yaml")
    before, after = _synthetic(fabric)[change]
    assert before != after
    delta = StateDelta(before.name, before, after)
    _check(delta, EntityBuilder(target).writes(delta), target)


# -- the shared encodings -------------------------------------------------------------------


@pytest.mark.parametrize("target", [Target.BMV2, Target.TOFINO])
def test_the_encoder_builds_what_load_balancing_builds_for_every_group(
    fabric: Fabric, target: Target
) -> None:
    encoder = GroupEncoder(target)
    params = LbParams(hash_seed=0x1234_5678_9)
    groups = {
        g
        for view in [FailureView(), *_single_failures(fabric)]
        for s in compute_fabric_state(fabric, view).values()
        for g in s.groups
    }
    for g in sorted(groups, key=lambda g: (g.group_id, sorted(g.ports), sorted(g.intact or ()))):
        for track in (False, True):
            selectors, entries = encoder.group_entities(g, params, track_load=track)
            assert list(selectors) == lb.selector_groups(g, target), g
            assert entries == lb.group_entries(g, target, params, track_load=track), g
        assert encoder.layout(g) == lb.group_layout(g), g
    ports = sorted({p for g in groups for p in g.ports})
    assert [encoder.member(p) for p in ports] == lb.member_entries(ports, target)[target.has_sentinel :]


def test_a_group_change_keeps_its_id() -> None:
    old = Group(3, LbMode.ECMP, frozenset({1, 2}))
    with pytest.raises(ValueError, match="keeps its id: 3 -> 4"):
        GroupEncoder().change(old, dataclasses.replace(old, group_id=4))


def test_the_differing_middle_leaves_out_the_shared_head_and_tail() -> None:
    a, b, c, d, e = (object() for _ in range(5))
    assert differing_middle((a, b, c, d), (a, e, c, d)) == ((b,), (e,))
    assert differing_middle((a, b, c), (a, c)) == ((b,), ())
    assert differing_middle((a, b), (a, b, c)) == ((), (c,))
    assert differing_middle((a, b), (a, b)) == ((), ())
    assert differing_middle((a,), (a, a)) == ((), (a,))  # head and tail never overlap
    assert differing_middle((), (a,)) == ((), (a,))


def test_only_each_compares_by_value_what_is_not_the_same_object() -> None:
    one, two, three = (IPv4Network(f"10.0.{n}.0/24") for n in (1, 2, 3))
    shared = Route(0, one, 1)
    old = (shared, Route(0, two, 2), Route(0, three, 3))
    new = (shared, Route(0, two, 2), Route(0, three, 4))  # equal, not the same object
    assert only_each(old, new) == ([Route(0, three, 3)], [Route(0, three, 4)])
    assert only_each(old, old) == ([], [])

"""Failover: after every step of a failure sequence, the incrementally patched per-switch
states are exactly what a full `compute_fabric_state` gives for the same view, the
switches reported as changed are exactly those whose state differs from the step before,
and the entity writes built for the changed parts alone are the difference of the whole
entity lists."""

from __future__ import annotations

import random
from collections.abc import Hashable
from pathlib import Path

import pytest

from hpn.operations.failover import EntityBuilder, Failover, diff_entities, entity_key
from hpn.pipeline import Entity, Target, switch_entities
from hpn.routing.compute import compute_fabric_state
from hpn.routing.failures import FailureView
from hpn.routing.incremental import IncrementalRouting
from hpn.routing.state import SwitchState
from hpn.topology import Fabric, load_fabric
from hpn.topology.model import SwitchPort

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
    links: set = set()
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


def _as_dict(entities: tuple[Entity, ...]) -> dict[Hashable, Entity]:
    return {entity_key(e): e for e in entities}


@pytest.mark.parametrize("target", [Target.BMV2, Target.TOFINO])
def test_the_writes_of_each_change_are_the_difference_of_whole_entity_lists(
    fabric: Fabric, target: Target
) -> None:
    rng = random.Random(161)
    failover = Failover(fabric)
    builder = EntityBuilder(target)
    views = _single_failures(fabric)
    rng.shuffle(views)
    for view in views[:12]:
        for step in (view, FailureView()):
            plan = failover.apply(step)
            assert plan.deltas, step.describe()
            for name, delta in plan.deltas.items():
                writes = builder.writes(delta)
                before = [] if delta.before is None else switch_entities(delta.before, target)
                after = [] if delta.after is None else switch_entities(delta.after, target)
                expected = diff_entities(before, after, name)
                if delta.went_down:
                    assert writes.updates == 0  # a switch that is down holds nothing
                    continue
                what = f"{name} under {step.describe()}"
                assert _as_dict(writes.inserts) == _as_dict(expected.inserts), what
                assert _as_dict(writes.modifies) == _as_dict(expected.modifies), what
                assert _as_dict(writes.deletes) == _as_dict(expected.deletes), what
                assert writes.updates > 0, what


def test_a_switch_that_comes_back_gets_its_whole_entity_list(fabric: Fabric) -> None:
    name = fabric.aggs()[0].name
    failover = Failover(fabric, FailureView(switches=frozenset({name})))
    plan = failover.apply(FailureView())
    delta = plan.deltas[name]
    assert delta.came_up
    writes = EntityBuilder().writes(delta)
    assert delta.after is not None
    assert list(writes.inserts) == switch_entities(delta.after)


def test_a_link_failure_touches_only_the_switches_whose_state_changes(fabric: Fabric) -> None:
    link = next(lk for lk in fabric.links if all(isinstance(e, SwitchPort) for e in lk.ends()))
    view = FailureView(links=frozenset({link}))
    plan = Failover(fabric).apply(view)
    assert set(plan.touched) == _differing(compute_fabric_state(fabric), compute_fabric_state(fabric, view))
    assert len(plan.touched) < len(fabric.switches)

"""The order a failure view reaches cables, switches and hosts (hpn.emulation.failure_steps)."""

from __future__ import annotations

from hpn.emulation.failure_steps import Step, failure_steps


def _kinds(steps: list[Step]) -> list[str]:
    return [
        step.target
        if step.target == "switches"
        else "cables+hosts"
        if step.cables and step.hosts
        else "cables"
        if step.cables
        else "hosts"
        for step in steps
    ]


def test_going_down_moves_cables_and_hosts_before_the_switches() -> None:
    steps = failure_steps([], [], ["tor0:129"], [])
    assert _kinds(steps) == ["cables+hosts", "switches"]
    assert all(step.links == ("tor0:129",) for step in steps)


def test_coming_back_plugs_the_cable_then_routes_then_moves_hosts() -> None:
    steps = failure_steps(["tor0:129"], ["agg1"], [], ["agg1"])
    assert _kinds(steps) == ["cables", "switches", "hosts"]
    assert all(step.links == () and step.switches == ("agg1",) for step in steps)


def test_both_at_once_fail_first_with_what_stays_failed_then_restore() -> None:
    steps = failure_steps(["a:1"], [], ["b:1"], [])
    assert _kinds(steps) == ["cables+hosts", "switches", "cables", "switches", "hosts"]
    assert steps[0].links == steps[1].links == ("a:1", "b:1")
    assert all(step.links == ("b:1",) for step in steps[2:])


def test_no_change_reasserts_the_view() -> None:
    assert _kinds(failure_steps(["a:1"], [], ["a:1"], [])) == ["cables", "switches", "hosts"]

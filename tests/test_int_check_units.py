"""The emulation's INT check tests the switches, not the machine: how far a hop's clock
drifts from the sender's over the probes (a starved bmv2 handles queued probes in a
burst) is reported, not checked."""

from __future__ import annotations

from hpn.emulation.checks.int_probes import IntHopReport, IntResult, clock_skew_ns


def hop(steps: list[int]) -> IntHopReport:
    return IntHopReport("tor-s0-r0-p0", 129, 400, 400, 4 * 1152, 5 * 1152, steps)


def test_a_busy_machine_skews_the_clocks_without_failing_the_check() -> None:
    sender = [5_003_000, 4_996_000]
    on_time = hop([5_012_000, 4_987_000])
    burst = hop([200, 229_000])  # probes queued behind a starved bmv2 left together
    assert clock_skew_ns(on_time, sender) == 0
    assert clock_skew_ns(burst, sender) == 229_200 - 9_999_000
    result = IntResult(3, 3, [on_time, burst], sender, [], 0.1)
    assert result.ok
    assert "within 9.8 ms of the sender's" in result.summary()

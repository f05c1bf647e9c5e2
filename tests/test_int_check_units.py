"""The emulation's INT check tests the switches, not the machine: how far a hop's clock
drifts from the sender's over the probes (a starved bmv2 handles queued probes in a
burst) is reported, not checked, and a step is unwrapped by the sender's own step, so
probes reaching a switch late still advance while stamps that go back or stand still
are a problem."""

from __future__ import annotations

import itertools

import pytest

from hpn.emulation.checks.int_probes import IntHopReport, IntResult, check_slot, clock_skew_ns
from hpn.telemetry import IntHop


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


WRAP_NS = 1 << 24  # the INT timestamp field wraps every 16.78 ms
PROBE_BYTES = 9 * 128


def slot_of(stamps_ns: list[int], gbps: int = 400) -> list[IntHop]:
    """A slot as the probes carried it: one per probe, each PROBE_BYTES after the one before."""
    return [
        IntHop.from_port_state(gbps=gbps, time_ns=t, tx_bytes=k * PROBE_BYTES, queued_bytes=0)
        for k, t in enumerate(stamps_ns)
    ]


def stamps_from(first_ns: int, steps_ns: list[int]) -> list[int]:
    return list(itertools.accumulate(steps_ns, initial=first_ns))


def check(
    stamps_ns: list[int], sender_steps_ns: list[int], gbps: int = 400
) -> tuple[IntHopReport, list[str]]:
    hops = slot_of(stamps_ns, gbps)
    return check_slot(1, "agg-s0-p0", 3, 400, hops, sender_steps_ns, len(hops) * PROBE_BYTES)


def test_probes_sent_5_ms_apart_reaching_a_switch_8_75_and_8_93_ms_apart_advance() -> None:
    # Seen on a loaded machine: past half the wrap, but the sender's 5 ms step says which way.
    report, problems = check(stamps_from(3_000_000, [8_750_000, 8_930_000]), [5_000_000, 5_000_000])
    assert problems == []
    assert report.timestamp_steps_ns == [8_750_000, 8_930_000]


def test_a_step_longer_than_the_wrap_is_unwrapped_by_the_senders_step() -> None:
    # The sender stalled 20 ms between two probes: the stamps show 20.3 ms less one wrap.
    report, problems = check(stamps_from(100_000, [20_300_000, 4_900_000]), [20_000_000, 5_000_000])
    assert problems == []
    assert report.timestamp_steps_ns == [20_300_000, 4_900_000]


def test_probes_a_starved_switch_sends_in_a_burst_advance() -> None:
    report, problems = check(stamps_from(WRAP_NS - 100, [200, 229_000]), [5_003_000, 4_996_000])
    assert problems == []
    assert report.timestamp_steps_ns == [200, 229_000]


@pytest.mark.parametrize(
    ("stamps_ns", "what"),
    [
        ([4_000_000, 3_999_000, 9_000_000], "going back 1 us"),
        ([500, WRAP_NS - 500, 5_000_000], "going back 1 us across the wrap"),
        ([4_000_000, 4_000_000, 9_000_000], "standing still"),
        ([1_000_000, 6_000_000, 5_000_000], "the third probe stamped before the second"),
    ],
)
def test_stamps_that_do_not_advance_probe_after_probe_are_a_problem(stamps_ns: list[int], what: str) -> None:
    _, problems = check(stamps_ns, [5_000_000, 5_000_000])
    assert len(problems) == 1, what
    assert "timestamps do not advance probe after probe" in problems[0], what


def test_a_slot_holding_another_hop_is_a_problem() -> None:
    # slot 1 should be the agg's 400 Gb/s downlink; a 200 Gb/s rate is the ToR's host port.
    _, problems = check(stamps_from(1_000_000, [5_000_000, 5_000_000]), [5_000_000, 5_000_000], gbps=200)
    assert problems == ["slot 1 (agg-s0-p0:3): link rate 200 Gb/s, the link is 400 Gb/s"]

"""The incast experiment's numbers (hpn.hpcc.metrics), against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from hpn.hpcc.metrics import (
    QueueSummary,
    RateSample,
    convergence_ns,
    count_between,
    fairness_series,
    goodput_share,
    group_times,
    jain_index,
    percentile,
    ratio,
    window_rates,
)


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # sorted 1 2 3 4: rank q/100 * 3
    assert percentile(values, 50) == 2.5  # rank 1.5: halfway between 2 and 3
    assert percentile(values, 99) == pytest.approx(3.97)  # rank 2.97: 3 + 0.97 * (4 - 3)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile([7.0], 99) == 7.0
    # 101 values 0..100: the p-th percentile is p itself
    assert percentile([float(v) for v in range(101)], 99) == 99.0


def test_percentile_refuses_what_is_undefined() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_queue_summary() -> None:
    # 99 empty readings and one of 10,000 bytes: median 0; p99 at rank 98.01 -> 0.01 * 10,000
    q = QueueSummary.of([0.0] * 99 + [10_000.0])
    assert (q.samples, q.median, q.maximum) == (100, 0.0, 10_000.0)
    assert q.p99 == pytest.approx(100.0)
    with pytest.raises(ValueError):
        QueueSummary.of([])


def test_jain_index_by_hand() -> None:
    assert jain_index([5.0, 5.0, 5.0]) == 1.0
    assert jain_index([1.0, 0.0, 0.0]) == pytest.approx(1 / 3)  # one has everything: 1/n
    assert jain_index([1.0, 2.0, 3.0]) == pytest.approx(36 / 42)  # (1+2+3)^2 / (3 * (1+4+9))
    assert jain_index([3.0, 1.0]) == pytest.approx(16 / 20)  # 4^2 / (2 * 10)
    assert jain_index([0.0, 0.0]) == 1.0
    with pytest.raises(ValueError):
        jain_index([])
    with pytest.raises(ValueError, match="non-negative"):
        jain_index([1.0, -1.0])


def test_goodput_share() -> None:
    assert goodput_share(900, 2.0, 500) == pytest.approx(0.9)  # 900 packets in 2 s of a 500 pkt/s port
    assert goodput_share(0, 1.0, 1) == 0.0
    with pytest.raises(ValueError):
        goodput_share(1, 0.0, 500)
    with pytest.raises(ValueError):
        goodput_share(-1, 1.0, 500)


def test_count_between_is_half_open() -> None:
    assert count_between([1, 2, 3, 5, 8], 2, 5) == 2  # 2 and 3; 5 is the end, excluded
    assert count_between([1, 2, 3, 5, 8], 0, 100) == 5
    assert count_between([], 0, 100) == 0


def test_window_rates_by_hand() -> None:
    # a: one event every 100 ns from 0 to 900 (10 events); b: one every 200 ns from 0 (5 events)
    events = {"a": list(range(0, 1000, 100)), "b": list(range(0, 1000, 200))}
    samples = window_rates(events, start_ns=0, end_ns=1000, window_ns=500, step_ns=250)
    assert [s.end_ns for s in samples] == [500, 750, 1000]
    # [0, 500): a 0..400 = 5 events in 500 ns = 1e7/s; b 0, 200, 400 = 3 -> 6e6/s
    assert samples[0].rates == {"a": pytest.approx(1e7), "b": pytest.approx(6e6)}
    # [250, 750): a 300..700 = 5; b 400, 600 = 2 -> 4e6/s
    assert samples[1].rates == {"a": pytest.approx(1e7), "b": pytest.approx(4e6)}
    # [500, 1000): a 500..900 = 5; b 600, 800 = 2
    assert samples[2].rates == {"a": pytest.approx(1e7), "b": pytest.approx(4e6)}
    assert window_rates(events, 0, 400, 500, 250) == []  # no whole window fits
    with pytest.raises(ValueError):
        window_rates(events, 0, 1000, 0, 250)


def test_fairness_series_counts_a_silent_key_as_zero() -> None:
    samples = [RateSample(10, {"a": 2.0, "b": 2.0}), RateSample(20, {"a": 2.0})]
    assert fairness_series(samples, ["a", "b"]) == [(10, 1.0), (20, pytest.approx(0.5))]


def test_convergence_is_the_first_window_that_stays_fair_for_the_hold() -> None:
    # windows of 100 ns after a join at 1000; Jain per window end:
    series = [
        (1050, 0.99),  # overlaps the time before the join: not counted
        (1100, 0.50),
        (1200, 0.96),  # fair, but 1300 is not: no
        (1300, 0.80),
        (1400, 0.97),  # 1400, 1500, 1600 all >= 0.95: converged at 1400
        (1500, 0.98),
        (1600, 0.99),
        (1700, 0.90),  # a later dip does not move it
        (1800, 0.99),
    ]
    assert convergence_ns(series, join_ns=1000, window_ns=100, threshold=0.95, hold_ns=200) == 400
    # with a longer hold the dip at 1700 counts: 1800 is fair but the samples end there
    assert convergence_ns(series, join_ns=1000, window_ns=100, threshold=0.95, hold_ns=300) is None
    # a lower bar admits 1300's 0.80: converged at 1200
    assert convergence_ns(series, join_ns=1000, window_ns=100, threshold=0.75, hold_ns=200) == 200
    assert convergence_ns([], join_ns=0, window_ns=100, threshold=0.95, hold_ns=0) is None
    # fair from the first whole window on, hold 0: the answer is the window itself
    assert convergence_ns([(100, 1.0)], join_ns=0, window_ns=100, threshold=0.95, hold_ns=0) == 100


def test_group_times_and_ratio() -> None:
    assert group_times([("b", 3), ("a", 2), ("b", 1)]) == {"b": [1, 3], "a": [2]}
    assert ratio(1, 4) == 0.25
    assert math.isnan(ratio(1, 0))

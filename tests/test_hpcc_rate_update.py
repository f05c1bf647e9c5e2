"""HPCC's rate update on INT traces, expected values worked out from the reference's formulas.

The reference (rdma-hw.cc, ``UpdateRateHp``) computes, per hop i of the echoed stack::

    tau     = time_i - time_i(prev)                           (ns, mod 2^24)
    txRate  = (bytes_i - bytes_i(prev)) * 128 * 8 / (tau * 1e-9)  (bytes mod 2^20)
    u_i     = txRate / B_i + min(qlen_i, qlen_i(prev)) * 80 * maxRate / B_i / W

then (MULTI_RATE 0) takes the hop with the largest u_i, and with dt = min(its tau, T)::

    U       = (U(prev) * (T - dt) + u_max * dt) / T
    c       = U / eta
    rate    = Rc / c + W_AI            if c >= 1 or incStage >= maxStage   (incStage = 0)
            = Rc + W_AI                otherwise                           (incStage + 1)

clamped to [minRate, maxRate]; Rc (the reference rate) and incStage only change on the ACK
that ends an RTT. ``Rc / c`` is a ``DataRate`` and so truncated to whole bit/s: expected rates
below are written as ``int(Rc / c) + W_AI``, next to their value in Gb/s.

Every trace uses T = 10,240 ns, maxRate = B = 100 Gb/s unless a hop says otherwise, and
W = maxRate * T / 8 = 128,000 bytes. So a port sending 1000 units (128,000 bytes) in T is
at u = 1.0, and a queue of 800 units (64,000 bytes) adds 64,000 / 128,000 = 0.5.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from hpn.hpcc.params import HpccParams, bdp_bytes
from hpn.hpcc.rate_update import (
    HopRate,
    HpccState,
    HpccUpdate,
    UpdateKind,
    hop_utilisation,
    initial_state,
    on_ack,
    window_bytes,
)
from hpn.telemetry.codec import IntHop, IntStack

T = 10_240
G = 1_000_000_000
AI = 50_000_000  # RATE_AI of the reference's config.txt
ETA = 0.95  # U_TARGET


def params(**overrides: object) -> HpccParams:
    base = HpccParams(max_rate_bps=100 * G, base_rtt_ns=T, window_bytes=bdp_bytes(100 * G, T))
    return replace(base, **overrides)


def hop(rate_index: int = 2, time: int = 0, units: int = 0, qlen: int = 0) -> IntHop:
    return IntHop(link_rate_index=rate_index, timestamp=time, tx_bytes=units, qlen=qlen)


def ack(p: HpccParams, state: HpccState, ack_seq: int, snd_nxt: int, *hops: IntHop) -> HpccUpdate:
    return on_ack(p, state, ack_seq=ack_seq, snd_nxt=snd_nxt, stack=IntStack.from_hops(hops))


def after_first_ack(p: HpccParams, *hops: IntHop, rate: int = 100 * G, u: float = 1.0) -> HpccState:
    """A flow whose first ACK (ending at byte 1000) stored ``hops``, its rates set to ``rate``."""
    state = initial_state(p)
    first = on_ack(p, state, ack_seq=1000, snd_nxt=1000, stack=IntStack.from_hops(hops))
    assert first.kind is UpdateKind.FIRST and not first.rate_changed
    return replace(first.state, rate_bps=rate, cur_rate_bps=rate, u=u)


def test_window_is_the_bdp_and_follows_the_rate() -> None:
    # maxBdp = rtt * bw / 1e9 / 8 = 10_240 * 100e9 / 1e9 / 8
    assert bdp_bytes(100 * G, T) == 128_000
    p = params()
    # GetWin with VAR_WIN: m_win * m_rate / m_max_rate, at least 1
    assert window_bytes(p, 50 * G) == 128_000 * 50 // 100 == 64_000
    assert window_bytes(p, 100_000_000) == 128
    assert window_bytes(p, 1) == 1
    assert window_bytes(params(var_win=False), 1 * G) == 128_000


def test_new_flow_starts_at_line_rate_and_first_ack_only_stores_hops() -> None:
    p = params()
    state = initial_state(p)
    assert (state.rate_bps, state.cur_rate_bps, state.u, state.last_update_seq) == (100 * G, 100 * G, 1.0, 0)
    sample = hop(time=500, units=7, qlen=3)
    first = ack(p, state, 1000, 4000, sample)
    assert first.kind is UpdateKind.FIRST
    assert first.state.rate_bps == 100 * G
    assert first.state.last_update_seq == 4000  # m_lastUpdateSeq = snd_nxt
    assert first.state.hops[0] == sample


def test_single_hop_under_target() -> None:
    p = params()
    state = after_first_ack(p, hop(time=1_000, units=0), rate=40 * G)
    # tau = 10,240 ns; 500 units = 64,000 B -> txRate = 64,000 * 8 / 10.24e-6 = 50 Gb/s; no queue
    # u = 50e9 / 100e9 = 0.5; dt = min(10,240, T) = T, so U = (1.0 * 0 + 0.5 * T) / T = 0.5
    # c = 0.5 / 0.95 < 1 but maxStage = 0 (MI_THRESH 0): rate = 40e9 / c + W_AI = 76 + 0.05 Gb/s
    out = ack(p, state, 2000, 5000, hop(time=11_240, units=500))
    assert out.kind is UpdateKind.FULL and out.rate_changed
    assert (out.max_u, out.max_hop) == (pytest.approx(0.5), 0)
    assert out.state.u == pytest.approx(0.5)
    expected = int(40 * G / (0.5 / ETA)) + AI
    assert expected == pytest.approx(76.05 * G, abs=1)
    assert out.state.rate_bps == out.state.cur_rate_bps == expected
    assert out.state.inc_stage == 0
    assert out.state.last_update_seq == 5000
    assert out.state.hops[0] == hop(time=11_240, units=500)


def test_single_hop_over_target_with_a_queue() -> None:
    p = params()
    state = after_first_ack(p, hop(time=0, units=0, qlen=800), u=0.8)
    # tau = 5,120 ns = T/2; 500 units = 64,000 B -> 100 Gb/s -> 1.0
    # queue: min(1600, 800) = 800 units = 64,000 B -> 64,000 * 100e9 / 100e9 / 128,000 = 0.5; u = 1.5
    # U = (0.8 * (T - T/2) + 1.5 * T/2) / T = 0.4 + 0.75 = 1.15 > eta
    # c = 1.15 / 0.95 >= 1: rate = 100e9 / c + W_AI = 82.6087 + 0.05 Gb/s
    out = on_ack(
        p,
        state,
        ack_seq=2000,
        snd_nxt=9000,
        stack=IntStack.from_hops([hop(time=5_120, units=500, qlen=1600)]),
    )
    assert out.max_u == pytest.approx(1.5)
    u = (0.8 * (T - 5_120) + 1.5 * 5_120) / T
    assert u == pytest.approx(1.15)
    assert out.state.u == u
    # 100e9 * 0.95 / 1.15 = 82,608,695,652.17 -> 82,608,695,652 bit/s, + 50,000,000
    assert int(100 * G / (u / ETA)) + AI == 82_658_695_652
    assert out.state.rate_bps == out.state.cur_rate_bps == 82_658_695_652


def test_max_stage_additive_increase_then_multiplicative() -> None:
    p = params(mi_thresh=3)
    state = after_first_ack(p, hop(time=0, units=0), rate=50 * G)
    # Every RTT the port sends 500 units in T: 64,000 B / 10.24 us = 50 Gb/s, u = U = 0.5 < eta.
    # Stages 0, 1, 2 < maxStage = 3: Rc + W_AI each time; stage 3 reaches maxStage: Rc / c + W_AI.
    expected = [
        (50_050_000_000, 1),  # 50 + 0.05 Gb/s
        (50_100_000_000, 2),
        (50_150_000_000, 3),
        (int(50_150_000_000 / (0.5 / ETA)) + AI, 0),  # 50.15 / (0.5 / 0.95) + 0.05 = 95.335 Gb/s
    ]
    assert expected[3][0] == pytest.approx(95.335 * G, abs=1)
    for k, (rate, stage) in enumerate(expected, start=1):
        stack = IntStack.from_hops([hop(time=k * T, units=500 * k)])
        out = on_ack(p, state, ack_seq=1000 + 1000 * k, snd_nxt=1000 + 1000 * k, stack=stack)
        assert out.kind is UpdateKind.FULL
        assert out.state.u == pytest.approx(0.5)
        assert out.state.rate_bps == rate, k
        assert out.state.inc_stage == stage, k
        state = out.state


def test_over_target_is_multiplicative_even_before_max_stage() -> None:
    p = params(mi_thresh=5)
    state = after_first_ack(p, hop(time=0, units=0, qlen=800))
    # tau = T, 1000 units = 128,000 B -> 1.0; queue min(800, 800) -> 0.5; u = U = 1.5 >= eta
    # c = 1.5 / 0.95: rate = 100e9 / c + W_AI = 63.333 + 0.05 Gb/s, stage 0
    out = ack(p, state, 2000, 2000, hop(time=T, units=1000, qlen=800))
    assert out.state.rate_bps == int(100 * G / (1.5 / ETA)) + AI == pytest.approx(63.3833 * G, rel=1e-5)
    assert out.state.inc_stage == 0


def test_fast_react_moves_the_pacing_rate_only_and_the_full_update_starts_from_rc() -> None:
    p = params()
    state = replace(after_first_ack(p, hop(time=0, units=0, qlen=800)), last_update_seq=10_000)
    # ack_seq 4,000 <= m_lastUpdateSeq 10,000: within the RTT -> fast react.
    # tau = T, 1000 units -> 1.0; queue 800 -> 0.5; U = 1.5 -> rate = 100e9 / (1.5 / 0.95) + W_AI
    fast = ack(p, state, 4_000, 20_000, hop(time=T, units=1000, qlen=800))
    assert fast.kind is UpdateKind.FAST
    assert fast.state.rate_bps == int(100 * G / (1.5 / ETA)) + AI  # 63.38 Gb/s
    assert fast.state.cur_rate_bps == 100 * G  # Rc kept
    assert fast.state.last_update_seq == 10_000  # the RTT does not end
    assert fast.state.u == pytest.approx(1.5)  # U's EWMA moves on every ACK
    # ack_seq 12,000 > 10,000 ends the RTT. tau = T, 1000 more units -> 1.0; queue min(0, 800) = 0
    # U = 1.0 -> rate from Rc = 100 Gb/s, not from the fast rate: 100e9 / (1.0 / 0.95) + W_AI = 95.05 Gb/s
    stack = IntStack.from_hops([hop(time=2 * T, units=2000, qlen=0)])
    full = on_ack(p, fast.state, ack_seq=12_000, snd_nxt=30_000, stack=stack)
    assert full.kind is UpdateKind.FULL
    assert full.state.rate_bps == full.state.cur_rate_bps == int(100 * G / (1.0 / ETA)) + AI
    assert full.state.rate_bps == pytest.approx(95.05 * G, abs=1)
    assert full.state.last_update_seq == 30_000


def test_without_fast_react_acks_within_the_rtt_change_nothing() -> None:
    p = params(fast_react=False)
    state = replace(after_first_ack(p, hop(time=0, units=0, qlen=800)), last_update_seq=10_000)
    out = ack(p, state, 4_000, 20_000, hop(time=T, units=1000, qlen=800))
    assert out.kind is UpdateKind.NONE and not out.rate_changed
    assert out.state == state  # not even the hop sample is stored


def test_the_most_loaded_hop_and_its_tau_drive_the_ewma() -> None:
    p = params()
    prev = [hop(4, time=5_000_000), hop(2, time=7_000, qlen=320), hop(3, time=16_000_000)]
    state = after_first_ack(p, *prev, rate=80 * G)
    cur = [
        # 400 Gb/s port, tau = T, 1200 units = 153,600 B -> 120 Gb/s -> u = 120 / 400 = 0.3
        hop(4, time=5_000_000 + T, units=1200),
        # 100 Gb/s port, tau = 2,560 ns, 250 units = 32,000 B -> 100 Gb/s -> 1.0;
        # queue min(320, 320) = 25,600 B -> 25,600 * 100e9 / 100e9 / 128,000 = 0.2; u = 1.2
        hop(2, time=7_000 + 2_560, units=250, qlen=320),
        # 200 Gb/s port, tau = T, 1800 units = 230,400 B -> 180 Gb/s -> u = 0.9
        hop(3, time=16_000_000 + T, units=1800),
    ]
    out = on_ack(p, state, ack_seq=2000, snd_nxt=2000, stack=IntStack.from_hops(cur))
    assert out.max_hop == 1
    assert out.max_u == pytest.approx(1.2)
    # U = (1.0 * (T - 2,560) + 1.2 * 2,560) / T = 0.75 + 0.3 = 1.05 (the max hop's tau is the weight)
    u = (1.0 * (T - 2_560) + 1.2 * 2_560) / T
    assert out.state.u == pytest.approx(1.05)
    # rate = 80e9 / (1.05 / 0.95) + W_AI: 80e9 * 0.95 / 1.05 = 72,380,952,380.95, truncated (DataRate)
    assert int(80 * G / (u / ETA)) + AI == 72_430_952_380
    assert out.state.rate_bps == 72_430_952_380
    assert out.state.hops[:3] == tuple(cur)


@pytest.mark.parametrize("full", [True, False])
def test_more_than_five_hops_skip_the_update(full: bool) -> None:
    p = params()
    state = replace(after_first_ack(p, hop(time=0, units=0)), last_update_seq=10_000)
    # Six switches pushed: slot 0 was overwritten by the sixth. The reference only uses the
    # stack when nhop <= maxHop, and a full update still moves m_lastUpdateSeq to snd_nxt.
    stack = IntStack.from_hops(hop(time=T, units=1000, qlen=5000) for _ in range(6))
    assert stack.nhop == 6
    out = on_ack(p, state, ack_seq=12_000 if full else 4_000, snd_nxt=30_000, stack=stack)
    assert out.kind is UpdateKind.SKIPPED and not out.rate_changed
    assert out.state.rate_bps == out.state.cur_rate_bps == 100 * G
    assert out.state.hops == state.hops
    assert out.state.last_update_seq == (30_000 if full else 10_000)


def test_first_ack_with_more_than_five_hops_is_ignored() -> None:
    p = params()
    state = initial_state(p)
    six = IntStack.from_hops(hop(time=1) for _ in range(6))
    out = on_ack(p, state, ack_seq=1000, snd_nxt=1000, stack=six)
    assert out.kind is UpdateKind.SKIPPED and out.state == state
    assert ack(p, state, 2000, 2000, hop(time=1)).kind is UpdateKind.FIRST


def test_counters_wrap() -> None:
    p = params()
    before = hop(time=0xFFFF00, units=0xFFF00)  # 16,776,960 ns; 1,048,320 units
    # time: (16,776,960 + 10,240) mod 2^24 = 9,984; bytes: (1,048,320 + 1000) mod 2^20 = 744
    after = hop(time=9_984, units=744)
    assert hop_utilisation(p, before, after) == (pytest.approx(1.0), T)  # 128,000 B in T at 100 Gb/s
    state = after_first_ack(p, before)
    out = ack(p, state, 2000, 2000, after)
    # U = 1.0 -> 100e9 / (1.0 / 0.95) + W_AI = 95.05 Gb/s
    assert out.state.rate_bps == int(100 * G / (1.0 / ETA)) + AI


def test_a_sample_without_elapsed_time_or_line_rate_is_not_used() -> None:
    p = params()
    state = after_first_ack(p, hop(time=500, units=10), hop(5, time=500), hop(time=0, units=0))
    stack = IntStack.from_hops(
        [
            hop(time=500, units=20),  # same microsecond on bmv2: tau = 0
            hop(5, time=500 + T, units=1000),  # rate index 5 means 0 b/s
            hop(time=T, units=500),  # 64,000 B in T -> 0.5
        ]
    )
    out = on_ack(p, state, ack_seq=2000, snd_nxt=2000, stack=stack)
    assert out.max_hop == 2 and out.max_u == pytest.approx(0.5)
    assert out.state.hops[0] == hop(time=500, units=10)  # kept as the base of the next delta
    assert out.state.hops[1] == hop(5, time=500)
    # U = (1.0 * 0 + 0.5 * T) / T = 0.5: 100e9 / (0.5 / 0.95) + W_AI = 190.05 Gb/s, clamped at maxRate
    assert out.state.rate_bps == 100 * G


def test_no_usable_sample_leaves_the_rate_but_ends_the_rtt() -> None:
    p = params()
    state = after_first_ack(p, hop(time=500), rate=40 * G)
    out = ack(p, state, 2000, 7000, hop(time=500))
    assert out.kind is UpdateKind.FULL and not out.rate_changed
    assert out.state.rate_bps == 40 * G
    assert out.state.last_update_seq == 7000


def test_rate_is_bounded_by_min_rate() -> None:
    p = params()
    state = after_first_ack(p, hop(time=0, qlen=100_000), rate=1 * G)
    # queue 100,000 units = 8 MB -> 8,000,000 / 128,000 = 62.5; plus 1000 units in T -> 1.0
    # U = 63.5, rate = 1e9 / (63.5 / 0.95) + W_AI = 14.96 + 50 Mb/s = 64.96 Mb/s < minRate 100 Mb/s
    stack = IntStack.from_hops([hop(time=T, units=1000, qlen=100_000)])
    out = on_ack(p, state, ack_seq=2000, snd_nxt=2000, stack=stack)
    assert int(1 * G / (63.5 / ETA)) + AI < 100_000_000
    assert out.state.rate_bps == 100_000_000


def test_per_hop_rates() -> None:
    p = params(multi_rate=True)
    state = after_first_ack(p, hop(time=0), hop(time=0, qlen=800))
    stack = IntStack.from_hops(
        [
            hop(time=T),  # idle for T: u = 0, its EWMA u = (1.0 * 0 + 0 * T) / T = 0
            hop(time=T, units=1000, qlen=800),  # 1.0 + 0.5 = 1.5, EWMA over tau = T: 1.5
        ]
    )
    out = on_ack(p, state, ack_seq=2000, snd_nxt=2000, stack=stack)
    # hop 0: c = 0 / 0.95 = 0 (the reference divides by 0) -> maxRate
    # hop 1: c = 1.5 / 0.95 -> Rc_1 / c + W_AI = 100e9 / c + 50e6 = 63.38 Gb/s; the flow takes the min
    hop1_rate = int(100 * G / (1.5 / ETA)) + AI
    assert out.state.hop_rates[0] == HopRate(u=0.0, rate_bps=100 * G, inc_stage=0)
    assert out.state.hop_rates[1].u == pytest.approx(1.5)
    assert (out.state.hop_rates[1].rate_bps, out.state.hop_rates[1].inc_stage) == (hop1_rate, 0)
    assert out.state.rate_bps == out.state.cur_rate_bps == hop1_rate


def test_sample_feedback_skips_empty_queues_in_fast_reactions() -> None:
    p = params(sample_feedback=True)
    state = replace(after_first_ack(p, hop(time=0), hop(time=0, qlen=800)), last_update_seq=10_000)
    stack = IntStack.from_hops(
        [
            hop(time=T, units=1000, qlen=0),  # u = 1.0, but qlen 0 in a fast reaction: skipped
            hop(time=T, units=500, qlen=800),  # 0.5 + min(800, 800) -> 0.5 = 1.0 as well
        ]
    )
    out = on_ack(p, state, ack_seq=4_000, snd_nxt=20_000, stack=stack)
    assert out.kind is UpdateKind.FAST and out.max_hop == 1
    assert out.state.hops[0] == hop(time=0)  # not stored
    assert out.state.rate_bps == int(100 * G / (1.0 / ETA)) + AI

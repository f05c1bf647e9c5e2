"""HPCC's rate and window update, step for step as the reference's ``RdmaHw::UpdateRateHp``.

Pure and deterministic: ``on_ack`` takes the flow's state and one ACK's echoed INT stack and
returns the next state; nothing here reads a clock or a socket. The reference is
simulation/src/point-to-point/model/rdma-hw.cc (``HandleAckHp``, ``UpdateRateHp``,
``FastReactHp``) and rdma-queue-pair.cc (``GetWin``) of
alibaba-edu/High-Precision-Congestion-Control. Arithmetic follows its C types: rates are
integer bit/s (``DataRate`` truncates ``rate / c``), U and its EWMA are doubles evaluated in
the reference's order.

Where the reference has undefined behaviour, this module picks a defined one (docs/hpcc.md,
"Differences from the reference"):

- a hop sample with no time elapsed (bmv2's microsecond clock can repeat) or a line rate of
  0 (INT indices 5-7) is not used and not stored, where the reference divides by zero;
- a first ACK with ``nhop > 5`` is ignored, where the reference asserts;
- an EWMA U of exactly 0 sets the line rate, where the reference divides by zero.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from hpn.hpcc.params import HpccParams
from hpn.telemetry.codec import MAX_HOPS, IntHop, IntStack, timestamp_delta, tx_bytes_delta


@dataclass(frozen=True)
class HopRate:
    """Per-hop state of ``MULTI_RATE 1`` (the reference's ``hopState[i]``)."""

    u: float
    rate_bps: int
    """Rc of this hop: its reference rate."""
    inc_stage: int = 0


@dataclass(frozen=True)
class HpccState:
    """A flow's HPCC state (the reference's ``qp->m_rate`` and ``qp->hp``)."""

    rate_bps: int
    """``m_rate``: the rate packets are paced at; every update changes it."""
    cur_rate_bps: int
    """``hp.m_curRate``: the reference rate Rc; only per-RTT updates change it."""
    inc_stage: int
    """``hp.m_incStage``: additive-increase steps since the last multiplicative one."""
    u: float
    """``hp.u``: the EWMA of the most loaded hop's U (``MULTI_RATE 0``)."""
    last_update_seq: int
    """``hp.m_lastUpdateSeq``: an ACK beyond it ends an RTT; 0 before the first ACK."""
    hops: tuple[IntHop, ...]
    """``hp.hop``: the last sample of each hop, the base of the next deltas."""
    hop_rates: tuple[HopRate, ...]
    """``hp.hopState`` (``MULTI_RATE 1``)."""


def initial_state(params: HpccParams) -> HpccState:
    """A new flow (``AddQueuePair`` and the ``RdmaQueuePair`` constructor): line rate, U = 1."""
    return HpccState(
        rate_bps=params.max_rate_bps,
        cur_rate_bps=params.max_rate_bps,
        inc_stage=0,
        u=1.0,
        last_update_seq=0,
        hops=(IntHop(),) * MAX_HOPS,
        hop_rates=(HopRate(1.0, params.max_rate_bps),) * MAX_HOPS,
    )


class UpdateKind(enum.Enum):
    FIRST = "first"
    """First ACK of the flow: hop samples stored, no rate change."""
    FULL = "full"
    """The ACK ends an RTT: pacing and reference rate move, the next RTT starts."""
    FAST = "fast"
    """Fast reaction within an RTT: only the pacing rate (and U's EWMA) moves."""
    SKIPPED = "skipped"
    """``nhop > 5``: the stack is not used (a full one still starts the next RTT)."""
    NONE = "none"
    """Within an RTT with ``fast_react`` off: nothing happens."""


@dataclass(frozen=True)
class HpccUpdate:
    """The outcome of one ACK."""

    state: HpccState
    kind: UpdateKind
    rate_changed: bool
    """``ChangeRate`` was called: at least one hop gave a sample."""
    max_u: float | None = None
    """``MULTI_RATE 0``: the largest per-hop U of this ACK (None without a sample)."""
    max_hop: int | None = None
    """Which hop gave ``max_u`` (None when no hop's U exceeded 0)."""


def window_bytes(params: HpccParams, rate_bps: int) -> int:
    """``RdmaQueuePair::GetWin``: the bytes a flow may have in flight at ``rate_bps``."""
    if not params.var_win:
        return params.window_bytes
    return max(1, params.window_bytes * rate_bps // params.max_rate_bps)


def hop_utilisation(params: HpccParams, prev: IntHop, cur: IntHop) -> tuple[float, int] | None:
    """One hop's U between two samples, and the ns between them (tau); None if unusable.

    ``u = txRate / B + min(qlen, qlen_prev) * maxRate / B / W`` with ``txRate`` the port's
    bytes over tau. With ``W = maxRate * T`` the queue term is ``qlen / (B * T)``.
    """
    line = params.line_rates_bps[cur.link_rate_index]
    tau = timestamp_delta(prev, cur)
    if line <= 0 or tau == 0:
        return None
    duration = tau * 1e-9
    tx_rate = tx_bytes_delta(prev, cur) * 8 / duration
    queued = float(min(cur.qlen_bytes, prev.qlen_bytes))
    return tx_rate / line + queued * params.max_rate_bps / line / params.window_bytes, tau


def on_ack(
    params: HpccParams, state: HpccState, *, ack_seq: int, snd_nxt: int, stack: IntStack
) -> HpccUpdate:
    """``HandleAckHp``: a full update when the ACK ends an RTT, else a fast reaction (or none).

    ``ack_seq`` is the ACK's cumulative sequence (bytes), ``snd_nxt`` the next byte the
    sender will send, ``stack`` the INT stack the ACK echoes.
    """
    if ack_seq > state.last_update_seq:
        return _update(params, state, snd_nxt, stack, fast=False)
    if params.fast_react:
        return _update(params, state, snd_nxt, stack, fast=True)
    return HpccUpdate(state, UpdateKind.NONE, rate_changed=False)


def _divided(rate_bps: int, c: float, params: HpccParams) -> int:
    """``DataRate / double``: truncated to integer bit/s. c = 0 counts as infinitely fast."""
    return int(rate_bps / c) if c > 0 else params.max_rate_bps


def _bounded(rate_bps: int, params: HpccParams) -> int:
    return min(max(rate_bps, params.min_rate_bps), params.max_rate_bps)


def _next_rate(rate_bps: int, inc_stage: int, c: float, params: HpccParams) -> tuple[int, int]:
    """Multiplicative step (at or over target, or after maxStage additive steps), else additive."""
    if c >= 1 or inc_stage >= params.mi_thresh:
        return _bounded(_divided(rate_bps, c, params) + params.rate_ai_bps, params), 0
    return _bounded(rate_bps + params.rate_ai_bps, params), inc_stage + 1


def _update(params: HpccParams, state: HpccState, snd_nxt: int, stack: IntStack, *, fast: bool) -> HpccUpdate:
    """``UpdateRateHp(qp, p, ch, fast_react)``."""
    nhop = stack.nhop
    if state.last_update_seq == 0:
        if nhop > MAX_HOPS:
            return HpccUpdate(state, UpdateKind.SKIPPED, rate_changed=False)
        hops = stack.slots[:nhop] + state.hops[nhop:]
        return HpccUpdate(replace(state, last_update_seq=snd_nxt, hops=hops), UpdateKind.FIRST, False)
    kind = UpdateKind.FAST if fast else UpdateKind.FULL
    outcome = HpccUpdate(state, UpdateKind.SKIPPED, rate_changed=False)
    if nhop <= MAX_HOPS:
        outcome = _rate_from_stack(params, state, stack, fast=fast, kind=kind)
    if not fast and snd_nxt > outcome.state.last_update_seq:
        outcome = replace(outcome, state=replace(outcome.state, last_update_seq=snd_nxt))
    return outcome


def _rate_from_stack(
    params: HpccParams, state: HpccState, stack: IntStack, *, fast: bool, kind: UpdateKind
) -> HpccUpdate:
    """The part of ``UpdateRateHp`` that runs for a stack of at most five hops."""
    base_rtt = params.base_rtt_ns
    hops = list(state.hops)
    hop_rates = list(state.hop_rates)
    updated = [False] * MAX_HOPS
    max_u, max_tau, max_hop = 0.0, 0, None
    for i in range(stack.nhop):
        cur = stack.slots[i]
        if params.sample_feedback and cur.qlen == 0 and fast:
            continue
        sample = hop_utilisation(params, state.hops[i], cur)
        if sample is None:
            continue
        u, tau = sample
        updated[i] = True
        if not params.multi_rate:
            if u > max_u:
                max_u, max_tau, max_hop = u, tau, i
        else:
            tau = min(tau, base_rtt)
            hop = hop_rates[i]
            hop_rates[i] = replace(hop, u=(hop.u * (base_rtt - tau) + u * tau) / float(base_rtt))
        hops[i] = cur
    if not any(updated):
        return HpccUpdate(replace(state, hops=tuple(hops)), kind, rate_changed=False)

    new = replace(state, hops=tuple(hops))
    if not params.multi_rate:
        dt = min(max_tau, base_rtt)
        u_ewma = (state.u * (base_rtt - dt) + max_u * dt) / float(base_rtt)
        rate, stage = _next_rate(state.cur_rate_bps, state.inc_stage, u_ewma / params.target_util, params)
        new = replace(new, u=u_ewma, rate_bps=rate)
        if not fast:
            new = replace(new, cur_rate_bps=rate, inc_stage=stage)
        return HpccUpdate(new, kind, True, max_u, max_hop)

    rate = params.max_rate_bps
    for i in range(stack.nhop):
        hop = hop_rates[i]
        if updated[i]:
            hop_rate, hop_stage = _next_rate(hop.rate_bps, hop.inc_stage, hop.u / params.target_util, params)
            if not fast:
                hop_rates[i] = replace(hop, rate_bps=hop_rate, inc_stage=hop_stage)
        else:
            hop_rate = hop.rate_bps
        rate = min(rate, hop_rate)
    new = replace(new, rate_bps=rate, hop_rates=tuple(hop_rates))
    if not fast:
        new = replace(new, cur_rate_bps=rate)
    return HpccUpdate(new, kind, True)

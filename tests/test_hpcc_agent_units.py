"""The agent's pure parts: rate scale, settings, pacing, packets, sender and receiver bookkeeping."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hpn.hpcc.config import AgentSettings
from hpn.hpcc.flow import FlowConfig, SenderFlow
from hpn.hpcc.messages import FRAME_OVERHEAD_BYTES, Ack, AckKind, DataPacket, decode_message, frame_bytes
from hpn.hpcc.pacing import Pacer, tx_time_ns
from hpn.hpcc.params import HpccParams
from hpn.hpcc.rate_update import UpdateKind
from hpn.hpcc.receiver import ReceiveQueue, Receiver
from hpn.hpcc.scale import RateScale, packets_per_s
from hpn.telemetry.codec import Bth, IntHop, IntStack, encode_roce_payload, fill_payload

# 2000 packets/s of 96 + 1000 bytes: 2000 * 1096 * 8 = 17,536,000 b/s stands for 200 Gb/s.
LINE = 17_536_000


# --- scale and settings ------------------------------------------------------------------------


def test_frame_is_headers_bth_stack_and_payload() -> None:
    # Ethernet 14 + IPv4 20 + UDP 8 + BTH 12 + stack 42
    assert FRAME_OVERHEAD_BYTES == 96
    assert frame_bytes(1000) == 1096


def test_line_rate_as_packets() -> None:
    scale = RateScale.line_rate_as_packets(nic_gbps=200, packets_per_s=2000, frame_bytes=1096)
    assert scale.factor == pytest.approx(LINE / 200e9)  # 8.768e-5
    assert scale.emulated(200e9) == LINE
    # every INT rate scales by the same factor: 25G -> 2.192 Mb/s ... 400G -> 35.072 Mb/s; 5-7 stay 0
    assert scale.line_rates_bps() == (2_192_000, 4_384_000, 8_768_000, 17_536_000, 35_072_000, 0, 0, 0)
    assert packets_per_s(scale.emulated(100e9), 1096) == pytest.approx(1000)
    assert scale.nominal(LINE) == pytest.approx(200e9)
    assert RateScale().emulated(100e9) == 100_000_000_000
    with pytest.raises(ValueError, match="10 Gb/s"):
        RateScale.line_rate_as_packets(nic_gbps=10, packets_per_s=1, frame_bytes=1)


def test_settings_give_scaled_hpcc_parameters() -> None:
    params = AgentSettings(
        nic_gbps=200, line_rate_pps=2000, payload_bytes=1000, base_rtt_us=2000
    ).hpcc_params()
    assert params.max_rate_bps == LINE
    assert params.base_rtt_ns == 2_000_000
    # W = maxBdp = T * rate / 1e9 / 8 = 2e6 * 17,536,000 / 1e9 / 8 = 4,384 bytes (4 packets)
    assert params.window_bytes == 4_384
    # W_AI = 200 Gb/s * (1 - 0.95) / 4 = 2.5 Gb/s nominal = 1.25% of the line: 219,200 b/s
    assert params.rate_ai_bps == 219_200
    # MIN_RATE 100 Mb/s would be 8,768 b/s; 100 packets/s is 100 * 1096 * 8 = 876,800 b/s
    assert params.min_rate_bps == 876_800
    assert params.line_rates_bps[3] == LINE
    assert (params.target_util, params.mi_thresh, params.var_win, params.fast_react) == (0.95, 0, True, True)


def test_settings_without_cc_have_no_hpcc() -> None:
    config = AgentSettings(cc="none").flow_config()
    assert config.hpcc is None and config.line_rate_bps == LINE
    with pytest.raises(ValueError, match="cc must be"):
        AgentSettings(cc="dcqcn")


# --- pacing ------------------------------------------------------------------------------------


def test_pacer_spaces_packets_by_their_transmission_time() -> None:
    assert tx_time_ns(1096, LINE) == 500_000  # 1096 * 8 / 17.536e6 s
    pacer = Pacer(LINE, next_ns=1_000)
    assert pacer.wait_ns(0) == 1_000 and pacer.wait_ns(2_000) == 0
    pacer = pacer.sent(2_000, 1096)
    assert pacer.next_ns == 502_000


def test_rate_change_shifts_the_next_departure_like_change_rate() -> None:
    pacer = Pacer(LINE).sent(0, 1096)  # next at 500,000 ns
    # halving the rate: the last packet takes 1,000,000 ns instead of 500,000 -> 500,000 later
    assert pacer.with_rate(LINE // 2).next_ns == 1_000_000
    assert pacer.with_rate(LINE * 2).next_ns == 250_000
    assert pacer.with_rate(LINE) is pacer


# --- packets -----------------------------------------------------------------------------------


def test_data_packet_round_trip_and_bits() -> None:
    data = DataPacket(qpn=7, psn=3, seq=3000, sent_ns=123, payload_bytes=1000, stack=IntStack())
    wire = data.encode()
    assert len(wire) == 12 + 42 + 1000
    assert wire[0] == 0x04 and wire[4] == 0x20  # SEND_ONLY, INT fill
    assert decode_message(wire) == data


def test_ack_round_trip_echoes_the_stack() -> None:
    stack = IntStack.from_hops([IntHop(3, 10, 20, 30), IntHop(4, 11, 21, 31)])
    ack = Ack(qpn=7, psn=3, kind=AckKind.NACK, ack_seq=2000, echo_ns=123, stack=stack)
    wire = ack.encode()
    assert wire[0] == 0x11 and wire[4] == 0x10  # ACKNOWLEDGE, INT echo
    assert wire[12:54] == stack.encode()
    assert decode_message(wire) == ack


@pytest.mark.parametrize(
    "payload",
    [
        b"HPNT plain UDP",
        encode_roce_payload(Bth(), None, bytes(16)),  # RoCEv2 without INT
        fill_payload(Bth(opcode=0x11), bytes(17)),  # an ACK opcode asking for a fill
        fill_payload(Bth(), bytes(15)),  # too short for the data header
    ],
)
def test_other_payloads_are_not_agent_messages(payload: bytes) -> None:
    assert decode_message(payload) is None


# --- the sender's queue pair -------------------------------------------------------------------


def hpcc_params(**overrides: object) -> HpccParams:
    return replace(AgentSettings().hpcc_params(), **overrides)


def flow(hpcc: HpccParams | None = None, **overrides: object) -> SenderFlow:
    config = FlowConfig(payload_bytes=1000, line_rate_bps=LINE, hpcc=hpcc_params() if hpcc is None else hpcc)
    return SenderFlow(replace(config, **overrides), now_ns=0)


def test_window_bounds_the_bytes_in_flight() -> None:
    f = flow()
    assert f.window == 4_384
    for k in range(5):  # 4,000 in flight < 4,384: a fifth packet may go
        assert f.wait_ns(k * 500_000) == 0
        f.next_seq(k * 500_000)
    assert f.in_flight == 5_000 and f.window_bound()
    assert f.wait_ns(10**9) is None
    f.on_ack(1000, nack=False, stack=IntStack(), now_ns=3_000_000)
    assert f.in_flight == 4_000 and not f.window_bound()


def test_without_cc_there_is_no_window_and_the_rate_is_the_line() -> None:
    f = SenderFlow(FlowConfig(payload_bytes=1000, line_rate_bps=LINE, hpcc=None), now_ns=0)
    for k in range(50):
        f.next_seq(k)
    assert f.window == 0 and not f.window_bound()
    assert f.on_ack(1000, nack=False, stack=IntStack(), now_ns=60) is None
    assert f.rate_bps == LINE


def test_nack_goes_back_to_the_acknowledged_byte() -> None:
    f = flow()
    for k in range(4):
        f.next_seq(k * 500_000)
    f.on_ack(2000, nack=True, stack=IntStack(), now_ns=2_500_000)
    assert (f.snd_una, f.snd_nxt, f.retransmits) == (2000, 2000, 1)
    assert f.next_seq(2_500_000) == 2000


def test_ack_after_going_back_moves_snd_nxt_too() -> None:
    f = flow()
    for k in range(4):
        f.next_seq(k)
    f.on_ack(1000, nack=True, stack=IntStack(), now_ns=10)  # back to 1000
    f.on_ack(3000, nack=False, stack=IntStack(), now_ns=20)  # a late ACK of what was sent before
    assert (f.snd_una, f.snd_nxt, f.in_flight) == (3000, 3000, 0)


def test_retransmission_timeout() -> None:
    f = flow(rto_ns=50_000_000)
    assert f.timer_ns(0) is None  # nothing in flight
    f.next_seq(0)
    f.next_seq(500_000)
    assert f.timer_ns(10_000_000) == 40_000_000
    assert not f.on_timer(49_999_999)
    assert f.on_timer(50_000_000)
    assert (f.snd_nxt, f.retransmits) == (0, 1)
    assert f.timer_ns(50_000_000) is None


def test_flow_of_a_given_size_finishes_when_acknowledged() -> None:
    f = flow(size_bytes=2500)
    for _ in range(3):  # 3 whole packets cover 2,500 bytes
        f.next_seq(0)
    assert not f.has_data() and f.wait_ns(0) is None
    f.on_ack(2000, nack=False, stack=IntStack(), now_ns=1)
    assert not f.finished
    f.on_ack(3000, nack=False, stack=IntStack(), now_ns=2)
    assert f.finished


def test_hpcc_rate_moves_the_pacer() -> None:
    params = hpcc_params()
    f = flow(params)
    f.next_seq(0)
    first = f.on_ack(1000, nack=False, stack=IntStack.from_hops([IntHop(3, 0, 0, 0)]), now_ns=1_000_000)
    assert first is not None and first.kind is UpdateKind.FIRST
    f.next_seq(1_000_000)
    f.next_seq(1_500_000)
    # T = 2 ms later the hop (index 3: 200 Gb/s, scaled to the line) sent 34 units = 4,352 B and now
    # queues 1,000 units, but held none at the first sample: min(1000, 0) = 0, no queue term.
    # u = 4,352 * 8 / 2e-3 / 17,536,000 = 0.9927; tau = T so U = u; c = U / 0.95 = 1.045 >= 1
    stack = IntStack.from_hops([IntHop(3, 2_000_000, 34, 1000)])
    update = f.on_ack(2000, nack=False, stack=stack, now_ns=3_000_000)
    assert update is not None and update.kind is UpdateKind.FULL
    u = 4_352 * 8 / 2e-3 / LINE
    assert update.max_u == pytest.approx(u)
    # rate = Rc / c + W_AI = 17,536,000 * 0.95 / 0.9927 + 219,200 = 16,781,694 + 219,200 b/s
    assert update.state.rate_bps == pytest.approx(LINE * 0.95 / u + 219_200, abs=1)
    assert update.state.rate_bps < LINE
    assert f.pacer.rate_bps == f.rate_bps == update.state.rate_bps


# --- the receiver ------------------------------------------------------------------------------


def test_receive_queue_acks_in_order_nacks_gaps_ignores_duplicates() -> None:
    q = ReceiveQueue()
    assert q.receive(0, 1000, now_ns=0, nack_interval_ns=500_000) is AckKind.ACK
    assert q.expected == 1000
    assert q.receive(2000, 1000, now_ns=10, nack_interval_ns=500_000) is AckKind.NACK  # 1000 missing
    assert q.receive(3000, 1000, now_ns=100_000, nack_interval_ns=500_000) is None  # same gap, within 500 us
    assert q.receive(4000, 1000, now_ns=500_010, nack_interval_ns=500_000) is AckKind.NACK  # interval over
    assert q.receive(1000, 1000, now_ns=600_000, nack_interval_ns=500_000) is AckKind.ACK
    assert q.receive(0, 1000, now_ns=700_000, nack_interval_ns=500_000) is None  # duplicate
    assert (q.expected, q.packets, q.out_of_order, q.duplicates) == (2000, 6, 3, 1)


def test_receiver_answers_with_the_stack_echoed() -> None:
    stack = IntStack.from_hops([IntHop(3, 5, 6, 7)])
    receiver = Receiver(sock=None, clock=lambda: 0)  # type: ignore[arg-type]  # answer() needs no socket
    ack = receiver.answer(DataPacket(9, 4, 0, 777, 1000, stack), "10.0.0.1", now_ns=0)
    assert ack == Ack(qpn=9, psn=4, kind=AckKind.ACK, ack_seq=1000, echo_ns=777, stack=stack)
    assert receiver.answer(DataPacket(9, 5, 0, 778, 1000, stack), "10.0.0.1", now_ns=1) is None  # duplicate
    assert receiver.queues[("10.0.0.1", 9)].expected == 1000

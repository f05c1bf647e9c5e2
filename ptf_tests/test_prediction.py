"""Path prediction on bmv2: the egress port hpn.paths predicts is the one the switch takes.

Each test programs one SwitchState and predicts every flow's egress from that same state
(hpn.paths.predict.switch_egress), then sends the flows: 1,000 flows over a group of
four members with a non-zero seed, UDP flows and RoCEv2 flows with their QP, in ECMP
and in FLOWLET (each flow's first flowlet), and after a member's port goes down.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from fixtures import DST_IP, SRC_IP, one_group_state, roce_packet, udp_packet
from hpn.paths.flow import ROCEV2_PORT, Flow
from hpn.paths.predict import switch_egress
from hpn.routing.state import LbMode, LbParams, SwitchState
from hpn_base import HpnTest

MEMBERS = [2, 3, 4, 5]
SEED = 0xC0FFEE11
FLOWS = 1000
IN_PORT = 0
UDP_DPORT = 5678
LONG_GAP_US = 3_600_000_000
"""FLOWLET: no flowlet ends during a test, so every flow's packet is in its slot's first
flowlet (id 1), also when another flow used the slot before it."""


def flows(base: int) -> tuple[list[Any], list[Flow]]:
    """FLOWS flows, half UDP to UDP_DPORT and half RoCEv2 with a QP each: the packets,
    and the same flows as hpn.paths sees them."""
    packets: list[Any] = []
    keys: list[Flow] = []
    src, dst = IPv4Address(SRC_IP), IPv4Address(DST_IP)
    for i in range(FLOWS):
        sport = base + i
        if i % 2:
            qp = (i * 7919) & 0xFFFFFF
            packets.append(roce_packet(qp, sport=sport))
            keys.append(Flow(src, dst, sport, ROCEV2_PORT, qp=qp))
        else:
            packets.append(udp_packet(sport=sport, dport=UDP_DPORT))
            keys.append(Flow(src, dst, sport, UDP_DPORT))
    return packets, keys


def state(nports: int, mode: LbMode) -> SwitchState:
    return one_group_state(nports, mode, MEMBERS, lb=LbParams(hash_seed=SEED, flowlet_gap_us=LONG_GAP_US))


class PredictionTest(HpnTest):
    def check(self, name: str, actual: list[int], predicted: list[int | None], keys: list[Flow]) -> None:
        wrong = [(str(k), p, a) for k, p, a in zip(keys, predicted, actual, strict=True) if p != a]
        self.log_result(f"{name}_mispredicted", len(wrong))
        self.assertEqual(wrong[:10], [], f"{len(wrong)} of {len(keys)} flows left where not predicted")


class EcmpEgressAsPredicted(PredictionTest):
    def runTest(self) -> None:
        programmed = state(self.nports, LbMode.ECMP)
        self.program(programmed)
        packets, keys = flows(20000)
        predicted = switch_egress(programmed, keys, IN_PORT)
        self.assertEqual(set(predicted), set(MEMBERS))
        self.check("ecmp", self.send_flow_packets(packets, IN_PORT), predicted, keys)


class FlowletFirstFlowletAsPredicted(PredictionTest):
    def runTest(self) -> None:
        programmed = state(self.nports, LbMode.FLOWLET)
        self.program(programmed)
        packets, keys = flows(24000)
        predicted = switch_egress(programmed, keys, IN_PORT)
        # the flowlet id salts the hash: a prediction that ignored it would be wrong here
        as_ecmp = switch_egress(state(self.nports, LbMode.ECMP), keys, IN_PORT)
        differ = sum(a != b for a, b in zip(predicted, as_ecmp, strict=True))
        self.log_result("flowlet_predicted_unlike_ecmp", differ / FLOWS)
        self.assertGreater(differ, FLOWS // 2)
        self.check("flowlet", self.send_flow_packets(packets, IN_PORT), predicted, keys)


class MemberDownAsPredicted(PredictionTest):
    """A member's port goes down (the switch's own liveness, no controller write): the
    prediction with that port down gives every flow's new egress."""

    DEAD = 4

    def run_mode(self, mode: LbMode, base: int) -> None:
        programmed = state(self.nports, mode)
        self.program(programmed)
        packets, keys = flows(base)
        predicted = switch_egress(programmed, keys, IN_PORT, down_ports=[self.DEAD])
        before = switch_egress(programmed, keys, IN_PORT)
        moved = [i for i, (b, a) in enumerate(zip(before, predicted, strict=True)) if b != a]
        self.assertGreater(len(moved), 100)
        self.assertTrue(all(before[i] == self.DEAD for i in moved))

        self.set_peer_link(self.DEAD, up=False)
        probe = packets[moved[0]]
        self.wait_until("member deactivated", lambda: self.try_receive(probe, IN_PORT) == predicted[moved[0]])
        self.check(
            f"{mode.name.lower()}_member_down", self.send_flow_packets(packets, IN_PORT), predicted, keys
        )
        self.set_peer_link(self.DEAD, up=True)

    def runTest(self) -> None:
        self.run_mode(LbMode.ECMP, 30000)


class FlowletMemberDownAsPredicted(MemberDownAsPredicted):
    def runTest(self) -> None:
        self.run_mode(LbMode.FLOWLET, 34000)

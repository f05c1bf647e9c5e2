"""Flowlet switching: a flow keeps its member within a flowlet, may move after a gap."""

from __future__ import annotations

import time

from fixtures import one_group_state, udp_packet
from hpn.routing.state import LbMode, LbParams
from hpn_base import HpnTest

MEMBERS = [2, 3, 4, 5]


def idle(seconds: float) -> None:
    """Leave the flows idle: the gap itself is the stimulus under test, not a wait for state."""
    time.sleep(seconds)


class WithinGapStays(HpnTest):
    def runTest(self) -> None:
        self.program(
            one_group_state(self.nports, LbMode.FLOWLET, MEMBERS, lb=LbParams(flowlet_gap_us=5_000_000))
        )
        for flow in range(30):
            ports = self.send_flow_packets([udp_packet(sport=4000 + flow) for _ in range(6)])
            self.assertEqual(len(set(ports)), 1, f"flow {flow} split within a flowlet: {ports}")


class GapStartsNewFlowlet(HpnTest):
    """After an idle gap longer than the threshold a share of flows changes member."""

    def runTest(self) -> None:
        flows = [udp_packet(sport=5000 + i) for i in range(100)]
        self.program(
            one_group_state(self.nports, LbMode.FLOWLET, MEMBERS, lb=LbParams(flowlet_gap_us=20_000))
        )
        first = self.send_flow_packets(flows)
        idle(0.2)
        second = self.send_flow_packets(flows)
        moved = sum(a != b for a, b in zip(first, second, strict=True)) / len(flows)
        self.log_result("flowlet_moved_after_gap", moved)
        # Rehashing over 4 members moves ~75%; demand clearly more than none.
        self.assertGreater(moved, 0.4)


class GapThresholdFromController(HpnTest):
    """The same idle time is inside the flowlet with a long threshold, a boundary with a short one."""

    def runTest(self) -> None:
        flows = [udp_packet(sport=6000 + i) for i in range(60)]
        self.program(
            one_group_state(self.nports, LbMode.FLOWLET, MEMBERS, lb=LbParams(flowlet_gap_us=10_000_000))
        )
        first = self.send_flow_packets(flows)
        idle(0.2)
        second = self.send_flow_packets(flows)
        self.assertEqual(first, second, "0.2 s idle is inside a 10 s flowlet gap")
        self.program(one_group_state(self.nports, LbMode.FLOWLET, MEMBERS, lb=LbParams(flowlet_gap_us=1_000)))
        idle(0.2)
        third = self.send_flow_packets(flows)
        moved = sum(a != b for a, b in zip(second, third, strict=True)) / len(flows)
        self.assertGreater(moved, 0.4, "0.2 s idle is past a 1 ms flowlet gap")

"""ECMP: 5-tuple hash with a per-switch seed."""

from __future__ import annotations

from collections import Counter

from fixtures import one_group_state, udp_packet
from hpn.routing.state import LbMode, LbParams
from hpn_base import HpnTest

MEMBERS = [2, 3, 4, 5]


class SameFlowSameMember(HpnTest):
    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.ECMP, MEMBERS))
        for flow in range(20):
            ports = self.send_flow_packets([udp_packet(sport=20000 + flow) for _ in range(10)])
            self.assertEqual(len(set(ports)), 1, f"flow {flow} split over ports {ports}")


class ThousandFlowsBalanced(HpnTest):
    """1,000 flows over 4 members: every member within +-30% of the mean."""

    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.ECMP, MEMBERS))
        shares = Counter(self.send_flow_packets([udp_packet(sport=1000 + i) for i in range(1000)]))
        mean = 1000 / len(MEMBERS)
        self.log_result("ecmp_shares", dict(shares))
        for port in MEMBERS:
            self.assertLessEqual(abs(shares[port] - mean), 0.3 * mean, f"shares {dict(shares)}")


class SeedsSplitDifferently(HpnTest):
    """Two switches (seeds) map the same 300 flows to members differently."""

    def runTest(self) -> None:
        flows = [udp_packet(sport=3000 + i) for i in range(300)]
        self.program(one_group_state(self.nports, LbMode.ECMP, MEMBERS, lb=LbParams(hash_seed=1)))
        first = self.send_flow_packets(flows)
        self.program(one_group_state(self.nports, LbMode.ECMP, MEMBERS, lb=LbParams(hash_seed=2)))
        second = self.send_flow_packets(flows)
        self.program(one_group_state(self.nports, LbMode.ECMP, MEMBERS, lb=LbParams(hash_seed=1)))
        again = self.send_flow_packets(flows)
        self.assertEqual(first, again, "same seed must give the same split")
        moved = sum(a != b for a, b in zip(first, second, strict=True))
        self.log_result("ecmp_flows_moved_by_seed", moved / len(flows))
        # Independent hashes over 4 members move ~75% of flows.
        self.assertGreater(moved / len(flows), 0.5)

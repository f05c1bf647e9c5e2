"""ECMP: 5-tuple hash with a per-switch seed."""

from __future__ import annotations

from collections import Counter

from fixtures import one_group_state, udp_packet, udp_pairs_sharing_hash_bits
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
    """Two switches (seeds) map the same 300 flows to members differently; and flows
    whose hashes agree in half their bits are not kept together, or apart, on every
    switch, as a seed that enters the hash linearly would keep them (polarization)."""

    PAIRS = 80

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

        for half, mask in (("low", 0x0000FFFF), ("high", 0xFFFF0000)):
            pairs = udp_pairs_sharing_hash_bits(mask, self.PAIRS)
            packets = [udp_packet(sport=s, dport=d) for pair in pairs for s, d in pair]
            together = []
            for seed in (1, 2):
                self.program(one_group_state(self.nports, LbMode.ECMP, MEMBERS, lb=LbParams(hash_seed=seed)))
                ports = self.send_flow_packets(packets)
                together.append([ports[2 * i] == ports[2 * i + 1] for i in range(len(pairs))])
            flipped = sum(a != b for a, b in zip(*together, strict=True))
            self.log_result(f"ecmp_pairs_sharing_{half}_crc_half_flipped", flipped / len(pairs))
            # With independent choices per seed a pair's "same member" flips for about
            # 2 * 1/4 * 3/4 of pairs; a linear seed flips none.
            self.assertGreater(flipped, len(pairs) // 10, f"pairs sharing the {half} CRC half")


class MemberDownMovesOnlyItsFlows(HpnTest):
    """Resilient hashing: 1,000 flows; a member's port goes down (the switch's own watch
    port, no controller write); only the flows that were on it move, and they spread over
    the others. When it comes back, every flow is where it was."""

    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.ECMP, MEMBERS))
        flows = [udp_packet(sport=30000 + i) for i in range(1000)]
        before = self.send_flow_packets(flows)
        dead = 4
        on_dead = [i for i, p in enumerate(before) if p == dead]
        self.assertGreater(len(on_dead), 100)

        self.set_peer_link(dead, up=False)
        probe = flows[on_dead[0]]
        took = self.wait_until("member deactivated", lambda: self.try_receive(probe) not in (None, dead))
        after = self.send_flow_packets(flows)
        others_moved = sum(1 for b, a in zip(before, after, strict=True) if b != dead and a != b)
        self.log_result("ecmp_member_down_other_flows_moved", others_moved)
        self.log_result("ecmp_member_down_seconds_to_failover", round(took, 3))
        self.assertEqual(others_moved, 0, "flows on healthy members moved")
        self.assertNotIn(dead, after)
        spread = Counter(after[i] for i in on_dead)
        self.log_result("ecmp_dead_member_flows_went_to", dict(spread))
        self.assertEqual(set(spread), set(MEMBERS) - {dead}, f"dead member's flows went to {dict(spread)}")

        self.set_peer_link(dead, up=True)
        self.wait_until("member reactivated", lambda: self.try_receive(probe) == dead)
        self.assertEqual(self.send_flow_packets(flows), before)

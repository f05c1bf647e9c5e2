"""Per-packet spray: the packets of one flow spread over the members in exact shares."""

from __future__ import annotations

from collections import Counter

from fixtures import one_group_state, udp_packet
from hpn.pipeline.buckets import intact_layout
from hpn.routing.state import LbMode
from hpn_base import HpnTest

MEMBERS = [2, 3, 4, 5]


def cycle(members: list[int]) -> int:
    """Packets after which every half of every bucket had the same share: 2 per bucket
    (a bucket's visits alternate between its pair's members, load_balancing.p4)."""
    return 2 * len(intact_layout(members).pairs)


class OneFlowSpreadsExactly(HpnTest):
    """Any 2 x B consecutive packets of one flow: every member gets exactly its share."""

    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.SPRAY, MEMBERS))
        n = cycle(MEMBERS)
        seq = self.send_flow_packets([udp_packet(sport=7000) for _ in range(2 * n)])
        shares = Counter(seq[:n])
        self.log_result("spray_shares_one_cycle", dict(shares))
        self.assertEqual(shares, Counter({p: n // len(MEMBERS) for p in MEMBERS}))
        # a window that does not start at the counter's origin is exact too
        self.assertEqual(Counter(seq[n // 3 : n // 3 + n]), shares)


class TwoMembersAlternateEvenly(HpnTest):
    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.SPRAY, [2, 3]))
        seq = self.send_flow_packets([udp_packet(sport=7001) for _ in range(60)])
        self.log_result("spray_two_members", dict(Counter(seq)))
        self.assertEqual(Counter(seq), Counter({2: 30, 3: 30}))

"""Per-packet spray: consecutive packets of one flow rotate over the members."""

from __future__ import annotations

from collections import Counter

from fixtures import one_group_state, udp_packet
from hpn.routing.state import LbMode
from hpn_base import HpnTest

MEMBERS = [2, 3, 4, 5]


class ConsecutivePacketsRotate(HpnTest):
    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.SPRAY, MEMBERS))
        seq = [self.send_and_receive(udp_packet(sport=7000))[0] for _ in range(40)]
        # Round robin: every window of 4 consecutive packets covers all 4 members.
        for i in range(len(seq) - 3):
            self.assertEqual(sorted(seq[i : i + 4]), MEMBERS, f"window at {i}: {seq[i : i + 4]}")


class FourHundredPacketsEvenly(HpnTest):
    """400 packets of one flow: each member gets 25% +- 2%."""

    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.SPRAY, MEMBERS))
        shares = Counter(self.send_flow_packets([udp_packet(sport=7001) for _ in range(400)]))
        self.log_result("spray_shares", dict(shares))
        for port in MEMBERS:
            self.assertLessEqual(abs(shares[port] / 400 - 0.25), 0.02, f"shares {dict(shares)}")

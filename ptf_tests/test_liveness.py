"""Liveness: a member whose port is marked down is never chosen, in every mode."""

from __future__ import annotations

from collections import Counter

from fixtures import one_group_state, udp_packet
from hpn.routing.state import LbMode, LbParams
from hpn_base import HpnTest

MEMBERS = [2, 3, 4, 5]
DEAD = 4
ALL_PORTS = range(256)


class DeadMemberNeverChosen(HpnTest):
    def runTest(self) -> None:
        lb = LbParams(flowlet_gap_us=1_000, load_window_us=1_000)
        for mode in LbMode:
            with self.subTest(mode=mode.name):
                self.program(one_group_state(self.nports, mode, MEMBERS, lb=lb))
                flows = [udp_packet(sport=10000 + i) for i in range(120)]
                before = Counter(self.send_flow_packets(flows))
                self.assertGreater(before[DEAD], 0, f"{mode.name}: {DEAD} unused even when up")
                # Only the liveness entry changes: the group itself is not rewritten.
                report = self.program(
                    one_group_state(self.nports, mode, MEMBERS, lb=lb, live_ports=set(ALL_PORTS) - {DEAD})
                )
                self.assertEqual(report, {"inserted": 0, "modified": 1, "deleted": 0})
                after = Counter(self.send_flow_packets(flows))
                self.log_result(f"liveness_{mode.name}", dict(after))
                self.assertEqual(after[DEAD], 0, f"{mode.name}: dead port chosen {dict(after)}")
                self.assertEqual(set(after), set(MEMBERS) - {DEAD})

"""Dual-plane: a packet that arrives in plane p only leaves on plane-p ports."""

from __future__ import annotations

from collections import Counter

from ptf import testutils

from fixtures import DST_NET, switch_state, udp_packet
from hpn.pipeline.drop_reasons import DropReason
from hpn.routing.state import LbMode, LbParams
from hpn_base import HpnTest

PLANES = {0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 1, 6: 1, 7: 1}
PLANE_MEMBERS = {0: {2, 3}, 1: {6, 7}}
LB = LbParams(flowlet_gap_us=1_000, load_window_us=1_000)


def dual_plane_state(nports: int, mode: LbMode, live: set[int] | None = None) -> object:
    # The plane-0 group deliberately lists plane-1 ports too: the data plane must
    # still never use them for plane-0 packets.
    return switch_state(
        nports=nports,
        routes=[(0, DST_NET, 10), (1, DST_NET, 11)],
        groups=[(10, mode, {2, 3, 6, 7}), (11, mode, {6, 7})],
        planes=PLANES,
        lb=LB,
        live_ports=live,
    )


class PlaneIsolationEveryMode(HpnTest):
    def runTest(self) -> None:
        for mode in LbMode:
            with self.subTest(mode=mode.name):
                self.program(dual_plane_state(self.nports, mode))
                for ingress, plane in ((0, 0), (4, 1)):
                    flows = [udp_packet(sport=11000 + i) for i in range(80)]
                    ports = Counter(self.send_flow_packets(flows, in_port=ingress))
                    self.assertTrue(
                        set(ports) <= PLANE_MEMBERS[plane],
                        f"{mode.name}: plane {plane} packets left on {dict(ports)}",
                    )
                    self.assertEqual(set(ports), PLANE_MEMBERS[plane])


class AllPlaneMembersDownDropsNeverLeaks(HpnTest):
    def runTest(self) -> None:
        live = set(range(256)) - PLANE_MEMBERS[0]
        for mode in LbMode:
            with self.subTest(mode=mode.name):
                self.program(dual_plane_state(self.nports, mode, live=live))
                before = self.drop_count(DropReason.NO_LIVE_MEMBER)
                for i in range(20):
                    testutils.send_packet(self, 0, udp_packet(sport=12000 + i))
                testutils.verify_no_other_packets(self)
                self.assertEqual(self.drop_count(DropReason.NO_LIVE_MEMBER) - before, 20)
                # Plane 1 still works.
                ports = set(
                    self.send_flow_packets([udp_packet(sport=12100 + i) for i in range(10)], in_port=4)
                )
                self.assertTrue(ports <= PLANE_MEMBERS[1])

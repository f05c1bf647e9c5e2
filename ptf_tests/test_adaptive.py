"""Adaptive: a new flowlet whose port is congested (bytes sent in the load window above
the threshold) moves to the alternate bucket, whose members are other ports."""

from __future__ import annotations

from collections import Counter

from fixtures import DST_NET, switch_state, udp_packet
from hpn.routing.state import LbMode, LbParams
from hpn_base import HpnTest

MEMBERS = [2, 3, 4, 5]
LOADED = 3
LB = LbParams(flowlet_gap_us=10_000_000, load_window_us=30_000_000, congested_bytes=100_000)


def adaptive_state(nports: int) -> object:
    # DST_NET uses the adaptive group; 10.9.9.9/32 pins load onto port LOADED.
    return switch_state(
        nports=nports,
        routes=[(0, DST_NET, 1), (0, "10.9.9.9/32", 2)],
        groups=[(1, LbMode.ADAPTIVE, MEMBERS), (2, LbMode.ECMP, [LOADED])],
        lb=LB,
    )


class NewFlowletsAvoidLoadedMember(HpnTest):
    def runTest(self) -> None:
        self.program(adaptive_state(self.nports))
        # Load one member's egress: 200 x 1000-byte packets through it.
        ports = self.send_flow_packets([udp_packet(sport=i, dst="10.9.9.9", size=1000) for i in range(200)])
        self.assertEqual(set(ports), {LOADED})
        chosen = Counter(self.send_flow_packets([udp_packet(sport=8000 + i) for i in range(100)]))
        self.log_result("adaptive_with_loaded_member", dict(chosen))
        self.assertEqual(chosen[LOADED], 0, f"loaded member chosen: {dict(chosen)}")
        for port in set(MEMBERS) - {LOADED}:
            self.assertGreater(chosen[port], 10, f"new flowlets did not spread: {dict(chosen)}")


class UnloadedSpreadsLikeFlowlet(HpnTest):
    """With no port congested, new flowlets are hashed as in FLOWLET mode: every member
    takes a share (100 flowlets over 4: each within 10..45)."""

    def runTest(self) -> None:
        self.program(adaptive_state(self.nports))
        chosen = Counter(self.send_flow_packets([udp_packet(sport=9000 + i, size=500) for i in range(100)]))
        self.log_result("adaptive_unloaded", dict(chosen))
        for port in MEMBERS:
            self.assertTrue(10 <= chosen[port] <= 45, f"shares {dict(chosen)}")


class FlowletMovedOffCongestionStaysThere(HpnTest):
    """The packets after a moved flowlet's first one follow it: no reordering."""

    def runTest(self) -> None:
        self.program(adaptive_state(self.nports))
        self.send_flow_packets([udp_packet(sport=i, dst="10.9.9.9", size=1000) for i in range(200)])
        for flow in range(40):
            ports = self.send_flow_packets([udp_packet(sport=8500 + flow) for _ in range(5)])
            self.assertEqual(len(set(ports)), 1, f"flow {flow} split: {ports}")
            self.assertNotEqual(ports[0], LOADED)

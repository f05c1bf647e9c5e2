"""Routing and RoCEv2: LPM -> group -> port, MAC rewrite, TTL, checksum, drops."""

from __future__ import annotations

from ptf import testutils

from fixtures import (
    DST_IP,
    DST_NET,
    one_group_state,
    roce_packet,
    routed,
    switch_state,
    tcp_packet,
    udp_packet,
)
from hpn.pipeline.drop_reasons import DropReason
from hpn.routing.state import LbMode
from hpn_base import HpnTest


class ForwardTcpUdpRoce(HpnTest):
    """TCP, UDP and RoCEv2 are routed to the group's port, rewritten, TTL-1, checksum valid."""

    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.ECMP, [2]))
        roce = roce_packet(0x1234)
        for pkt in (tcp_packet(), udp_packet(), roce):
            testutils.send_packet(self, 0, pkt)
            testutils.verify_packet(self, routed(pkt, 2), 2)
        testutils.verify_no_other_packets(self)


class LongestPrefixWins(HpnTest):
    def runTest(self) -> None:
        self.program(
            switch_state(
                nports=self.nports,
                routes=[(0, "10.1.0.0/16", 1), (0, DST_NET, 2)],
                groups=[(1, LbMode.ECMP, [1]), (2, LbMode.ECMP, [3])],
            )
        )
        inside = udp_packet(dst=DST_IP)
        outside = udp_packet(dst="10.1.7.7")
        testutils.send_packet(self, 0, inside)
        testutils.verify_packet(self, routed(inside, 3), 3)
        testutils.send_packet(self, 0, outside)
        testutils.verify_packet(self, routed(outside, 1), 1)
        testutils.verify_no_other_packets(self)


class TtlExpiredDroppedAndCounted(HpnTest):
    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.ECMP, [2]))
        before = self.drop_count(DropReason.TTL_EXPIRED)
        for ttl in (0, 1):
            testutils.send_packet(self, 0, udp_packet(ttl=ttl))
        # TTL 2 still goes through (leaves with TTL 1): the boundary is exact.
        ok = udp_packet(ttl=2)
        testutils.send_packet(self, 0, ok)
        testutils.verify_packet(self, routed(ok, 2), 2)
        testutils.verify_no_other_packets(self)
        self.assert_dropped_since(DropReason.TTL_EXPIRED, before, 2)


class NoRouteDroppedAndCounted(HpnTest):
    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.ECMP, [2]))
        before = self.drop_count(DropReason.NO_ROUTE)
        testutils.send_packet(self, 0, udp_packet(dst="192.168.1.1"))
        testutils.send_packet(self, 0, tcp_packet(dst="172.16.0.1"))
        testutils.verify_no_other_packets(self)
        self.assert_dropped_since(DropReason.NO_ROUTE, before, 2)


class RoceQpInHash(HpnTest):
    """RoCEv2 packets differing only in the BTH destination QP spread over members."""

    def runTest(self) -> None:
        members = [2, 3, 4, 5]
        self.program(one_group_state(self.nports, LbMode.ECMP, members))
        ports = set()
        for qp in range(64):
            pkt = roce_packet(qp, payload=b"x")
            testutils.send_packet(self, 0, pkt)
            port, _ = self.receive_one()
            ports.add(port)
            self.assertIn(port, members)
        # Same 5-tuple, 64 QPs: without the QP in the hash all would share one port.
        self.assertGreaterEqual(len(ports), 3, f"QPs only reached ports {sorted(ports)}")

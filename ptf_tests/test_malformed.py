"""Malformed input: each case has its documented outcome (drop + count, or forward unchanged)."""

from __future__ import annotations

from ptf import testutils
from scapy.layers.inet import IP, UDP, IPOption_NOP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from fixtures import DST_IP, SENDER_MAC, SWITCH_MAC, one_group_state, routed, udp_packet
from hpn.pipeline.drop_reasons import DropReason
from hpn.routing.state import LbMode
from hpn.telemetry.codec import IntShim
from hpn.telemetry.packets import int_udp_packet
from hpn_base import HpnTest


class MalformedTest(HpnTest):
    def setUp(self) -> None:
        super().setUp()
        self.program(one_group_state(self.nports, LbMode.ECMP, [2]))

    def assert_dropped(self, reason: DropReason, *pkts: bytes) -> None:
        before = self.drop_count(reason)
        for pkt in pkts:
            testutils.send_packet(self, 0, pkt)
        testutils.verify_no_other_packets(self)
        self.assertEqual(self.drop_count(reason) - before, len(pkts), reason.name)


class TruncatedHeaders(MalformedTest):
    def runTest(self) -> None:
        full = bytes(udp_packet())
        # Cut inside the IPv4 header and inside the UDP header; pad to a legal frame
        # length with nothing after the cut (bmv2 sees exactly these bytes).
        self.assert_dropped(DropReason.PARSER_ERROR, full[: 14 + 10], full[: 14 + 20 + 4])


class NonIpFrames(MalformedTest):
    def runTest(self) -> None:
        arp = Ether(src=SENDER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=DST_IP)
        v6 = Ether(src=SENDER_MAC, dst=SWITCH_MAC) / IPv6(dst="2001:db8::1") / UDP() / Raw(b"x" * 20)
        self.assert_dropped(DropReason.NOT_IPV4, bytes(arp), bytes(v6))


class Ipv4OptionsDropped(MalformedTest):
    def runTest(self) -> None:
        pkt = Ether(src=SENDER_MAC, dst=SWITCH_MAC) / IP(dst=DST_IP, options=[IPOption_NOP()] * 4) / UDP()
        self.assertEqual(IP(bytes(pkt[IP])).ihl, 6)
        self.assert_dropped(DropReason.IPV4_OPTIONS, bytes(pkt))


class BadIpv4ChecksumDropped(MalformedTest):
    def runTest(self) -> None:
        pkt = udp_packet()
        pkt[IP].chksum = 0xBAD
        self.assert_dropped(DropReason.IPV4_CHECKSUM, bytes(pkt))


class BogusIntHopCountForwardedUntouched(MalformedTest):
    """A shim claiming 9 hops (or an unknown version) is forwarded with the INT bytes unchanged."""

    def runTest(self) -> None:
        for shim in (IntShim(nhop=9), IntShim(version=2, nhop=1)):
            with self.subTest(shim=shim):
                payload = b"\x11" * 48
                pkt = int_udp_packet(
                    "10.0.0.1",
                    DST_IP,
                    1000,
                    2000,
                    payload,
                    int_bytes=shim.encode(),
                    eth_src=SENDER_MAC,
                    eth_dst=SWITCH_MAC,
                )
                before = self.drop_count(DropReason.INT_MALFORMED)
                testutils.send_packet(self, 0, pkt)
                testutils.verify_packet(self, routed(pkt, 2), 2)
                testutils.verify_no_other_packets(self)
                self.assertEqual(self.drop_count(DropReason.INT_MALFORMED) - before, 1)

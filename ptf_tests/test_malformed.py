"""Malformed input: each case has its documented outcome (drop + count, or forward unchanged)."""

from __future__ import annotations

from ptf import testutils
from scapy.layers.inet import IP, UDP, IPOption_NOP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from fixtures import DST_IP, SENDER_MAC, SRC_IP, SWITCH_MAC, one_group_state, routed, udp_packet
from hpn.pipeline.drop_reasons import DropReason
from hpn.routing.state import LbMode
from hpn.telemetry.codec import STACK_BYTES, Bth, IntStack
from hpn.telemetry.packets import rocev2_packet
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
        self.assert_dropped_since(reason, before, len(pkts))


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
        # Options decide before the checksum: a checksum over 20 of the 24 bytes, as a
        # switch that ignores ihl would verify, changes nothing.
        bad = pkt.copy()
        bad[IP].chksum = 0xBAD
        self.assert_dropped(DropReason.IPV4_OPTIONS, bytes(pkt), bytes(bad))


class BadIpv4ChecksumDropped(MalformedTest):
    def runTest(self) -> None:
        pkt = udp_packet()
        pkt[IP].chksum = 0xBAD
        self.assert_dropped(DropReason.IPV4_CHECKSUM, bytes(pkt))


class Ipv4LengthDisagreeingWithFrameDropped(MalformedTest):
    """Total length longer than the frame (truncated), or shorter than a frame longer
    than Ethernet's 60-byte minimum (trailing bytes): dropped and counted."""

    def runTest(self) -> None:
        good = udp_packet(size=100)
        too_long = good.copy()
        too_long[IP].len = 100 - 14 + 20
        too_short = good.copy()
        too_short[IP].len = 100 - 14 - 10
        self.assert_dropped(DropReason.IPV4_LENGTH, bytes(too_long), bytes(too_short))


class ShortPacketPaddedToMinimumFrameForwarded(MalformedTest):
    """A 42-byte IPv4/UDP packet padded to the 60-byte minimum frame is legal."""

    def runTest(self) -> None:
        pkt = Ether(src=SENDER_MAC, dst=SWITCH_MAC) / IP(dst=DST_IP) / UDP(sport=1, dport=2)
        padded = Ether(bytes(pkt) + b"\x00" * (60 - len(pkt)))
        self.assertEqual(len(bytes(padded)), 60)
        testutils.send_packet(self, 0, padded)
        testutils.verify_packet(self, routed(padded, 2), 2)
        testutils.verify_no_other_packets(self)


class TruncatedIntStackDropped(MalformedTest):
    """A RoCEv2 packet marked for INT whose 42-byte stack is cut short: a parser error
    on both targets, whether the IPv4 and UDP lengths still claim the whole stack or
    were fitted to the short packet (docs/int.md)."""

    def runTest(self) -> None:
        full = bytes(
            rocev2_packet(
                SRC_IP,
                DST_IP,
                49152,
                b"",
                bth=Bth(dest_qp=7, psn=1),
                stack=IntStack.from_hops([]),
                eth_src=SENDER_MAC,
                eth_dst=SWITCH_MAC,
                udp_checksum=False,
            )
        )
        cut = len(full) - STACK_BYTES + 30  # 30 of the stack's 42 bytes
        claims_whole = full[:cut]
        fitted = Ether(claims_whole)
        fitted[IP].len = cut - 14
        fitted[UDP].len = cut - 14 - 20
        del fitted[IP].chksum
        self.assertEqual(len(bytes(fitted)), cut)
        self.assert_dropped(DropReason.PARSER_ERROR, claims_whole, bytes(fitted))

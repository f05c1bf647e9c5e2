"""The CPU path: packet-outs leave by the port they name, bypassing routing and the
plane check; LLDP and the link probe reach the controller with their ingress port, at
most PUNT_PER_WINDOW per port per window; the ToR answers ARP for the hosts' gateway;
data traffic never reaches the CPU."""

from __future__ import annotations

import dataclasses
import time

from ptf import testutils
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from fixtures import (
    DST_IP,
    SENDER_MAC,
    SWITCH_MAC,
    one_group_state,
    roce_packet,
    tcp_packet,
    udp_packet,
)
from hpn.params import GATEWAY_IP, LLDP_ETHERTYPE, PROBE_ETHERTYPE
from hpn.pipeline import names
from hpn.pipeline.drop_reasons import DropReason
from hpn.routing.state import LbMode
from hpn_base import HpnTest

PUNT_PER_WINDOW = 16  # p4src/shared/sizes.p4 (tests/test_constants_agree.py binds the two)
PUNT_WINDOW_S = (1 << 14) / 1e6  # p4src/v1model/control/cpu.p4: 2^14 us


def l2_frame(ethertype: int, tag: bytes, src: str = "02:00:00:00:bb:01") -> bytes:
    """A non-IP frame of `ethertype` whose payload names it (`tag`), 60 bytes at least."""
    frame = bytes(Ether(src=src, dst="01:80:c2:00:00:0e", type=ethertype) / Raw(tag))
    return frame + b"\x00" * max(0, 60 - len(frame))


class CpuPathTest(HpnTest):
    def setUp(self) -> None:
        super().setUp()
        state = one_group_state(self.nports, LbMode.ECMP, [2, 3])
        self.program(dataclasses.replace(state, gateway_ips=(GATEWAY_IP,)))
        self.control.drain_packet_ins()

    def packet_in(self) -> tuple[int, bytes]:
        got = self.control.next_packet_in()
        if got is None:
            self.fail("no packet-in within 3 s")
        return got


class PacketOutLeavesByTheNamedPort(CpuPathTest):
    """Any frame, to any port: a probe, and an IPv4 packet to a port that routing would
    never choose for it (not a member of its group) and that has no plane."""

    def runTest(self) -> None:
        state = one_group_state(self.nports, LbMode.ECMP, [2, 3], without_ports=(5,))
        self.program(dataclasses.replace(state, gateway_ips=(GATEWAY_IP,)))
        for port in (0, 1, 4):
            probe = l2_frame(PROBE_ETHERTYPE, f"probe out of {port}".encode())
            self.control.packet_out(probe, port)
            testutils.verify_packet(self, probe, port)
            testutils.verify_no_other_packets(self)
        data = bytes(udp_packet(sport=777))
        self.control.packet_out(data, 5)
        testutils.verify_packet(self, data, 5)  # unchanged: no MAC rewrite, no TTL decrement
        testutils.verify_no_other_packets(self)


class PuntedFramesCarryTheirIngressPort(CpuPathTest):
    def runTest(self) -> None:
        sent = []
        for port in (0, 1, 3):
            for ethertype in (LLDP_ETHERTYPE, PROBE_ETHERTYPE):
                frame = l2_frame(ethertype, f"{ethertype:#x} in at {port}".encode())
                testutils.send_packet(self, port, frame)
                sent.append((port, frame))
        got = [self.packet_in() for _ in sent]
        # bmv2 reads each port on its own thread: order holds per port, not across ports
        per_port = {port: [f for p, f in got if p == port] for port, _ in sent}
        self.assertEqual(per_port, {port: [f for p, f in sent if p == port] for port, _ in sent})
        testutils.verify_no_other_packets(self)


class DataTrafficNeverReachesTheCpu(CpuPathTest):
    """Routed, unroutable and malformed IPv4, IPv6 and other ethertypes: none is punted
    (ARP, which a ToR does punt, is tested below). A probe sent after them on the same
    port is the first packet-in (one port's frames keep their order), so nothing before
    it was punted."""

    def runTest(self) -> None:
        other = dict(src=SENDER_MAC, dst=SWITCH_MAC)
        frames = [
            bytes(udp_packet()),
            bytes(tcp_packet()),
            bytes(roce_packet(0x12)),
            bytes(udp_packet(dst="192.0.2.1")),  # no route
            bytes(udp_packet(ttl=1)),
            bytes(Ether(**other) / IPv6(dst="2001:db8::1") / UDP() / Raw(b"x" * 20)),
            l2_frame(0x8809, b"slow protocols"),
        ]
        for frame in frames:
            testutils.send_packet(self, 0, frame)
        marker = l2_frame(PROBE_ETHERTYPE, b"marker")
        testutils.send_packet(self, 0, marker)
        self.assertEqual(self.packet_in(), (0, marker))
        self.assertIsNone(self.control.next_packet_in(timeout=0.2), "a second packet-in")


def arp_frame(op: int, dst: str, pdst: str, host_mac: str = "02:00:00:00:aa:07") -> bytes:
    """An ARP frame from a host (10.0.0.7), padded to 60 bytes."""
    frame = bytes(Ether(src=host_mac, dst=dst) / ARP(op=op, hwsrc=host_mac, psrc="10.0.0.7", pdst=pdst))
    return frame + b"\x00" * (60 - len(frame))


class GatewayArpIsAnswered(CpuPathTest):
    """A host asking for its gateway (169.254.0.1) gets the ToR's MAC back on its own
    port, and the controller does not see the request."""

    def runTest(self) -> None:
        host_mac, host_ip = "02:00:00:00:aa:07", "10.0.0.7"
        port, reply = self.send_and_receive(arp_frame(1, "ff:ff:ff:ff:ff:ff", GATEWAY_IP), in_port=3)
        self.assertEqual(port, 3, "the answer leaves by the port the request came in")
        answer = Ether(reply)
        self.assertEqual((answer.src, answer.dst), (SWITCH_MAC, host_mac))
        arp = answer[ARP]
        self.assertEqual(arp.op, 2)
        self.assertEqual((arp.hwsrc, arp.psrc), (SWITCH_MAC, GATEWAY_IP))
        self.assertEqual((arp.hwdst, arp.pdst), (host_mac, host_ip))
        testutils.verify_no_other_packets(self)
        self.assertIsNone(self.control.next_packet_in(timeout=0.2), "the gateway request was punted")


class OtherArpReachesTheControllerOnAToR(CpuPathTest):
    """On a switch with gateway addresses (a ToR), ARP its gateway entry does not answer
    (a host's reply to the controller's host probe, a request for another address)
    reaches the controller with its ingress port: that is how it sees which NIC is on
    which port."""

    def runTest(self) -> None:
        reply = arp_frame(2, SWITCH_MAC, GATEWAY_IP)
        testutils.send_packet(self, 3, reply)
        self.assertEqual(self.packet_in(), (3, reply))
        other = arp_frame(1, "ff:ff:ff:ff:ff:ff", DST_IP)
        testutils.send_packet(self, 2, other)
        self.assertEqual(self.packet_in(), (2, other))
        testutils.verify_no_other_packets(self)


class ArpIsDroppedWhereNoHostIs(HpnTest):
    """A switch without gateway addresses (an agg) punts no ARP: every ARP frame is
    dropped and counted as not IPv4."""

    def setUp(self) -> None:
        super().setUp()
        self.program(one_group_state(self.nports, LbMode.ECMP, [2, 3]))
        self.control.drain_packet_ins()

    def runTest(self) -> None:
        before = self.drop_count(DropReason.NOT_IPV4)
        for frame in (
            arp_frame(1, "ff:ff:ff:ff:ff:ff", GATEWAY_IP),
            arp_frame(1, "ff:ff:ff:ff:ff:ff", DST_IP),
            arp_frame(2, SWITCH_MAC, GATEWAY_IP),
        ):
            testutils.send_packet(self, 3, frame)
        testutils.verify_no_other_packets(self)
        self.assert_dropped_since(DropReason.NOT_IPV4, before, 3)
        self.assertIsNone(self.control.next_packet_in(timeout=0.2), "ARP reached the controller")


class PuntFloodIsBoundedPerPort(CpuPathTest):
    """A port flooding LLDP gets at most PUNT_PER_WINDOW frames a window to the CPU; every
    other frame the switch took from it is dropped and counted, none lost uncounted; a
    probe from another port still reaches the controller. (What the switch took is its
    own port_rx count: a frame the test's sockets lose on a busy machine never came in.)"""

    SENT = 200

    def runTest(self) -> None:
        before = self.drop_count(DropReason.PUNT_LIMIT)
        rx_before = self.counter(names.PORT_RX_COUNTER, 1)[0]
        frames = [l2_frame(LLDP_ETHERTYPE, f"flood {i}".encode()) for i in range(self.SENT)]
        marker = l2_frame(PROBE_ETHERTYPE, b"other port")
        started = time.monotonic()
        for frame in frames:
            testutils.send_packet(self, 1, frame)
        testutils.send_packet(self, 2, marker)
        sent_in = time.monotonic() - started
        got: list[tuple[int, bytes]] = []
        counts = {"taken": 0, "dropped": 0}

        def all_accounted_for() -> bool:
            while (packet := self.control.next_packet_in(timeout=0.05)) is not None:
                got.append(packet)
            counts["taken"] = self.counter(names.PORT_RX_COUNTER, 1)[0] - rx_before
            counts["dropped"] = self.drop_count(DropReason.PUNT_LIMIT) - before
            flood = sum(1 for port, _ in got if port == 1)
            return (2, marker) in got and flood + counts["dropped"] == counts["taken"]

        self.wait_until("every flood frame the switch took punted or counted", all_accounted_for)
        # The switch took the flood in at most this long (it may lag the sender).
        taken_in = time.monotonic() - started
        punted = [frame for port, frame in got if port == 1]
        self.assertEqual([p for p in got if p[0] != 1], [(2, marker)], "the other port's probe, once")
        windows = taken_in / PUNT_WINDOW_S + 2  # the windows the flood can have touched
        self.log_result("punt_flood", {"sent": self.SENT, **counts, "punted": len(punted)})
        self.assertGreater(counts["taken"], 2 * PUNT_PER_WINDOW, "the flood reached the switch")
        self.assertGreaterEqual(len(punted), PUNT_PER_WINDOW)
        self.assertLessEqual(
            len(punted), PUNT_PER_WINDOW * windows, f"sent in {sent_in:.3f} s, taken in {taken_in:.3f} s"
        )

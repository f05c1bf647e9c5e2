"""INT for HPCC: one record per hop, hop count, txBytes, qlen, timestamps, overflow, lengths."""

from __future__ import annotations

from ptf import testutils
from scapy.layers.l2 import Ether

from fixtures import DST_IP, SENDER_MAC, SWITCH_MAC, one_group_state, udp_packet
from hpn.routing.state import LbMode
from hpn.telemetry.codec import MAX_HOPS, timestamp_delta, tx_bytes_delta
from hpn.telemetry.packets import (
    ROCEV2_UDP_PORT,
    Bth,
    decode_int_packet,
    int_udp_packet,
    validate_lengths_and_checksums,
)
from hpn_base import HpnTest

OUT = 2
APP = b"hpcc-probe-payload-" + bytes(range(32))


def probe(
    sport: int = 20000, *, udp_checksum: bool = True, bth: Bth | None = None, dport: int = 30000
) -> bytes:
    return bytes(
        int_udp_packet(
            "10.0.0.1",
            DST_IP,
            sport,
            dport,
            APP,
            bth=bth,
            eth_src=SENDER_MAC,
            eth_dst=SWITCH_MAC,
            udp_checksum=udp_checksum,
        )
    )


class IntTest(HpnTest):
    def setUp(self) -> None:
        super().setUp()
        self.program(one_group_state(self.nports, LbMode.ECMP, [OUT], speed_gbps=400))

    def hop(self, frame: bytes, in_port: int = 0) -> bytes:
        """Send `frame` through the switch once (one hop) and return what comes out."""
        port, out = self.send_and_receive(frame, in_port=in_port)
        self.assertEqual(port, OUT)
        problems = validate_lengths_and_checksums(out)
        self.assertEqual(problems, [], f"after a hop: {problems}")
        return out

    def rehop(self, frame: bytes) -> bytes:
        """Feed a forwarded frame back in as if the next switch received it."""
        pkt = Ether(frame)
        pkt[Ether].src, pkt[Ether].dst = SENDER_MAC, SWITCH_MAC
        return self.hop(bytes(pkt), in_port=1)


class OneRecordPerHop(IntTest):
    def runTest(self) -> None:
        for checksum in (True, False):
            with self.subTest(udp_checksum=checksum):
                out = self.hop(probe(udp_checksum=checksum))
                stack, app = decode_int_packet(out)
                self.assertEqual(stack.nhop, 1)
                self.assertEqual(len(stack.hops), 1)
                self.assertFalse(stack.overflow)
                self.assertEqual(stack.hops[0].link_rate_gbps, 400)
                self.assertEqual(app, APP)


class FiveHopsThenOverflow(IntTest):
    """Hops 1..5 append in order; the sixth sets overflow and leaves the packet intact."""

    def runTest(self) -> None:
        frame = self.hop(probe())
        for n in range(2, MAX_HOPS + 1):
            frame = self.rehop(frame)
            stack, app = decode_int_packet(frame)
            self.assertEqual(stack.nhop, n)
            self.assertEqual(app, APP)
        stack5, _ = decode_int_packet(frame)
        for a, b in zip(stack5.hops, stack5.hops[1:], strict=False):
            self.assertGreaterEqual(timestamp_delta(a, b), 0)
            self.assertLess(timestamp_delta(a, b), 1 << 23, "timestamps must advance hop by hop")
        sixth = self.rehop(frame)
        stack6, app6 = decode_int_packet(sixth)
        self.assertTrue(stack6.overflow)
        self.assertEqual(stack6.nhop, MAX_HOPS)
        self.assertEqual(stack6.hops, stack5.hops)
        self.assertEqual(app6, APP)
        self.assertEqual(len(sixth), len(frame), "overflow must not grow the packet")


class TxBytesCountsPortTraffic(IntTest):
    """Between two probes, tx_bytes grows by the bytes sent on the port (128-byte units)."""

    def runTest(self) -> None:
        first = self.hop(probe(sport=20001))
        filler = [udp_packet(sport=21000 + i, size=300) for i in range(40)]
        self.send_flow_packets(filler)
        second_in = probe(sport=20002)
        second = self.hop(second_in)
        a = decode_int_packet(first)[0].hops[0]
        b = decode_int_packet(second)[0].hops[0]
        expected = 40 * 300 + len(second_in)
        measured = tx_bytes_delta(a, b)
        self.log_result("int_tx_bytes", {"expected": expected, "measured": measured})
        self.assertLessEqual(abs(measured - expected), 128, f"measured {measured}, expected {expected}")


class QueueLengthRises(IntTest):
    """With the egress port slowed, later probes of a burst see a longer queue."""

    def runTest(self) -> None:
        self.set_queue(OUT, rate_pps=50, depth=1000)
        try:
            for i in range(60):
                testutils.send_packet(self, 0, probe(sport=22000 + i))
            self.set_queue(OUT, rate_pps=100_000)
            frames = self.receive_n(60, timeout=20)
        finally:
            self.set_queue(OUT, rate_pps=100_000)
        qlens = [decode_int_packet(f)[0].hops[0].qlen for _, f in frames]
        self.log_result("int_qlen", {"first": qlens[:5], "max": max(qlens)})
        self.assertGreaterEqual(max(qlens), 20, f"queue never built: {qlens}")
        self.assertLess(qlens[0], max(qlens))


class RoceWithInt(IntTest):
    """RoCEv2 probes: the BTH after the records is intact and the UDP checksum 0 stays 0."""

    def runTest(self) -> None:
        out = self.hop(probe(dport=ROCEV2_UDP_PORT, udp_checksum=False, bth=Bth(dest_qp=0xABCDE, psn=7)))
        stack, rest = decode_int_packet(out)
        self.assertEqual(stack.nhop, 1)
        bth = Bth.decode(rest)
        self.assertEqual((bth.dest_qp, bth.psn), (0xABCDE, 7))
        self.assertEqual(rest[12:], APP)

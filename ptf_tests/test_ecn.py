"""ECN: RED marking on egress queue depth with per-port Kmin/Kmax/Pmax. The depth is the
bytes still queued at the port as the packet leaves, in 80-byte cells: the same value the
packet's own INT slot reports, which is how the test reads it."""

from __future__ import annotations

import math

from ptf import testutils
from scapy.layers.inet import IP
from scapy.layers.l2 import Ether

from fixtures import DST_IP, SENDER_MAC, SRC_IP, SWITCH_MAC, one_group_state
from hpn.routing.state import EcnConfig, LbMode
from hpn.telemetry.codec import IntStack
from hpn.telemetry.packets import decode_int_packet, rocev2_packet
from hpn_base import HpnTest

OUT = 2
KMIN, KMAX, PMAX = 10, 70, 0.5
NOT_ECT, ECT1, ECT0, CE = 0, 1, 2, 3


class EcnTest(HpnTest):
    """Builds a queue on OUT and reads, per packet, the depth it saw (from its INT record)."""

    def setUp(self) -> None:
        super().setUp()
        ecn = {OUT: EcnConfig(kmin=KMIN, kmax=KMAX, pmax=PMAX)}
        self.program(one_group_state(self.nports, LbMode.ECMP, [OUT], ecn=ecn))

    def burst(self, count: int, ecn_bits: list[int]) -> list[tuple[int, int, int]]:
        """(sent ECN, depth seen, received ECN) for a burst into the slowed port."""
        self.set_queue(OUT, rate_pps=20, depth=2000)
        try:
            for i in range(count):
                frame = rocev2_packet(
                    SRC_IP,
                    DST_IP,
                    23000 + i,
                    b"e" * 64,
                    stack=IntStack.from_hops([]),
                    ecn=ecn_bits[i % len(ecn_bits)],
                    eth_src=SENDER_MAC,
                    eth_dst=SWITCH_MAC,
                    ip_id=i,
                )
                testutils.send_packet(self, 0, frame)
            self.set_queue(OUT, rate_pps=100_000)
            frames = self.receive_n(count, timeout=30)
        finally:
            self.set_queue(OUT, rate_pps=100_000)
        out = []
        for _, f in frames:
            ip = Ether(f)[IP]
            sent = ecn_bits[ip.id % len(ecn_bits)]
            out.append((sent, decode_int_packet(f).stack.slots[0].qlen, ip.tos & 3))
        return out


class RedMarkingProfile(EcnTest):
    """<= Kmin never, >= Kmax always, in between a measured rate matching Pmax's line."""

    def runTest(self) -> None:
        samples: list[tuple[int, int, int]] = []
        for _ in range(3):
            samples += self.burst(120, [ECT0, ECT1])
        below = [s for s in samples if s[1] <= KMIN]
        above = [s for s in samples if s[1] >= KMAX]
        between = [s for s in samples if KMIN < s[1] < KMAX]
        self.assertTrue(below and above and between, f"depths not spread: {sorted({s[1] for s in samples})}")
        self.assertTrue(all(s[2] == s[0] for s in below), "marked below Kmin")
        self.assertTrue(all(s[2] == CE for s in above), "unmarked above Kmax")
        expected = sum(PMAX * (d - KMIN) / (KMAX - KMIN) for _, d, _ in between)
        variance = sum((p := PMAX * (d - KMIN) / (KMAX - KMIN)) * (1 - p) for _, d, _ in between)
        marked = sum(s[2] == CE for s in between)
        self.log_result(
            "ecn_between", {"samples": len(between), "marked": marked, "expected": round(expected, 1)}
        )
        self.assertLessEqual(abs(marked - expected), 4 * math.sqrt(variance) + 1)
        self.assertTrue(all(s[2] in (s[0], CE) for s in between))


class NotEctNeverMarkedCeKept(EcnTest):
    def runTest(self) -> None:
        samples = self.burst(120, [NOT_ECT, CE])
        self.assertTrue(any(d >= KMAX for _, d, _ in samples), "queue did not pass Kmax")
        for sent, depth, got in samples:
            self.assertEqual(got, sent, f"ECN {sent} at depth {depth} became {got}")

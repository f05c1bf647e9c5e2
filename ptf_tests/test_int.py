"""INT for HPCC: the reference's 42-byte stack after the BTH, filled in place hop by hop,
every field checked against a queue the test builds with bmv2's queue-rate controls."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import time

from ptf import testutils
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from fixtures import (
    DST_IP,
    DST_NET,
    SENDER_MAC,
    SRC_IP,
    SWITCH_MAC,
    one_group_state,
    routed,
    switch_state,
    udp_packet,
)
from hpn.pipeline import names
from hpn.routing.state import LbMode
from hpn.telemetry.codec import (
    MAX_HOPS,
    QLEN_UNIT,
    STACK_BYTES,
    TX_BYTES_UNIT,
    Bth,
    IntHop,
    IntStack,
    link_rate_index,
    timestamp_delta,
    tx_bytes_delta,
    unwrap_step_ns,
)
from hpn.telemetry.packets import (
    decode_int_packet,
    decode_rocev2_packet,
    rocev2_packet,
    validate_lengths_and_checksums,
)
from hpn_base import HpnTest

OUT = 2
GBPS = 200
APP = b"hpcc-data-" + bytes(range(40))


def int_frame(
    sport: int = 49152,
    *,
    stack: IntStack | None = None,
    udp_checksum: bool = True,
    size: int = 0,
    ip_id: int = 1,
) -> bytes:
    payload = APP + b"\x00" * max(0, size - 14 - 20 - 8 - 12 - STACK_BYTES - len(APP))
    return bytes(
        rocev2_packet(
            SRC_IP,
            DST_IP,
            sport,
            payload,
            bth=Bth(dest_qp=0x1234, psn=7),
            stack=stack if stack is not None else IntStack.from_hops([]),
            eth_src=SENDER_MAC,
            eth_dst=SWITCH_MAC,
            udp_checksum=udp_checksum,
            ip_id=ip_id,
        )
    )


class IntTest(HpnTest):
    def setUp(self) -> None:
        super().setUp()
        self.program(one_group_state(self.nports, LbMode.ECMP, [OUT], speed_gbps=GBPS))

    def hop(self, frame: bytes, in_port: int = 0) -> bytes:
        """Send `frame` through the switch once (one hop) and return what comes out."""
        port, out = self.send_and_receive(frame, in_port=in_port)
        self.assertEqual(port, OUT)
        self.assertEqual(len(out), len(frame), "the stack is filled in place: no growth")
        problems = validate_lengths_and_checksums(out)
        self.assertEqual(problems, [], f"after a hop: {problems}")
        return out

    def rehop(self, frame: bytes) -> bytes:
        """Feed a forwarded frame back in as if the next switch received it."""
        pkt = Ether(frame)
        pkt[Ether].src, pkt[Ether].dst = SENDER_MAC, SWITCH_MAC
        return self.hop(bytes(pkt), in_port=1)


class OneHopFillsSlotZero(IntTest):
    def runTest(self) -> None:
        for checksum in (True, False):
            with self.subTest(udp_checksum=checksum):
                out = self.hop(int_frame(udp_checksum=checksum))
                got = decode_int_packet(out)
                self.assertEqual(got.stack.nhop, 1)
                self.assertEqual(got.stack.slots[0].link_rate_index, link_rate_index(GBPS))
                self.assertEqual(
                    got.stack.slots[1:], IntStack.from_hops([]).slots[1:], "other slots untouched"
                )
                self.assertEqual((got.bth.dest_qp, got.bth.psn), (0x1234, 7), "BTH intact")
                self.assertEqual(got.rest, APP)
                if not checksum:
                    self.assertEqual(Ether(out)["UDP"].chksum, 0, "a zero UDP checksum stays zero")


class SlotsFillInOrderThenWrapLikeTheReference(IntTest):
    """Hops 1..5 fill slots 0..4; hop 6 overwrites slot 0 and nhop keeps counting
    (IntHeader::PushHop); nothing else changes and the packet never grows."""

    def runTest(self) -> None:
        frame = int_frame()
        previous = decode_int_packet(frame).stack
        for n in range(1, MAX_HOPS + 2):
            frame = self.hop(frame) if n == 1 else self.rehop(frame)
            stack = decode_int_packet(frame).stack
            self.assertEqual(stack.nhop, n)
            written = (n - 1) % MAX_HOPS
            for slot in range(MAX_HOPS):
                if slot != written:
                    self.assertEqual(stack.slots[slot], previous.slots[slot], f"hop {n} touched slot {slot}")
            self.assertNotEqual(stack.slots[written], previous.slots[written])
            previous = stack
        self.assertTrue(previous.overflowed)
        self.assertEqual(decode_int_packet(frame).rest, APP)


class SlotIsNhopModFiveForEveryCount(IntTest):
    """The slot a hop writes is nhop mod 5 for every 16-bit nhop, also where the two
    bytes of nhop add up to 320 or more (the residue is computed from hi + lo)."""

    COUNTS = (0x00FF, 0x0140, 0x3F3F, 0xFF41, 0xC8C8, 0xFFFE, 0x01FF)

    def runTest(self) -> None:
        empty = IntStack.from_hops([])
        for nhop in self.COUNTS:
            with self.subTest(nhop=nhop, byte_sum=(nhop >> 8) + (nhop & 0xFF)):
                frame = int_frame(stack=IntStack(empty.slots, nhop))
                got = decode_int_packet(self.hop(frame)).stack
                self.assertEqual(got.nhop, nhop + 1)
                written = [k for k in range(MAX_HOPS) if got.slots[k] != empty.slots[k]]
                self.assertEqual(written, [nhop % MAX_HOPS], f"nhop {nhop:#06x}")


class FieldsMatchAQueueTheTestBuilds(IntTest):
    """K frames of S bytes queued whole into a port draining at R packets/s: frame i leaves
    with K-1-i frames behind it, i frames sent before it, and 1/R after the frame before
    it. Each field against that: qlen = bytes still queued / 80, bytes = bytes sent before
    it / 128 (differences), time in ns (bmv2's microseconds x 1000) advancing by 1/R, rate
    index of the port's speed.

    The burst queues whole whatever the sender's speed: blocker frames go first into
    the port slowed to 1 packet/s, and bmv2 fixes each frame's departure when it queues
    it, so the last of three blockers leaves two seconds after the first; every burst
    frame sent within them (40 frames: a sender of 20/s) is queued behind it before the
    first one leaves."""

    BLOCKERS = 3

    def runTest(self) -> None:
        count, size, rate = 40, 400, 100
        cli = RunningCli(self.control.thrift_port)
        try:
            cli.run(f"set_queue_depth 1000 {OUT}")
            cli.run(f"set_queue_rate 1 {OUT}")
            for b in range(self.BLOCKERS):
                testutils.send_packet(self, 0, int_frame(sport=49000 + b, size=size, ip_id=1000 + b))
            cli.run(f"set_queue_rate {rate} {OUT}")
            for i in range(count):
                testutils.send_packet(self, 0, int_frame(sport=50000 + i, size=size, ip_id=i))
            frames = self.receive_n(self.BLOCKERS + count, timeout=10)
        finally:
            cli.close()  # tearDown restores every port's rate
        frames = [(port, f) for port, f in frames if Ether(f)[IP].id < 1000]
        order = [Ether(f)[IP].id for _, f in frames]
        self.assertEqual(order, list(range(count)), "FIFO")
        hops = [decode_int_packet(f).stack.slots[0] for _, f in frames]
        expected_qlen = [(count - 1 - i) * size // QLEN_UNIT for i in range(count)]
        period = 10**9 // rate
        # Each stamp from the first, unwrapped (16.8 ms wrap) by the frame's departure slot
        # i/R shifted by the frames' median lateness: an egress thread held off the CPU
        # stamps a frame late (the first one too), and may stretch one gap past the wrap,
        # but does not hold a frame half a wrap longer than it holds most of them.
        wrapped = [timestamp_delta(hops[0], h) for h in hops]
        late = sorted(unwrap_step_ns(w, i * period) - i * period for i, w in enumerate(wrapped))[count // 2]
        since_first = [unwrap_step_ns(w, i * period + late) for i, w in enumerate(wrapped)]
        gaps = [b - a for a, b in itertools.pairwise(since_first)]
        qlens = [h.qlen for h in hops]
        self.log_result("int_qlen", {"measured": qlens[:6], "expected": expected_qlen[:6]})
        self.log_result("int_gap_ns", {"median": sorted(gaps)[len(gaps) // 2], "expected": period})
        self.assertEqual(qlens, expected_qlen, "qlen: the bytes of the frames behind / 80")
        for i in range(1, count):
            sent_before = tx_bytes_delta(hops[0], hops[i])
            self.assertLessEqual(abs(sent_before - i * size), TX_BYTES_UNIT, f"frame {i}: bytes")
        # bmv2 fixes each departure slot at enqueue (last slot + 1/R) but stamps the frame
        # when its egress thread gets to it, so one late thread makes one gap long and the
        # next one short by as much (by more than the 16.8 ms wrap on a starved machine).
        # The median gap and the span are immune to that: they are what is checked.
        median = sorted(gaps)[len(gaps) // 2]
        self.assertEqual(median % 1000, 0, f"median gap {median} ns: time is bmv2's us x 1000")
        self.assertLess(abs(median - period), period // 10, f"median gap {median} ns: {gaps}")
        self.assertLess(abs(sum(gaps) - len(gaps) * period), period, f"span of {len(gaps)} gaps")
        self.assertTrue(all(h.link_rate_index == link_rate_index(GBPS) for h in hops))


class RunningCli:
    """One simple_switch_CLI kept running: a command is then one Thrift call, not a Python
    start (seconds on a loaded machine, while a queue the test built drains)."""

    def __init__(self, thrift_port: int) -> None:
        self.proc = subprocess.Popen(
            ["simple_switch_CLI", "--thrift-port", str(thrift_port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def run(self, command: str) -> None:
        """Run `command`; returns once the switch has done it (a read sent after it answered)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{command}\nget_time_elapsed\n")
        self.proc.stdin.flush()
        out: list[str] = []
        while not re.search(r"\d+\s*$", out[-1] if out else ""):
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"simple_switch_CLI ended before {command!r} was done: {''.join(out)}")
            out.append(line)
        if "Error" in "".join(out):
            raise AssertionError(f"simple_switch_CLI {command!r}: {''.join(out)}")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


class QlenKeepsFramesCountedWhileOthersLeave(IntTest):
    """Frames offered at 1000/s into a port draining at R = 300 packets/s, so frames may
    arrive while others leave. Ingress counts a frame's bytes a moment before bmv2 queues
    it; a frame leaving in that moment must not drop them from the count, and a count lost
    then stays lost for as long as the queue does not empty.

    Then a block of frames is queued at S packets/s: bmv2 fixes each frame's departure when
    it queues it, so the block stands for seconds whatever the machine's speed. Once a
    marker sent after it comes out of another port, the switch has counted every frame (its
    ingress is one thread, in order); the port's tx counter, read then, says how many had
    left. Every frame that left after that read must carry exactly the bytes of the frames
    after it / 80: the block's, and the racing frames' still queued, with any count lost
    while the queue stood. (The offered rate is paced: a burst as fast as the sender can
    would overflow the switch port's socket buffer. A frame that buffer still drops never
    reached ingress: it is in no count and not expected.)"""

    RACING, SIZE, RATE, OFFERED = 1000, 400, 300, 1000
    BLOCK, BLOCK_RATE = 10, 5  # 2 s of departures fixed when the block is queued
    MARK = 3  # the markers' port: never slowed
    MARK_IP = "10.2.0.9"
    markers = 0  # the last marker's UDP source port

    def runTest(self) -> None:
        routes = [(0, DST_NET, 1), (0, "10.2.0.0/24", 2)]
        groups = [(1, LbMode.ECMP, [OUT]), (2, LbMode.ECMP, [self.MARK])]
        self.program(switch_state(nports=self.nports, routes=routes, groups=groups, speed_gbps=GBPS))
        frames = [
            int_frame(sport=52000 + i, size=self.SIZE, ip_id=i) for i in range(self.RACING + self.BLOCK)
        ]
        tx_before = self.counter(names.PORT_TX_COUNTER, OUT)[0]
        cli = RunningCli(self.control.thrift_port)
        try:
            cli.run(f"set_queue_depth 1000 {OUT}")
            cli.run(f"set_queue_rate {self.RATE} {OUT}")
            start = time.monotonic()
            for i, frame in enumerate(frames[: self.RACING]):
                time.sleep(max(0.0, start + i / self.OFFERED - time.monotonic()))  # pacing, not waiting
                testutils.send_packet(self, 0, frame)
            self.through_ingress("the racing frames")  # none of them is queued at the block's rate
            cli.run(f"set_queue_rate {self.BLOCK_RATE} {OUT}")
            for frame in frames[self.RACING :]:
                testutils.send_packet(self, 0, frame)
            self.through_ingress("the block")
            left_when_read = self.counter(names.PORT_TX_COUNTER, OUT)[0] - tx_before
            counted = self.register(names.PORT_QUEUE, OUT) >> 32
            received = self.receive_from(OUT, counted, timeout=10.0)
        finally:
            cli.close()  # tearDown restores every port's rate
        got = [Ether(f)[IP].id for f in received]
        self.assertEqual(got, sorted(set(got)), "FIFO, each frame once")
        n = len(received)
        qlens = [decode_int_packet(f).stack.slots[0].qlen for f in received]
        expected = [(n - 1 - j) * self.SIZE // QLEN_UNIT for j in range(n)]
        checked = range(left_when_read, n)
        wrong = [(got[j], qlens[j] - expected[j]) for j in checked if qlens[j] != expected[j]]
        racing = sum(1 for i in got if i < self.RACING)
        self.log_result(
            "int_qlen_once_all_counted",
            {
                "received": n,
                "racing_checked": max(0, racing - left_when_read),
                # the queue stood from the racing frames into the block: what they lost is still counted
                "queue_stood_into_block": racing > 0 and qlens[racing - 1] > 0,
                "checked": len(checked),
                "wrong": len(wrong),
                "first": wrong[:5],
            },
        )
        self.assertLess(
            left_when_read,
            n - 1,
            f"{left_when_read} of {n} frames had left when the switch was read: no frame with a "
            f"queue behind it was left to check ({self.BLOCK / self.BLOCK_RATE:.0f} s block)",
        )
        self.assertEqual(wrong, [], "(frame, cells off) for the frames that left once all were counted")

    def through_ingress(self, what: str) -> None:
        """Send a marker to MARK and wait for it: bmv2's one ingress thread has then taken
        (counted and queued) every frame sent before it. A marker the switch port's socket
        buffer dropped is sent again; one left over from an earlier wait is passed over."""
        mine: set[int] = set()
        for _ in range(30):
            self.markers += 1
            mine.add(self.markers)
            testutils.send_packet(self, 0, udp_packet(sport=self.markers, dst=self.MARK_IP))
            while not isinstance(
                res := self.dataplane.poll(device_number=0, port_number=self.MARK, timeout=1.0),
                self.dataplane.PollFailure,
            ):
                if Ether(bytes(res.packet))[UDP].sport in mine:
                    return
        self.fail(f"no marker sent after {what} came out of port {self.MARK} in 30 tries")

    def receive_from(self, port: int, n: int, timeout: float) -> list[bytes]:
        """n frames from `port` in arrival order; `timeout` for each (the block's gaps included)."""
        got: list[bytes] = []
        for i in range(n):
            res = self.dataplane.poll(device_number=0, port_number=port, timeout=timeout)
            if isinstance(res, self.dataplane.PollFailure):
                self.fail(f"port {port}: received {i} of the {n} frames the switch counted")
            got.append(bytes(res.packet))
        return got


class TailDropsDoNotInflateQlen(IntTest):
    """A burst into a port whose queue holds D frames: bmv2 drops the rest after ingress
    counted them. qlen must still be at most the D frames' bytes / 80, not the bytes of
    every frame offered."""

    def runTest(self) -> None:
        # 20/s: the queue fills as long as the sender outruns 20 frames a second, which a
        # starved PTF still does (at 100/s a loaded machine's sender did not)
        count, size, depth = 40, 400, 8
        self.set_queue(OUT, rate_pps=20, depth=depth)
        try:
            for i in range(count):
                testutils.send_packet(self, 0, int_frame(sport=51000 + i, size=size, ip_id=i))
            frames = self.receive_until_quiet(0.5)  # 0.5 s: 10 departures
        finally:
            self.set_queue(OUT, rate_pps=100_000, depth=1000)
        self.assertLess(len(frames), count, "nothing was dropped: the queue was not full")
        qlens = [decode_int_packet(f).stack.slots[0].qlen for f in frames]
        self.log_result("int_qlen_under_tail_drops", {"received": len(frames), "max_qlen": max(qlens)})
        bound = depth * size // QLEN_UNIT
        self.assertTrue(all(q <= bound for q in qlens), f"qlen above {depth} frames ({bound}): {qlens}")


class OtherTrafficIsNeverTouched(IntTest):
    """RoCEv2 without the fill bit, an echoed stack (ACK), and a stack marked both ways are
    forwarded exactly as routed; so is a fragment that carries the fill bit."""

    def runTest(self) -> None:
        stack = IntStack.from_hops([IntHop(link_rate_index=1, timestamp=5, tx_bytes=6, qlen=7)])
        plain = rocev2_packet(SRC_IP, DST_IP, 49152, APP, eth_src=SENDER_MAC, eth_dst=SWITCH_MAC)
        echo = rocev2_packet(
            SRC_IP, DST_IP, 49152, APP, stack=stack, echo=True, eth_src=SENDER_MAC, eth_dst=SWITCH_MAC
        )
        both = Ether(bytes(echo))
        raw = bytearray(bytes(both["UDP"].payload))
        raw[4] |= 0x20
        both["UDP"].remove_payload()
        both = Ether(bytes(both / bytes(raw)))
        fragment = Ether(int_frame())
        fragment[IP].flags = "MF"
        fragment[IP].chksum = None
        fragment = Ether(bytes(fragment))
        for name, pkt in (("plain", plain), ("echo", echo), ("both bits", both), ("fragment", fragment)):
            with self.subTest(name):
                testutils.send_packet(self, 0, pkt)
                testutils.verify_packet(self, routed(Ether(bytes(pkt)), OUT), OUT)
        testutils.verify_no_other_packets(self)
        self.assertIsNotNone(decode_rocev2_packet(bytes(echo)).stack)

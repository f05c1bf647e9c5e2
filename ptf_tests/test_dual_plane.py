"""Dual-plane: a packet that arrives in plane p only leaves on plane-p ports; the switch
fails closed when a port or a plane is not configured."""

from __future__ import annotations

from collections import Counter

from ptf import testutils

from fixtures import DST_NET, switch_state, udp_packet
from hpn.pipeline import names
from hpn.pipeline.drop_reasons import DropReason
from hpn.routing.state import LbMode, LbParams
from hpn_base import HpnTest

PLANES = {0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 1, 6: 1, 7: 1}
PLANE_MEMBERS = {0: {2, 3}, 1: {6, 7}}
LB = LbParams(flowlet_gap_us=1_000, load_window_us=1_000)


def dual_plane_state(nports: int, mode: LbMode, plane0_members: set[int] | None = None) -> object:
    return switch_state(
        nports=nports,
        routes=[(0, DST_NET, 10), (1, DST_NET, 11)],
        groups=[(10, mode, plane0_members or PLANE_MEMBERS[0]), (11, mode, PLANE_MEMBERS[1])],
        planes=PLANES,
        lb=LB,
    )


class PlaneIsolationEveryMode(HpnTest):
    def runTest(self) -> None:
        for mode in LbMode:
            with self.subTest(mode=mode.name):
                self.program(dual_plane_state(self.nports, mode))
                for ingress, plane in ((0, 0), (4, 1)):
                    flows = [udp_packet(sport=11000 + i) for i in range(80)]
                    ports = Counter(self.send_flow_packets(flows, in_port=ingress))
                    self.assertEqual(
                        set(ports), PLANE_MEMBERS[plane], f"{mode.name}: plane {plane}: {dict(ports)}"
                    )


class GroupNamingAnotherPlanesPortDropsNeverLeaks(HpnTest):
    """A (wrong) plane-0 group that lists plane-1 ports: what hashes there is dropped and
    counted as a plane violation, never sent into plane 1."""

    def runTest(self) -> None:
        self.program(dual_plane_state(self.nports, LbMode.ECMP, plane0_members={2, 3, 6, 7}))
        before = self.drop_count(DropReason.PLANE_VIOLATION)
        members_before = {port: self.counter(names.MEMBER_COUNTER, port) for port in (6, 7)}
        out: Counter[int] = Counter()
        for i in range(100):
            port = self.try_receive(udp_packet(sport=12000 + i), in_port=0)
            out[port if port is not None else -1] += 1
        self.log_result("plane_violation_outcomes", dict(out))
        self.assertTrue(set(out) <= {2, 3, -1}, f"plane-0 packets left on {dict(out)}")
        self.assertGreater(out[-1], 0, "no packet hashed to a plane-1 port")
        self.assert_dropped_since(DropReason.PLANE_VIOLATION, before, out[-1])
        # What was dropped never left, so it is neither a member's tx nor in a queue
        # (ECN and INT read the queue count).
        for port in (6, 7):
            self.assertEqual(
                self.counter(names.MEMBER_COUNTER, port), members_before[port], f"member_tx[{port}]"
            )
            cell = self.register(names.PORT_QUEUE, port)
            self.assertEqual((cell >> 32, names.queued_bytes(cell)), (0, 0), f"port_queue[{port}]")


class PortWithoutPlaneDrops(HpnTest):
    """Fail closed: an ingress port the controller gave no plane drops what it receives."""

    def runTest(self) -> None:
        state = switch_state(
            nports=self.nports,
            routes=[(0, DST_NET, 1)],
            groups=[(1, LbMode.ECMP, [2, 3])],
            without_ports=[1],
        )
        self.program(state)
        before = self.drop_count(DropReason.NO_PLANE)
        for i in range(10):
            testutils.send_packet(self, 1, udp_packet(sport=12500 + i))
        testutils.verify_no_other_packets(self)
        self.assert_dropped_since(DropReason.NO_PLANE, before, 10)
        self.assertIn(self.send_and_receive(udp_packet(), in_port=0)[0], (2, 3))


class PlaneWithoutPortsDrops(HpnTest):
    """Fail closed: packets of a plane with no port set (no port listed in it) are dropped,
    even when a route and a group for that plane exist."""

    def runTest(self) -> None:
        planes = dict.fromkeys(range(self.nports), 0) | {0: 1}
        state = switch_state(
            nports=self.nports,
            routes=[(1, DST_NET, 1)],
            groups=[(1, LbMode.ECMP, [2, 3])],
            planes=planes,
        )
        self.program(state)
        before = self.drop_count(DropReason.PLANE_VIOLATION)
        for i in range(10):
            testutils.send_packet(self, 0, udp_packet(sport=12600 + i))
        testutils.verify_no_other_packets(self)
        self.assert_dropped_since(DropReason.PLANE_VIOLATION, before, 10)


class AllPlaneMembersDownDropsNeverLeaks(HpnTest):
    """Both plane-0 members' ports go down: plane-0 packets are dropped and counted (no
    live member), none crosses into plane 1, and plane 1 keeps forwarding."""

    def runTest(self) -> None:
        self.program(dual_plane_state(self.nports, LbMode.ECMP))
        for port in PLANE_MEMBERS[0]:
            self.set_peer_link(port, up=False)
        probe = udp_packet(sport=12999)

        def probe_counted() -> bool:
            count = self.drop_count(DropReason.NO_LIVE_MEMBER)
            return self.try_receive(probe) is None and self.drop_count(DropReason.NO_LIVE_MEMBER) > count

        self.wait_until("plane-0 members deactivated", probe_counted)
        before = self.drop_count(DropReason.NO_LIVE_MEMBER)
        for i in range(20):
            testutils.send_packet(self, 0, udp_packet(sport=13000 + i))
        testutils.verify_no_other_packets(self)
        self.assert_dropped_since(DropReason.NO_LIVE_MEMBER, before, 20)
        ports = set(self.send_flow_packets([udp_packet(sport=13100 + i) for i in range(10)], in_port=4))
        self.assertTrue(ports <= PLANE_MEMBERS[1])

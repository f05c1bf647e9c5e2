"""Liveness: members leave selection when their port goes down, by the switch itself or
by the controller's failure view, in every mode, and only their own flows move."""

from __future__ import annotations

from collections import Counter

from ptf import testutils

from fixtures import one_group_state, switch_state, udp_packet
from hpn.pipeline.drop_reasons import DropReason
from hpn.routing.state import Group, LbMode, LbParams
from hpn_base import HpnTest

MEMBERS = [2, 3, 4, 5]
DEAD = 4
LB = LbParams(flowlet_gap_us=10_000_000, load_window_us=1_000)


class WatchPortRemovesMemberWithoutController(HpnTest):
    """The port of a member goes oper-down: the switch stops choosing it although the
    controller wrote nothing (the switch still holds exactly the desired entries)."""

    def runTest(self) -> None:
        state = one_group_state(self.nports, LbMode.ECMP, MEMBERS)
        self.program(state)
        flows = [udp_packet(sport=31000 + i) for i in range(200)]
        before = self.send_flow_packets(flows)
        probe = flows[before.index(DEAD)]
        self.set_peer_link(DEAD, up=False)
        self.wait_until("member deactivated", lambda: self.try_receive(probe) not in (None, DEAD))
        after = Counter(self.send_flow_packets(flows))  # every packet arrives: none lost
        self.assertEqual(after[DEAD], 0)
        self.assertEqual(set(after), set(MEMBERS) - {DEAD})
        # No write happened: the switch holds what the controller pushed, DEAD included.
        self.assertEqual(self.control.diff_lines(state), [])


class EveryModeSkipsADownPort(HpnTest):
    def runTest(self) -> None:
        for mode in LbMode:
            with self.subTest(mode=mode.name):
                self.program(one_group_state(self.nports, mode, MEMBERS, lb=LB))
                flows = [udp_packet(sport=32000 + i) for i in range(120)]
                ports = self.send_flow_packets(flows)
                before = Counter(ports)
                self.assertGreater(before[DEAD], 0, f"{mode.name}: {DEAD} unused even when up")
                self.set_peer_link(DEAD, up=False)
                try:
                    probes = [flows[i] for i, p in enumerate(ports) if p == DEAD][:10]
                    self.wait_until(
                        f"{mode.name}: member deactivated",
                        lambda probes=probes: self._all_arrive_off(probes, DEAD),  # type: ignore[misc]
                    )
                    after = Counter(self.send_flow_packets(flows))
                finally:
                    self.set_peer_link(DEAD, up=True)
                self.log_result(f"liveness_{mode.name}", dict(after))
                self.assertEqual(after[DEAD], 0, f"{mode.name}: dead port chosen {dict(after)}")
                self.assertEqual(set(after), set(MEMBERS) - {DEAD})
                self.wait_until(f"{mode.name}: member back", self._dead_port_used_again)

    def _all_arrive_off(self, probes: list[object], dead: int) -> bool:
        """Every probe comes out, none on `dead` (the switch no longer picks it)."""
        return all(self.try_receive(p) not in (None, dead) for p in probes)

    def _dead_port_used_again(self) -> bool:
        return DEAD in Counter(self.send_flow_packets([udp_packet(sport=32000 + i) for i in range(40)]))


class ControllerFailureViewMovesOnlyDeadFlows(HpnTest):
    """A remote failure: the controller shrinks the group (laid out from its intact
    members); flows on the live members keep their member."""

    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.ECMP, MEMBERS))
        flows = [udp_packet(sport=33000 + i) for i in range(600)]
        before = self.send_flow_packets(flows)
        shrunk = Group(1, LbMode.ECMP, frozenset(MEMBERS) - {DEAD}, intact=frozenset(MEMBERS))
        self.program(switch_state(nports=self.nports, routes=[(0, "10.1.0.0/24", 1)], groups=[shrunk]))
        after = self.send_flow_packets(flows)
        moved = sum(1 for b, a in zip(before, after, strict=True) if b != DEAD and a != b)
        self.log_result("controller_view_other_flows_moved", moved)
        self.assertEqual(moved, 0)
        self.assertNotIn(DEAD, after)


class BothMembersOfABucketDownDropsAndCounts(HpnTest):
    """Two members of two: no live member left; packets are dropped and counted (the
    bmv2 sentinel), the switch keeps running, and traffic resumes when one returns."""

    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.ECMP, [2, 3]))
        for port in (2, 3):
            self.set_peer_link(port, up=False)
        probe = udp_packet(sport=34000)

        def probe_counted_as_no_live_member() -> bool:
            count = self.drop_count(DropReason.NO_LIVE_MEMBER)
            return self.try_receive(probe) is None and self.drop_count(DropReason.NO_LIVE_MEMBER) > count

        self.wait_until("both members deactivated", probe_counted_as_no_live_member)
        start = self.drop_count(DropReason.NO_LIVE_MEMBER)
        for i in range(10):
            testutils.send_packet(self, 0, udp_packet(sport=34100 + i))
        testutils.verify_no_other_packets(self)
        self.assertEqual(self.drop_count(DropReason.NO_LIVE_MEMBER) - start, 10)
        self.set_peer_link(3, up=True)
        self.wait_until("member back", lambda: self.try_receive(probe) == 3)

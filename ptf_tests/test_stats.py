"""Stats: per-port and per-member counters read back over P4Runtime. A member is a port
of the next-hop selector (set_egress_port), so member_tx is indexed by port."""

from __future__ import annotations

from fixtures import one_group_state, udp_packet
from hpn.pipeline import names
from hpn.routing.state import LbMode
from hpn_base import HpnTest

MEMBERS = [2, 3]


class PortAndMemberCounters(HpnTest):
    def runTest(self) -> None:
        self.program(one_group_state(self.nports, LbMode.SPRAY, MEMBERS))
        size = 200
        n = 30
        rx0 = self.counter(names.PORT_RX_COUNTER, 0)
        tx = {p: self.counter(names.PORT_TX_COUNTER, p) for p in MEMBERS}
        mem = {p: self.counter(names.MEMBER_COUNTER, p) for p in MEMBERS}

        ports = self.send_flow_packets([udp_packet(sport=13000, size=size) for _ in range(n)])
        sent = {p: ports.count(p) for p in MEMBERS}

        rx0_after = self.counter(names.PORT_RX_COUNTER, 0)
        self.assertEqual((rx0_after[0] - rx0[0], rx0_after[1] - rx0[1]), (n, n * size))
        for p in MEMBERS:
            tx_after = self.counter(names.PORT_TX_COUNTER, p)
            mem_after = self.counter(names.MEMBER_COUNTER, p)
            self.assertEqual(tx_after[0] - tx[p][0], sent[p], f"port_tx[{p}] packets")
            self.assertEqual(tx_after[1] - tx[p][1], sent[p] * size, f"port_tx[{p}] bytes")
            self.assertEqual(mem_after[0] - mem[p][0], sent[p], f"member_tx[{p}] packets")
            self.assertEqual(mem_after[1] - mem[p][1], sent[p] * size, f"member_tx[{p}] bytes")
        self.assertEqual(sum(sent.values()), n)

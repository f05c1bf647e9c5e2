// Counters readable over P4Runtime: per-port rx (ingress) and tx (egress),
// drops by reason. Indices are as wide as their arrays (9-bit ports, 4-bit
// reasons). The IPv4 length check runs in egress on Tofino (ingress does not
// know the frame length), so its drops are counted by EgressDropStats.
#ifndef HPN_TNA_STATS_P4
#define HPN_TNA_STATS_P4

control PortRxStats(in PortId_t port) {
    Counter<bit<32>, PortId_t>(MAX_PORTS, CounterType_t.PACKETS_AND_BYTES) port_rx;
    apply {
        port_rx.count(port);
    }
}

control PortTxStats(in PortId_t port) {
    Counter<bit<32>, PortId_t>(MAX_PORTS, CounterType_t.PACKETS_AND_BYTES) port_tx;
    apply {
        port_tx.count(port);
    }
}

control DropStats(in drop_reason_t reason, inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    Counter<bit<32>, drop_reason_t>(DROP_REASON_COUNT, CounterType_t.PACKETS) drops;
    apply {
        if (reason != DROP_NONE) {
            drops.count(reason);
            ig_dprsr_md.drop_ctl = 1;
        }
    }
}

control EgressDropStats(in drop_reason_t reason, inout egress_intrinsic_metadata_for_deparser_t eg_dprsr_md) {
    Counter<bit<32>, drop_reason_t>(DROP_REASON_COUNT, CounterType_t.PACKETS) egress_drops;
    apply {
        if (reason != DROP_NONE) {
            egress_drops.count(reason);
            eg_dprsr_md.drop_ctl = 1;
        }
    }
}

#endif

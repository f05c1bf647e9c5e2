// Counters readable over P4Runtime: per-port rx/tx and drops by reason.
// (Per-member counters live with the member choice, in load_balancing.p4.)
// Every index is as wide as its array: ports are 9 bits (MAX_PORTS cells),
// reasons 4 bits (DROP_REASON_COUNT cells).
#ifndef HPN_STATS_P4
#define HPN_STATS_P4

control PortRxStats(in standard_metadata_t std_meta) {
    counter(MAX_PORTS, CounterType.packets_and_bytes) port_rx;
    apply {
        port_rx.count((bit<32>)std_meta.ingress_port);
    }
}

control PortTxStats(in standard_metadata_t std_meta) {
    counter(MAX_PORTS, CounterType.packets_and_bytes) port_tx;
    apply {
        port_tx.count((bit<32>)std_meta.egress_port);
    }
}

// Every ingress drop goes through here: one reason, one count, one drop.
control DropStats(in metadata_t meta, inout standard_metadata_t std_meta) {
    counter(DROP_REASON_COUNT, CounterType.packets) drops;
    apply {
        if (meta.drop_reason != DROP_NONE) {
            drops.count((bit<32>)meta.drop_reason);
            mark_to_drop(std_meta);
        }
    }
}

#endif

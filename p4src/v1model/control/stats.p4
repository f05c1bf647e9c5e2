// Counters readable over P4Runtime: per-port rx/tx and drops by reason.
// (port_tx is counted in egress, with the queue's byte counts: queue.p4;
// member_tx once plane_port let a frame go: routing.p4.)
// Every index is as wide as its array: ports are 9 bits (MAX_PORTS cells),
// reasons 4 bits (DROP_REASON_COUNT cells).
#ifndef HPN_STATS_P4
#define HPN_STATS_P4

// A resubmitted packet's second pass counts in cell 511 (the v1model drop
// port, never an ingress port), so port_rx[p] counts each packet once.
control PortRxStats(in metadata_t meta, in standard_metadata_t std_meta) {
    counter(MAX_PORTS, CounterType.packets_and_bytes) port_rx;
    // In an action, so the choice is one expression: p4c turns a ?: in an
    // apply block into a condition and two tables, each a step on bmv2.
    action count_rx() {
        port_rx.count(meta.adaptive_retry == 1 ? (bit<32>)(MAX_PORTS - 1) : (bit<32>)std_meta.ingress_port);
    }
    apply {
        count_rx();
    }
}

// Every ingress drop goes through here: one reason, one count, one drop
// (the caller applies it to dropped packets only).
control DropStats(in metadata_t meta, inout standard_metadata_t std_meta) {
    counter(DROP_REASON_COUNT, CounterType.packets) drops;
    apply {
        drops.count((bit<32>)meta.drop_reason);
        mark_to_drop(std_meta);
    }
}

#endif

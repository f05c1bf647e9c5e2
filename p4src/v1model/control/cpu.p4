// The CPU path on bmv2 (shared/control/cpu_path.p4 decides what answers and
// what punts): packet-outs leave by the port their header names, bypassing
// routing and the plane check; punted frames go to the CPU port with a
// packet-in header giving their ingress port, at most PUNT_PER_WINDOW per
// port per window; gateway ARP replies leave by the port they came in, and
// on a ToR the ARP the gateway entry leaves unanswered is punted.
// Every frame it sends is counted into its port's queue (queue.p4), as
// forwarded ones are, so the queue count stays exact.
#ifndef HPN_V1MODEL_CPU_P4
#define HPN_V1MODEL_CPU_P4

// The punt window: 2^14 us, about 16 ms.
#define PUNT_WINDOW_SHIFT 14

control CpuPath(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t std_meta) {
    GatewayArp() gateway;
    PuntFilter() punt_filter;
    // Per ingress port: [63:32] the window number (time >> PUNT_WINDOW_SHIFT),
    // [31:0] the frames punted in it.
    register<bit<64>>(MAX_PORTS) punt_window;

    action send_packet_out() {
        std_meta.egress_spec = hdr.packet_out.egress_port;
        hdr.packet_out.setInvalid();
    }

    // One read and one write of the port's cell: bmv2 locks a register for
    // the whole action, so the count is exact under any load.
    action punt_bounded() {
        bit<32> port = (bit<32>)std_meta.ingress_port;
        bit<64> cell;
        punt_window.read(cell, port);
        bit<32> window = std_meta.ingress_global_timestamp[PUNT_WINDOW_SHIFT + 31:PUNT_WINDOW_SHIFT];
        bit<32> count = (cell[63:32] == window) ? cell[31:0] + 1 : 32w1;
        punt_window.write(port, window ++ count);
        meta.drop_reason = (count > PUNT_PER_WINDOW) ? DROP_PUNT_LIMIT : DROP_NONE;
        hdr.packet_in.setValid();
        hdr.packet_in.ingress_port = std_meta.ingress_port;
        hdr.packet_in.pad = 0;
        std_meta.egress_spec = BMV2_CPU_PORT;
    }

    action count_into_queue() {
        QUEUE_ENQUEUE(std_meta.egress_spec, std_meta.packet_length)
    }

    apply {
        if (hdr.packet_out.isValid()) {
            send_packet_out();
        } else {
            if (hdr.arp.isValid()) {
                gateway.apply(hdr.ethernet, hdr.arp, std_meta.ingress_port, std_meta.egress_spec,
                              meta.arp_answered);
            }
            if (meta.arp_answered == 0) {
                punt_filter.apply(hdr.ethernet, meta.punt, meta.drop_reason);
                if (meta.punt == 1) {
                    punt_bounded();
                }
            }
        }
        if (meta.drop_reason == DROP_NONE) {
            count_into_queue();
        }
    }
}

#endif

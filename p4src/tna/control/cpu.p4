// The CPU path on Tofino, as on bmv2 (p4src/v1model/control/cpu.p4; the
// shared/control/cpu_path.p4 controls decide what answers and what punts):
// packet-outs leave by the port their header names, bypassing routing and
// the plane check; punted frames go to the CPU port with a packet-in header,
// at most PUNT_PER_WINDOW per port per window; gateway ARP replies leave by
// the port they came in. All of it sits in the branch of non-IPv4 frames,
// exclusive with the IPv4 chain, so bf-p4c places it beside that chain's
// 12 stages instead of after them.
#ifndef HPN_TNA_CPU_P4
#define HPN_TNA_CPU_P4

// A punt window of one port: its number (global time >> 24 ns, about 16.8
// ms) and the frames punted in it.
struct punt_window_t {
    bit<32> window;
    bit<32> count;
}

control CpuPath(inout headers_t hdr,
                inout ingress_metadata_t meta,
                in ingress_intrinsic_metadata_t ig_intr_md,
                inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {
    GatewayArp() gateway;
    PuntFilter() punt_filter;

    Register<punt_window_t, PortId_t>(MAX_PORTS, {0, 0}) punt_window;
    RegisterAction<punt_window_t, PortId_t, bit<32>>(punt_window) punt_count = {
        void apply(inout punt_window_t w, out bit<32> count) {
            if (w.window == meta.punt_window) {
                w.count = w.count + 1;
            } else {
                w.window = meta.punt_window;
                w.count = 1;
            }
            count = w.count;
        }
    };

    action send_packet_out() {
        ig_tm_md.ucast_egress_port = hdr.packet_out.egress_port;
        hdr.packet_out.setInvalid();
    }

    action to_cpu() {
        hdr.packet_in.setValid();
        hdr.packet_in.ingress_port = ig_intr_md.ingress_port;
        hdr.packet_in.pad = 0;
        ig_tm_md.ucast_egress_port = TOFINO_CPU_PORT;
    }

    // A gateway compares with a constant: the count above the bound, tested against 0.
    action punts_over_bound() {
        meta.punts_over = meta.punt_count |-| PUNT_PER_WINDOW;
    }

    apply {
        if (hdr.packet_out.isValid()) {
            send_packet_out();
        } else {
            if (hdr.arp.isValid()) {
                gateway.apply(hdr.ethernet, hdr.arp, ig_intr_md.ingress_port, ig_tm_md.ucast_egress_port,
                              meta.arp_answered);
            }
            if (meta.arp_answered == 0) {
                punt_filter.apply(hdr.ethernet, meta.punt, meta.drop_reason);
                if (meta.punt == 1) {
                    meta.punt_count = punt_count.execute(ig_intr_md.ingress_port);
                    punts_over_bound();
                    if (meta.punts_over != 0) {
                        meta.drop_reason = DROP_PUNT_LIMIT;
                    } else {
                        to_cpu();
                    }
                }
            }
        }
    }
}

#endif

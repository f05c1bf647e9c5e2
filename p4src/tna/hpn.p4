// hpn-p4 switch program for Tofino (TNA): wiring only. The controls shared
// with the v1model program are under ../shared/control/; the ones Tofino
// needs written differently (stateful parts, hashing, checksums, intrinsic
// metadata) are under control/. docs/tofino.md says what differs and why.
#include <core.p4>
#include <tna.p4>

#define HPN_INT_HOP_AS_WORDS
#include "../shared/headers.p4"
#include "metadata.p4"
#include "parser.p4"
#include "../shared/control/dual_plane.p4"
// The per-member counter NextHopRewrite keeps (routing.p4), as TNA declares one.
#define MEMBER_TX_COUNTER Counter<bit<32>, PortId_t>(MAX_PORTS, CounterType_t.PACKETS_AND_BYTES)
#define MEMBER_TX_COUNT(C, PORT) C.count(PORT);
#include "../shared/control/routing.p4"
#include "control/stats.p4"
#include "../shared/control/cpu_path.p4"
#include "control/cpu.p4"
#include "control/load_balancing.p4"
#include "control/ecn.p4"
#include "control/int.p4"

// Every metadata field starts at 0 on every packet, as on bmv2: a field a
// path reads before any table wrote it (a miss, a mode that skips a step)
// then holds 0, never what an overlaid field left in its container.
@pa_auto_init_metadata

control HpnIngress(inout headers_t hdr,
                   inout ingress_metadata_t meta,
                   in ingress_intrinsic_metadata_t ig_intr_md,
                   in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                   inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                   inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {
    PortRxStats() rx_stats;
    DualPlane() dual_plane;
    Routing() routing;
    LoadBalancing() load_balancing;
    NextHopRewrite() next_hop;
    CpuPath() cpu_path;
    DropStats() drop_stats;

    apply {
        // Time for the flowlets, with no dependency: the hash unit shifts it
        // (an ALU could not: the bit offsets differ) and clears bit 0.
        @in_hash { meta.now = ig_prsr_md.global_tstamp[41:11] ++ 1w0; }
        @in_hash { meta.punt_window = 8w0 ++ ig_prsr_md.global_tstamp[47:24]; }
        if (meta.resubmit.adaptive_retry == 0) {
            rx_stats.apply(ig_intr_md.ingress_port);
        }
        if (ig_prsr_md.parser_err != 0) {
            meta.drop_reason = DROP_PARSER_ERROR;
        } else if (!hdr.ipv4.isValid()) {
            // packet-outs, gateway ARP, punts; other non-IPv4 frames drop (NOT_IPV4)
            cpu_path.apply(hdr, meta, ig_intr_md, ig_tm_md);
        } else if (hdr.ipv4.ihl != 5) {
            // Before the checksum: the parser verifies 20 bytes whatever ihl says,
            // so an options header would read as a bad checksum (one input, one
            // reason, as on bmv2).
            meta.drop_reason = DROP_IPV4_OPTIONS;
        } else if (meta.ipv4_checksum_error == 1) {
            meta.drop_reason = DROP_IPV4_CHECKSUM;
        } else {
            dual_plane.apply(ig_intr_md.ingress_port, meta.plane, meta.drop_reason);
            if (meta.drop_reason == DROP_NONE) {
                routing.apply(hdr.ipv4, meta.plane, meta.group_id, meta.drop_reason);
            }
            if (meta.drop_reason == DROP_NONE) {
                load_balancing.apply(hdr, meta, ig_dprsr_md, ig_tm_md);
            }
            // Also on a pass that resubmits: the resubmitted packet is the
            // original one, and waiting for that decision would cost stages.
            if (meta.drop_reason == DROP_NONE) {
                next_hop.apply(hdr.ethernet, hdr.ipv4, meta.plane, ig_tm_md.ucast_egress_port,
                               meta.drop_reason);
            }
        }
        drop_stats.apply(meta.drop_reason, ig_dprsr_md);
    }
}

control HpnEgress(inout headers_t hdr,
                  inout egress_metadata_t meta,
                  in egress_intrinsic_metadata_t eg_intr_md,
                  in egress_intrinsic_metadata_from_parser_t eg_prsr_md,
                  inout egress_intrinsic_metadata_for_deparser_t eg_dprsr_md,
                  inout egress_intrinsic_metadata_for_output_port_t eg_oport_md) {
    Ecn() ecn;
    IntTelemetry() int_telemetry;
    PortTxStats() tx_stats;
    EgressDropStats() drop_stats;

    // A gateway tests fields for (in)equality with constants and compares
    // only narrow ranges, so the length check is three saturating
    // differences, each then tested against 0.
    action ipv4_frame() {
        meta.ipv4_frame = hdr.ipv4.total_len + 14;
    }
    action frame_differences() {
        meta.frame_short = meta.ipv4_frame |-| eg_intr_md.pkt_length;
        meta.frame_long = eg_intr_md.pkt_length |-| meta.ipv4_frame;
        meta.above_min_frame = eg_intr_md.pkt_length |-| ETHERNET_MIN_FRAME;
    }

    apply {
        drop_reason_t reason = DROP_NONE;
        // Egress parses the INT stack, ingress does not (it needs no field of
        // it): a stack cut short is found here, and dropped as bmv2's parser
        // drops it, under the same reason (counted in egress_drops).
        if (eg_prsr_md.parser_err != 0) {
            reason = DROP_PARSER_ERROR;
        } else if (hdr.ipv4.isValid()) {
            // Ingress has no frame length on Tofino: the IPv4 length is checked
            // here against pkt_length (the frame without its FCS).
            ipv4_frame();
            frame_differences();
            if (meta.frame_short != 0) {
                reason = DROP_IPV4_LENGTH;
            } else if (meta.frame_long != 0 && meta.above_min_frame != 0) {
                reason = DROP_IPV4_LENGTH;   // longer than its IPv4 packet, and not padding
            }
        }
        if (reason == DROP_NONE) {
            ecn.apply(hdr.ipv4, meta, eg_intr_md);
            int_telemetry.apply(hdr, meta, eg_intr_md, eg_prsr_md);
            tx_stats.apply(eg_intr_md.egress_port);
        }
        drop_stats.apply(reason, eg_dprsr_md);
    }
}

Pipeline(HpnIngressParser(),
         HpnIngress(),
         HpnIngressDeparser(),
         HpnEgressParser(),
         HpnEgress(),
         HpnEgressDeparser()) pipe;

Switch(pipe) main;

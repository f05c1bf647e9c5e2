// hpn-p4 switch program for bmv2 (v1model): wiring only. Each feature is a
// control under control/; headers, constants and sizes under ../shared/.
#include <core.p4>
#include <v1model.p4>

#include "../shared/headers.p4"
#include "metadata.p4"
#include "parser.p4"
#include "control/stats.p4"
#include "../shared/control/dual_plane.p4"
// The per-member counter NextHopRewrite keeps (routing.p4), as v1model declares one.
#define MEMBER_TX_COUNTER counter(MAX_PORTS, CounterType.packets_and_bytes)
#define MEMBER_TX_COUNT(C, PORT) C.count((bit<32>)(PORT));
#include "../shared/control/routing.p4"
#include "control/queue.p4"
#include "../shared/control/cpu_path.p4"
#include "control/cpu.p4"
#include "control/load_balancing.p4"
#include "control/ecn.p4"
#include "control/int.p4"

control HpnIngress(inout headers_t hdr,
                   inout metadata_t meta,
                   inout standard_metadata_t std_meta) {
    PortRxStats() rx_stats;
    DualPlane() dual_plane;
    Routing() routing;
    LoadBalancing() load_balancing;
    NextHopRewrite() next_hop;
    QueueUncount() queue_uncount;
    CpuPath() cpu_path;
    DropStats() drop_stats;

    // bmv2 pays for every table and condition a packet meets (each one logs,
    // and builds the packet's id string even when the log level drops it), so
    // the path of a forwarded packet meets as few as it can: one check for a
    // well-formed packet, then one per feature that can drop it.
    apply {
        rx_stats.apply(meta, std_meta);
        // The frame length IPv4 claims, (bit<32>)total_len + 14, is written out
        // twice: a local would cost bmv2 a table of its own (p4c makes one for
        // every assignment in an apply block).
        if (std_meta.parser_error == error.NoError && hdr.ipv4.isValid()
                && std_meta.checksum_error == 0 && hdr.ipv4.ihl == 5
                && ((bit<32>)hdr.ipv4.total_len + 14 == std_meta.packet_length
                    || ((bit<32>)hdr.ipv4.total_len + 14 < std_meta.packet_length
                        && std_meta.packet_length <= (bit<32>)ETHERNET_MIN_FRAME))) {
            dual_plane.apply(std_meta.ingress_port, meta.plane, meta.drop_reason);
            if (meta.drop_reason == DROP_NONE) {
                routing.apply(hdr.ipv4, meta.plane, meta.group_id, meta.drop_reason);
                if (meta.drop_reason == DROP_NONE) {
                    load_balancing.apply(hdr, meta, std_meta);
                    if (meta.drop_reason == DROP_NONE && meta.resubmitting == 0) {
                        next_hop.apply(hdr.ethernet, hdr.ipv4, meta.plane, std_meta.egress_spec,
                                       meta.drop_reason);
                    }
                }
            }
        } else if (std_meta.parser_error != error.NoError) {
            meta.drop_reason = DROP_PARSER_ERROR;
        } else if (!hdr.ipv4.isValid()) {
            // packet-outs, gateway ARP, punts; other non-IPv4 frames drop (NOT_IPV4)
            cpu_path.apply(hdr, meta, std_meta);
        } else if (hdr.ipv4.ihl != 5) {
            meta.drop_reason = DROP_IPV4_OPTIONS;      // before the checksum, as on Tofino
        } else if (std_meta.checksum_error == 1) {
            meta.drop_reason = DROP_IPV4_CHECKSUM;
        } else {
            // Truncated, or longer than the IPv4 packet beyond Ethernet's padding.
            meta.drop_reason = DROP_IPV4_LENGTH;
        }
        if (meta.drop_reason != DROP_NONE) {
            if (meta.drop_reason == DROP_PLANE_VIOLATION) {
                queue_uncount.apply(std_meta);
            }
            drop_stats.apply(meta, std_meta);
        }
    }
}

control HpnEgress(inout headers_t hdr,
                  inout metadata_t meta,
                  inout standard_metadata_t std_meta) {
    QueueDequeue() queue_dequeue;
    Ecn() ecn;
    IntTelemetry() int_telemetry;

    apply {
        queue_dequeue.apply(meta, std_meta);
        if (hdr.ipv4.ecn == ECN_ECT0 || hdr.ipv4.ecn == ECN_ECT1) {
            ecn.apply(hdr, meta, std_meta);
        }
        if (hdr.int_nhop.isValid()) {
            int_telemetry.apply(hdr, meta, std_meta);
        }
    }
}

V1Switch(HpnParser(),
         HpnVerifyChecksum(),
         HpnIngress(),
         HpnEgress(),
         HpnComputeChecksum(),
         HpnDeparser()) main;

// INT for HPCC: each hop appends one 8-byte record (link rate, egress
// timestamp, txBytes of the egress port, queue length) to packets that carry
// the INT shim; at INT_MAX_HOPS records it sets the overflow flag instead.
// Field derivation on bmv2 (docs/int.md):
//   timestamp = egress_global_timestamp (microseconds) mod 2^24
//   tx_bytes  = bytes of all packets sent on the port so far, incl. this one,
//               as they arrived (packet_length), in 128-byte units, mod 2^20
//   qlen      = enq_qdepth in packets, saturated at 2^17 - 1
#ifndef HPN_INT_P4
#define HPN_INT_P4

control IntTelemetry(inout headers_t hdr,
                     inout metadata_t meta,
                     inout standard_metadata_t std_meta) {
    register<bit<64>>(MAX_PORTS) port_tx_bytes;
    bit<3> link_rate = LINK_RATE_100G;

    action set_link_rate(bit<3> rate) {
        link_rate = rate;
    }

    table int_port {
        key = { std_meta.egress_port: exact @name("port"); }
        actions = { set_link_rate; }
        default_action = set_link_rate(LINK_RATE_100G);
        size = PORT_TABLE_SIZE;
    }

    apply {
        bit<64> tx;
        port_tx_bytes.read(tx, (bit<32>)std_meta.egress_port);
        tx = tx + (bit<64>)std_meta.packet_length;
        port_tx_bytes.write((bit<32>)std_meta.egress_port, tx);

        if (!hdr.int_shim.isValid() || meta.int_malformed == 1) {
            return;
        }
        meta.int_touched = 1;
        if (hdr.int_shim.nhop >= INT_MAX_HOPS) {
            hdr.int_shim.overflow = 1;
            return;
        }
        int_port.apply();

        int_hop_t rec;
        rec.setValid();
        rec.link_rate = link_rate;
        rec.timestamp = std_meta.egress_global_timestamp[23:0];
        rec.tx_bytes = tx[26:7];
        rec.qlen = (std_meta.enq_qdepth > 0x1ffff) ? 17w0x1ffff : std_meta.enq_qdepth[16:0];

        // Append after the records already there (hop i is the i-th switch).
        // Unrolled: a runtime header-stack index is not portable.
        if (hdr.int_shim.nhop == 0) { hdr.int_hops[0] = rec; }
        else if (hdr.int_shim.nhop == 1) { hdr.int_hops[1] = rec; }
        else if (hdr.int_shim.nhop == 2) { hdr.int_hops[2] = rec; }
        else if (hdr.int_shim.nhop == 3) { hdr.int_hops[3] = rec; }
        else { hdr.int_hops[4] = rec; }

        hdr.int_shim.nhop = hdr.int_shim.nhop + 1;
        hdr.ipv4.total_len = hdr.ipv4.total_len + INT_HOP_BYTES;
        hdr.udp.length = hdr.udp.length + INT_HOP_BYTES;
    }
}

#endif

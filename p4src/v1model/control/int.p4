// INT for HPCC: every hop fills one slot of the fixed stack the sender put
// after the BTH (int_fill set), in place, as the HPCC reference's switch does
// (IntHeader::PushHop): slot nhop mod 5 gets {line rate, time, bytes, qlen},
// then nhop + 1. Beyond five hops the oldest slots are overwritten and nhop
// keeps counting, as in the reference. The packet never grows.
// Field derivation on bmv2 (docs/int.md):
//   line_rate  index of the egress link's speed (int_port, HPCC's table)
//   time       egress_global_timestamp (us) x 1000 = ns, low 24 bits
//   bytes      bytes sent on the egress port before this packet, / 128, low 20 bits
//   qlen       bytes still queued at the egress port as this packet leaves, in
//              80-byte cells, saturated at 17 bits (queue.p4 keeps the count:
//              bmv2 itself counts queues in packets)
#ifndef HPN_INT_P4
#define HPN_INT_P4

#define INT_FILL(I) { \
        hdr.int_hops[I].line_rate = link_rate; \
        hdr.int_hops[I].time_4_0 = t[4:0]; \
        hdr.int_hops[I].time_12_5 = t[12:5]; \
        hdr.int_hops[I].time_20_13 = t[20:13]; \
        hdr.int_hops[I].time_23_21 = t[23:21]; \
        hdr.int_hops[I].bytes_4_0 = b[4:0]; \
        hdr.int_hops[I].bytes_12_5 = b[12:5]; \
        hdr.int_hops[I].bytes_19_13 = b[19:13]; \
        hdr.int_hops[I].qlen_0_0 = ql[0:0]; \
        hdr.int_hops[I].qlen_8_1 = ql[8:1]; \
        hdr.int_hops[I].qlen_16_9 = ql[16:9]; \
    }

control IntTelemetry(inout headers_t hdr, in metadata_t meta, in standard_metadata_t std_meta) {
    bit<3> link_rate = LINK_RATE_UNKNOWN;

    action set_link_rate(bit<3> rate) {
        link_rate = rate;
    }

    table int_port {
        key = { std_meta.egress_port: exact @name("port"); }
        actions = { set_link_rate; }
        default_action = set_link_rate(LINK_RATE_UNKNOWN);
        size = PORT_TABLE_SIZE;
    }

    // The caller applies this to packets that carry the stack only.
    apply {
        int_port.apply();
        bit<48> ns = std_meta.egress_global_timestamp * 1000;
        bit<24> t = ns[23:0];
        bit<20> b = meta.tx_before[26:7];
        bit<17> ql = (meta.queued_cells > 0x1ffff) ? 17w0x1ffff : meta.queued_cells[16:0];
        // nhop mod 5: 256 = 1 (mod 5), so hi + lo (< 511) has the same residue;
        // the division by 5 of that sum is a multiply by 205 / 1024, exact below
        // 1024. In 32 bits: s * 205 reaches 104,550, which 16 bits would wrap.
        bit<32> s = (bit<32>)hdr.int_nhop.hi + (bit<32>)hdr.int_nhop.lo;
        bit<32> slot = s - 5 * ((s * 205) >> 10);
        if (slot == 0) INT_FILL(0)
        else if (slot == 1) INT_FILL(1)
        else if (slot == 2) INT_FILL(2)
        else if (slot == 3) INT_FILL(3)
        else INT_FILL(4)
        bit<16> n = (hdr.int_nhop.hi ++ hdr.int_nhop.lo) + 1;
        hdr.int_nhop.lo = n[7:0];
        hdr.int_nhop.hi = n[15:8];
    }
}

#endif

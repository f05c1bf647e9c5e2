// ECN: RED-style marking on the egress queue depth, per port.
//   depth <= kmin: never marked; depth >= kmax: always marked;
//   in between: marked with probability pmax * (depth - kmin) / (kmax - kmin).
// Only ECT(0)/ECT(1) packets become CE; Not-ECT is never marked, CE is kept.
// Depth is what INT's qlen reports: the bytes still queued at the port as
// the packet leaves, in 80-byte cells (queue.p4; Tofino's deq_qdepth unit),
// so kmin/kmax mean the same on both targets; pmax is a fraction scaled by 2^16.
#ifndef HPN_ECN_P4
#define HPN_ECN_P4

const bit<32> ECN_PMAX_ONE = 65536;

control Ecn(inout headers_t hdr, in metadata_t meta, in standard_metadata_t std_meta) {
    bit<32> kmin = 0;
    bit<32> kmax = 0;
    bit<32> pmax = 0;

    action set_red(bit<32> kmin_depth, bit<32> kmax_depth, bit<32> pmax_scaled) {
        kmin = kmin_depth;
        kmax = kmax_depth;
        pmax = pmax_scaled;
    }

    table ecn_port {
        key = { std_meta.egress_port: exact @name("port"); }
        actions = { set_red; NoAction; }
        default_action = NoAction();
        size = PORT_TABLE_SIZE;
    }

    // The caller applies this to ECT(0)/ECT(1) packets only.
    apply {
        if (!ecn_port.apply().hit) {
            return;
        }
        bit<32> depth = meta.queued_cells;
        if (depth >= kmax) {
            hdr.ipv4.ecn = ECN_CE;
        } else if (depth > kmin) {
            // mark when r / 2^16 < pmax / 2^16 * (depth - kmin) / (kmax - kmin);
            // both products fit 64 bits (r, pmax <= 2^16; depths < 2^32)
            bit<32> r;
            random(r, 0, ECN_PMAX_ONE - 1);
            bit<64> lhs = (bit<64>)r * (bit<64>)(kmax - kmin);
            bit<64> rhs = (bit<64>)pmax * (bit<64>)(depth - kmin);
            if (lhs < rhs) {
                hdr.ipv4.ecn = ECN_CE;
            }
        }
    }
}

#endif

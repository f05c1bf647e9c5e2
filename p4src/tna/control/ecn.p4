// ECN on Tofino: RED marking on the egress queue depth at dequeue (cells of
// 80 bytes on Tofino1) with no multiplier: the controller splits each port's
// ramp kmin..kmax into ranges of depth, each with its marking probability as
// a 16-bit threshold, and the packet is marked when a Random<bit<16>> draw
// falls below it. Depth >= kmax is one range with threshold 0xffff + "always".
#ifndef HPN_TNA_ECN_P4
#define HPN_TNA_ECN_P4

control Ecn(inout ipv4_t ipv4, inout egress_metadata_t meta, in egress_intrinsic_metadata_t eg_intr_md) {
    Random<bit<16>>() rnd;

    action mark() {
        ipv4.ecn = ECN_CE;
    }

    action mark_with_probability(bit<16> threshold) {
        meta.ecn_threshold = threshold;
        meta.ecn_ramp = 1;
    }

    action draw_below_threshold() {
        meta.ecn_below = meta.ecn_threshold |-| meta.ecn_random;
    }

    table ecn_ramp {
        key = {
            eg_intr_md.egress_port: exact @name("port");
            eg_intr_md.deq_qdepth: range @name("depth");
        }
        actions = { mark; mark_with_probability; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    apply {
        meta.ecn_ramp = 0;
        if (ipv4.isValid() && (ipv4.ecn == ECN_ECT0 || ipv4.ecn == ECN_ECT1)) {
            meta.ecn_random = rnd.get();
            ecn_ramp.apply();
            // random < threshold, as a gateway can test it (field vs constant)
            draw_below_threshold();
            if (meta.ecn_ramp == 1 && meta.ecn_below != 0) {
                ipv4.ecn = ECN_CE;
            }
        }
    }
}

#endif

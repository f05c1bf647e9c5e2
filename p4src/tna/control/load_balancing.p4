// Load balancing on Tofino: the v1model program's design (p4src/v1model/
// control/load_balancing.p4: groups of buckets, each bucket a selector group
// of a pair of members watching their ports), written for Tofino's limits:
//   - 12 stages per gress, and each step that reads the result of another is
//     one stage more: the ingress chain is kept to 11 stages (docs/tofino.md
//     lists it), so the steps are folded where a table can do two at once;
//   - one access per register per pass, one value out of each: a flowlet's
//     slot is a paired register (expiry, flowlet id) whose RegisterAction
//     returns the id, the time the flowlet started (bit 0 clear; the ADAPTIVE
//     move toggles it: the alternate bucket), and a second register, updated
//     alike in the same stage, returns whether this packet started it;
//   - no multiplier and no run-time shift: the seed and the flowlet id go
//     into the CRC, and seed_sbox (written by the controller from the seed)
//     maps the hash's low byte, the group's bucket bits and the alternate bit
//     straight to the bucket, and to a word XORed into the pick: the seed's
//     effect is then non-linear, as bmv2's mixing makes it;
//   - a CRC is linear, so a seed that only enters it XORs one constant into
//     every flow's hash: flows whose hash bytes agree would share a bucket on
//     every switch (polarization). seed_premix, looked up by a second hash
//     byte of the flow (CRC8, independent of the CRC32's) and written by the
//     controller from the seed, gives a word that enters both CRCs too: two
//     flows then share a bucket on every switch only if both bytes agree (1
//     pair in 65,536). It depends on the parsed flow alone, so it sits in a
//     stage the chain already has (before the CRCs), at no stage of its own;
//   - spray's pick and bucket come from a table of constant shifts and masks
//     (spray_pick); the walk is not seeded (a seed would only shift its start);
//   - next_hop's ActionSelector (FAIR) selects in the hardware from the pick;
//     Tofino has no modulo-by-zero, so there is no sentinel member;
//   - ADAPTIVE's load is an Lpf: a decaying byte rate of each egress port,
//     fed with the IPv4 length (ingress has no frame length), compared with
//     the congested threshold; a congested new flowlet is resubmitted once.
#ifndef HPN_TNA_LOAD_BALANCING_P4
#define HPN_TNA_LOAD_BALANCING_P4

// A flowlet slot: one RegisterAction reads and writes both halves.
struct flowlet_slot_t {
    bit<32> expiry;    // when the flowlet's gap will have passed
    bit<32> id;
}

control LoadBalancing(inout headers_t hdr,
                      inout ingress_metadata_t meta,
                      inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                      inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {
    Hash<bit<8>>(HashAlgorithm_t.CRC32) bucket_hasher;
    Hash<bit<16>>(HashAlgorithm_t.CRC16) pick_hasher;
    Hash<bit<FLOWLET_SLOT_BITS>>(HashAlgorithm_t.CRC16) slot_hasher;
    Hash<bit<8>>(HashAlgorithm_t.CRC8) premix_hasher;

    // A slot keeps when its flowlet's gap passes, and the flowlet's id.
    Register<flowlet_slot_t, bit<FLOWLET_SLOT_BITS>>(FLOWLET_SLOTS, {0, 0}) flowlet;
    RegisterAction<flowlet_slot_t, bit<FLOWLET_SLOT_BITS>, bit<32>>(flowlet) flowlet_touch = {
        void apply(inout flowlet_slot_t slot, out bit<32> id) {
            if (slot.expiry < meta.now) {
                slot.id = meta.now;      // the gap passed: a new flowlet
            }
            slot.expiry = meta.flowlet_expiry;
            id = slot.id;
        }
    };
    // The same expiry once more, updated by the same packets as `flowlet`, so it
    // makes the same decision: it tells whether this packet started a flowlet
    // (a RegisterAction returns one value, and `flowlet` returns the id). In
    // parallel with `flowlet`, so it costs no stage.
    Register<bit<32>, bit<FLOWLET_SLOT_BITS>>(FLOWLET_SLOTS, 0) flowlet_start;
    RegisterAction<bit<32>, bit<FLOWLET_SLOT_BITS>, bit<8>>(flowlet_start) flowlet_started = {
        void apply(inout bit<32> expiry, out bit<8> started) {
            if (expiry < meta.now) {
                started = 1;
            } else {
                started = 0;
            }
            expiry = meta.flowlet_expiry;
        }
    };
    RegisterAction<bit<32>, bit<FLOWLET_SLOT_BITS>, bit<8>>(flowlet_start) flowlet_start_kept = {
        void apply(inout bit<32> expiry, out bit<8> started) {
            started = 0;
            expiry = meta.flowlet_expiry;
        }
    };
    RegisterAction<flowlet_slot_t, bit<FLOWLET_SLOT_BITS>, bit<32>>(flowlet) flowlet_alternate = {
        void apply(inout flowlet_slot_t slot, out bit<32> id) {
            slot.id = slot.id ^ 1;   // the flowlet moves to bucket ^ 1
            slot.expiry = meta.flowlet_expiry;
            id = slot.id;
        }
    };

    Register<bit<16>, group_id_t>(MAX_GROUPS, 0) spray_next;
    RegisterAction<bit<16>, group_id_t, bit<16>>(spray_next) spray_step = {
        void apply(inout bit<16> next, out bit<16> before) {
            before = next;
            next = next + 1;
        }
    };

    Lpf<bit<32>, PortId_t>(MAX_PORTS) port_load;

    // The group and the switch-wide parameters in one entry, as on bmv2 (one
    // P4Runtime contract). load_window_time is the bmv2 window; the Lpf's time
    // constant is the SDE's Lpf configuration, which P4Runtime does not reach.
    // The flowlet's expiry is computed here, so it costs no stage of its own.
    action set_group(bit<2> lb_mode, bucket_t mask, bit<4> bits, bit<32> seed,
                     bit<32> flowlet_gap_time, bit<32> load_window_time,
                     bit<32> congested, bit<1> track) {
        meta.lb_mode = lb_mode;
        meta.bucket_mask = mask;
        meta.bucket_bits = bits;
        meta.hash_seed = seed;
        meta.flowlet_expiry = flowlet_gap_time + meta.now;   // (action data may only come first)
        meta.congested = congested;
        meta.track_load = track;
    }

    // A route to a group without an entry (its write was rejected, say)
    // drops, as on bmv2, even where next_hop holds the group's buckets.
    action no_group() {
        meta.drop_reason = DROP_NO_ROUTE;
    }

    table lb_group {
        key = { meta.group_id: exact @name("group_id"); }
        actions = { set_group; @defaultonly no_group; }
        default_action = no_group();
        size = GROUP_TABLE_SIZE;
    }

    // The seed's word for the flow's second hash byte (see the top).
    action set_premix(bit<32> word) {
        meta.premix_word = word;
    }

    table seed_premix {
        key = { meta.premix_byte: exact @name("hash_byte"); }
        actions = { set_premix; }
        default_action = set_premix(0);
        size = 256;
    }

    // Bucket and pick from the hash, in one lookup: the controller writes,
    // for each bucket width its groups use, bucket = ((h ^ S(h)) ^ alternate)
    // & mask and a pick word S'(h), both from the seed (hpn.pipeline).
    action set_bucket(bucket_t bucket, bit<16> pick_word) {
        meta.lb_bucket = bucket;
        meta.lb_pick = meta.pick_hash ^ pick_word;
    }

    table seed_sbox {
        key = {
            meta.bucket_hash: exact @name("hash_byte");
            meta.bucket_bits: exact @name("bits");
            meta.flowlet_id[0:0]: exact @name("alternate");
        }
        actions = { set_bucket; }
        default_action = set_bucket(0, 0);
        size = SEED_SBOX_SIZE;
    }

    // Visit k of a bucket takes the pair's members in turn: bucket = the
    // counter's low bits, pick = the bits above them.
    #define SPRAY_PICK_ACTION(K) \
        action pick_shift_##K() { \
            meta.lb_bucket = meta.spray_low & ((1 << K) - 1); \
            meta.lb_pick = meta.spray_count >> K; \
        }
    SPRAY_PICK_ACTION(0)
    SPRAY_PICK_ACTION(1)
    SPRAY_PICK_ACTION(2)
    SPRAY_PICK_ACTION(3)
    SPRAY_PICK_ACTION(4)
    SPRAY_PICK_ACTION(5)
    SPRAY_PICK_ACTION(6)
    SPRAY_PICK_ACTION(7)
    SPRAY_PICK_ACTION(8)

    table spray_pick {
        key = { meta.bucket_bits: exact @name("bits"); }
        actions = {
            pick_shift_0; pick_shift_1; pick_shift_2; pick_shift_3; pick_shift_4;
            pick_shift_5; pick_shift_6; pick_shift_7; pick_shift_8;
        }
        const entries = {
            0: pick_shift_0(); 1: pick_shift_1(); 2: pick_shift_2(); 3: pick_shift_3();
            4: pick_shift_4(); 5: pick_shift_5(); 6: pick_shift_6(); 7: pick_shift_7();
            8: pick_shift_8();
        }
        default_action = pick_shift_8();
        size = 16;
    }

    // P4Runtime names the members' profile: nh_selector, as on bmv2.
    ActionProfile(SELECTOR_MEMBERS) nh_selector;
    Hash<bit<16>>(HashAlgorithm_t.IDENTITY) selector_hash;
    ActionSelector(nh_selector, selector_hash, SelectorMode_t.FAIR, 2, SELECTOR_GROUPS) nh_selection;

    // member_tx is counted once plane_port let the frame go (routing.p4).
    action set_egress_port(PortId_t port) {
        ig_tm_md.ucast_egress_port = port;
    }

    // A bucket without an entry (what a group without one means, too).
    action no_bucket() {
        meta.drop_reason = DROP_NO_ROUTE;
    }

    table next_hop {
        key = {
            meta.group_id: exact @name("group_id");
            meta.lb_bucket: exact @name("bucket");
            meta.lb_pick: selector @name("pick");
        }
        actions = { set_egress_port; no_bucket; }
        default_action = no_bucket();
        implementation = nh_selection;
        size = NEXT_HOP_TABLE_SIZE;
    }

    // One step per action where a step reads the one before (a stage each).
    action load_over_threshold() {
        meta.load_over = meta.port_load |-| meta.congested;
    }

    apply {
        meta.flowlet_id = 0;
        meta.new_flowlet = 0;
        meta.adaptive_candidate = 0;
        meta.premix_byte = premix_hasher.get({ FLOW_KEY_FIELDS });
        seed_premix.apply();
        lb_group.apply();

        if (meta.lb_mode == LB_MODE_SPRAY) {
            meta.spray_count = spray_step.execute(meta.group_id);
            // the hash unit narrows the field: ALU operands share one size
            @in_hash { meta.spray_low = meta.spray_count[7:0]; }
            spray_pick.apply();
        } else {
            if (meta.lb_mode != LB_MODE_ECMP) {
                bit<FLOWLET_SLOT_BITS> slot = slot_hasher.get({ FLOW_KEY_FIELDS });
                if (meta.resubmit.adaptive_retry == 1) {
                    meta.flowlet_id = flowlet_alternate.execute(slot);
                    meta.new_flowlet = flowlet_start_kept.execute(slot);
                } else {
                    meta.flowlet_id = flowlet_touch.execute(slot);
                    meta.new_flowlet = flowlet_started.execute(slot);
                }
            }
            // Seed, premix word and flowlet id are CRC inputs: the seed XORs a
            // constant into the hash (CRC is linear); the premix word and
            // seed_sbox make its effect non-linear.
            meta.bucket_hash = bucket_hasher.get({ FLOW_KEY_FIELDS, meta.flowlet_id, meta.hash_seed,
                                                   meta.premix_word });
            meta.pick_hash = pick_hasher.get({ FLOW_KEY_FIELDS, meta.flowlet_id, meta.hash_seed,
                                               meta.premix_word });
            seed_sbox.apply();
            if (meta.lb_mode == LB_MODE_ADAPTIVE && meta.resubmit.adaptive_retry == 0
                    && meta.bucket_mask != 0) {
                if (meta.new_flowlet == 1) {
                    meta.adaptive_candidate = 1;
                }
            }
        }

        if (meta.drop_reason == DROP_NONE) {
            next_hop.apply();
        }
        if (meta.drop_reason != DROP_NONE) {
            return;
        }

        if (meta.track_load == 1) {
            // the IPv4 length as it is: the Lpf takes a PHV field, not a sum
            meta.port_load = port_load.execute((bit<32>)hdr.ipv4.total_len, ig_tm_md.ucast_egress_port);
            load_over_threshold();
            if (meta.adaptive_candidate == 1 && meta.load_over != 0) {
                meta.resubmit.adaptive_retry = 1;
                ig_dprsr_md.resubmit_type = RESUBMIT_ADAPTIVE;
            }
        }
    }
}

#endif

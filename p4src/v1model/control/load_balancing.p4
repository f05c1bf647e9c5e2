// Load balancing over the members of a next-hop group, mode chosen per group.
//
// A group is B = 2^k buckets (lb_group gives the mask). Each bucket is an
// action-selector group of two members, the bucket's pair, so next_hop reads
// (group, bucket, pick) -> member -> port:
//   ECMP      bucket and pick from a seeded hash of the 5-tuple and QP
//   FLOWLET   the same hash salted with a flowlet id: a gap longer than
//             flowlet_gap starts a new flowlet id; the state is the id, never
//             a port, so two flows sharing a slot cannot reorder each other
//   SPRAY     a per-group counter walks the buckets, then the halves of
//             each pair: every 2 * B packets each member gets an equal share
//   ADAPTIVE  FLOWLET, and the first packet of a flowlet whose port sent more
//             than congested_bytes in the current load window is resubmitted
//             once onto the bucket next to its own (bucket ^ 1, whose pair the
//             controller keeps disjoint from this one's)
//
// Liveness comes from the switch itself: every pair member watches its port
// (P4Runtime watch_port), and bmv2's PI server takes a member out of
// selection when its port goes oper-down, with no controller write. A bucket
// with one live member sends all its flows there, so only the flows of the
// dead member move (resilient). The controller lays the pairs out so that a
// member's flows spread over all the others when it fails (hpn.pipeline).
//
// bmv2 selects member (pick mod live) of a group, in the order of member
// handles, and crashes when none is live (modulo by zero in its PI group
// selection). So every bmv2 group also holds a sentinel member without a
// watch port (no_live_member), which the controller creates first of all
// members: the handle allocator gives it the lowest handle, place 0 in every
// group. The pick is then always 1 or 5: with both members live (3 in
// selection) 1 mod 3 and 5 mod 3 are places 1 and 2, the pair's members;
// with one live (2) both are place 1, the live one; with none (1) place 0,
// the sentinel, and the packet is dropped and counted. Tofino has no such
// crash: p4src/tna has no sentinel and uses a full-width pick.
#ifndef HPN_LOAD_BALANCING_P4
#define HPN_LOAD_BALANCING_P4

// Seed mixing after the CRC. A CRC is linear: a seed XORed into its input
// only XORs a constant into its output, which permutes buckets without
// changing which flows share one (polarization). A multiply by an odd
// constant (Knuth's multiplicative hash, 2^32 / golden ratio) is not linear
// over XOR: carries make every high bit depend on the seed and on every lower
// input bit, so the buckets come from the high byte. bmv2 alone: Tofino has
// no multiplier, and p4src/tna mixes with a table (seed_sbox) instead. One
// operation, where add/shift/xor rounds cost bmv2 an expression tree each.
bit<32> seeded_mix(in bit<32> h, in bit<32> seed) {
    return (h ^ seed) * 32w0x9E3779B1;
}

control LoadBalancing(inout headers_t hdr,
                      inout metadata_t meta,
                      inout standard_metadata_t std_meta) {
    register<bit<16>>(MAX_GROUPS) spray_next;
    register<bit<32>>(FLOWLET_SLOTS) flowlet_last_seen;   // ingress time, us
    register<bit<16>>(FLOWLET_SLOTS) flowlet_id;          // FLOWLET_ID_MASK | FLOWLET_ALTERNATE
    register<bit<32>>(MAX_PORTS) load_window_start;       // us
    register<bit<32>>(MAX_PORTS) load_window_bytes;

    // Bucket and pick from the flow hash salted by `salt` (the flowlet id in
    // FLOWLET and ADAPTIVE, 0 in ECMP), mixed with the seed; `alternate` moves
    // the flow to bucket ^ 1. It also says what a bucket without an entry
    // means, for next_hop's member actions to overwrite.
    action choose(in bit<32> salt, in bit<8> alternate) {
        bit<32> x = seeded_mix(meta.lb.flow_hash ^ salt, meta.lb.hash_seed);
        meta.lb_bucket = (x[31:24] ^ (alternate & 1)) & meta.lb.bucket_mask;
        meta.lb_pick = x[23:23] == 0 ? 16w1 : 16w5;
        meta.drop_reason = DROP_NO_ROUTE;
    }

    // A group's mode and buckets, and the switch-wide parameters with them:
    // one lookup per packet instead of two (bmv2 pays for every table it
    // applies). bucket_bits = log2(B) and bucket_mask = B - 1 both, because
    // Tofino cannot shift by a run-time amount to make one from the other.
    // Times are in the target's timestamp unit (bmv2: microseconds). The flow
    // hash and the ECMP choice are made here too: bmv2 runs an action as one
    // step, and every mode but SPRAY starts from them.
    action set_group(bit<2> lb_mode, bucket_t mask, bit<4> bits, bit<32> seed,
                     bit<32> flowlet_gap_time, bit<32> load_window_time,
                     bit<32> congested, bit<1> track) {
        meta.lb_mode = lb_mode;
        meta.lb.bucket_mask = mask;
        meta.lb.bucket_bits = bits;
        meta.lb.hash_seed = seed;
        meta.lb.flowlet_gap = flowlet_gap_time;
        meta.lb.load_window = load_window_time;
        meta.lb.congested_bytes = congested;
        meta.lb.track_load = track;
        meta.lb.now = (meta.adaptive_retry == 1) ? meta.first_pass_time
                                                 : std_meta.ingress_global_timestamp[31:0];
        hash(meta.lb.flow_hash, HashAlgorithm.crc32, 32w0,
             { FLOW_KEY_FIELDS },
             64w0x100000000);
        choose(0, 0);
    }

    // A route to a group without an entry drops (as on Tofino: one contract).
    action no_group() {
        meta.drop_reason = DROP_NO_ROUTE;
    }

    table lb_group {
        key = { meta.group_id: exact @name("group_id"); }
        actions = { set_group; @defaultonly no_group; }
        default_action = no_group();
        size = GROUP_TABLE_SIZE;
    }

    // The pick is the selector's input (identity hash): member place = pick
    // mod live members (see above: 1 or 5).
    @max_group_size(SELECTOR_GROUP_SIZE)
    action_selector(HashAlgorithm.identity, SELECTOR_MEMBERS, 16) nh_selector;

    // The member actions say the outcome in drop_reason, which choose (or
    // spray_step) set to DROP_NO_ROUTE (what a bucket without an entry means).
    action set_egress_port(port_id_t port) {
        std_meta.egress_spec = port;
        meta.drop_reason = DROP_NONE;
        // Counted into the port's queue here, where it costs no step of its own;
        // a frame plane_port then drops is taken out again (QueueUncount).
        // member_tx is counted once plane_port let the frame go (routing.p4).
        QUEUE_ENQUEUE(port, std_meta.packet_length)
    }

    action no_live_member() {
        meta.drop_reason = DROP_NO_LIVE_MEMBER;
    }

    table next_hop {
        key = {
            meta.group_id: exact @name("group_id");
            meta.lb_bucket: exact @name("bucket");
            meta.lb_pick: selector @name("pick");
        }
        actions = { set_egress_port; no_live_member; }
        implementation = nh_selector;
        size = NEXT_HOP_TABLE_SIZE;
    }

    // FLOWLET, ADAPTIVE: the flow's slot, its flowlet id, and the choice the
    // id salts. bmv2 has no RegisterAction: a read and a write of one cell in
    // one action is its read-modify-write (ingress is one thread on bmv2).
    action flowlet_pick() {
        // The slot is the low bits of the flow's CRC32 (set_group): a hash of
        // its own would cost bmv2 a copy of every key field (p4c copies a
        // hash's input list) and another pass over them. Tofino has a CRC16
        // of its own for it (p4src/tna), as hashes there are free.
        bit<32> slot = meta.lb.flow_hash & (bit<32>)(FLOWLET_SLOTS - 1);
        bit<32> last;
        bit<16> id;
        flowlet_last_seen.read(last, slot);
        flowlet_id.read(id, slot);
        // A slot never used (0) starts a flowlet too, also before the clock passed the gap.
        meta.new_flowlet = (last == 0 || meta.lb.now - last > meta.lb.flowlet_gap) ? 1w1 : 1w0;
        // A new flowlet takes the next id; a resubmitted one toggles the
        // alternate bit, which then stays with the slot (its later flowlets
        // hash from the alternate side: as uniform as the other).
        id = (meta.new_flowlet == 1) ? (id & FLOWLET_ALTERNATE) | ((id + 1) & FLOWLET_ID_MASK) : id;
        id = (meta.adaptive_retry == 1) ? id ^ FLOWLET_ALTERNATE : id;
        flowlet_last_seen.write(slot, meta.lb.now);
        flowlet_id.write(slot, id);
        // The id salts the flow hash; the alternate bit moves to bucket ^ 1.
        choose(((bit<32>)(id & FLOWLET_ID_MASK) << 16) | (bit<32>)(id & FLOWLET_ID_MASK),
               (bit<8>)(id >> 15));
    }

    // SPRAY: a per-group counter walks the buckets, then the pair's halves.
    action spray_step() {
        bit<16> next;
        spray_next.read(next, (bit<32>)meta.group_id);
        spray_next.write((bit<32>)meta.group_id, next + 1);
        bit<16> c = next + meta.lb.hash_seed[15:0];
        meta.lb_bucket = c[7:0] & meta.lb.bucket_mask;
        // Visit k of a bucket takes the pair's members in turn (k even:
        // place 1, k odd: place 2), so any 2 * B packets split exactly.
        // bmv2 alone: a shift by bucket_bits (p4src/tna uses a table).
        meta.lb_pick = ((c >> meta.lb.bucket_bits) & 1) == 0 ? 16w1 : 16w5;
        meta.drop_reason = DROP_NO_ROUTE;
    }

    apply {
        if (lb_group.apply().hit) {
            if (meta.lb_mode == LB_MODE_SPRAY) {
                spray_step();
            } else if (meta.lb_mode != LB_MODE_ECMP) {
                flowlet_pick();
            }
            next_hop.apply();   // sets drop_reason: DROP_NONE, or no live member
        }

        // Local load for ADAPTIVE: bytes the switch sent to the chosen port in
        // the current window (p4src/tna: an Lpf, a decaying byte rate).
        if (meta.drop_reason == DROP_NONE && meta.lb.track_load == 1) {
            port_id_t port = std_meta.egress_spec;
            bit<32> start;
            bit<32> bytes;
            load_window_start.read(start, (bit<32>)port);
            load_window_bytes.read(bytes, (bit<32>)port);
            if (meta.lb.now - start > meta.lb.load_window) {
                start = meta.lb.now;
                bytes = 0;
            }
            if (meta.lb_mode == LB_MODE_ADAPTIVE && meta.new_flowlet == 1
                    && meta.adaptive_retry == 0 && bytes > meta.lb.congested_bytes
                    && meta.lb.bucket_mask != 0) {
                meta.adaptive_retry = 1;
                meta.first_pass_time = meta.lb.now;
                meta.resubmitting = 1;
                // This pass counted the frame into the port's queue; it is not queued there.
                QUEUE_UNCOUNT(port, std_meta.packet_length)
                resubmit_preserving_field_list(0);
            } else {
                load_window_start.write((bit<32>)port, start);
                load_window_bytes.write((bit<32>)port, bytes + std_meta.packet_length);
            }
        }
    }
}

#endif

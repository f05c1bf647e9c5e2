// Load balancing over the members of a next-hop group, mode chosen per group.
//   ECMP      k = hash(seed, 5-tuple, QP) mod live members
//   FLOWLET   ECMP per flowlet: a gap longer than flowlet_gap_us starts a new
//             flowlet, which is hashed again with a new flowlet sequence
//   SPRAY     per-packet round robin over the live members (per-group counter)
//   ADAPTIVE  at a flowlet boundary, the least loaded of up to
//             ADAPTIVE_CHOICES consecutive live members from the hashed one
//             (load: bytes this switch sent to the port in the current window)
// Members are a port bitmap; dead ports and ports of other planes are masked
// out before selection, so no mode can pick them and nothing is rewritten
// when a port goes down.
#ifndef HPN_LOAD_BALANCING_P4
#define HPN_LOAD_BALANCING_P4

#include "port_mask.p4"

// bmv2 registers can be read many times per packet; Tofino's cannot
// (p4src/tna keeps one candidate and compares with a stored best).
#define ADAPTIVE_CHOICES 4

// K = a member index in 0..live-1 from the flow hash, the switch seed and SALT.
// CRC is linear: XORing a seed into its input only XORs a constant into its
// output, which permutes members without changing which flows share one
// (polarization). So the seed is mixed in after the CRC, through a
// multiplicative hash whose middle bits depend on all input bits.
#define PICK_MEMBER(SALT, K) { \
        bit<64> mixed_ = (bit<64>)(flow_hash ^ hash_seed ^ (SALT)) * 64w0x9e3779b1; \
        hash(K, HashAlgorithm.identity, 16w0, { mixed_[47:16] }, meta.live_counts.total); \
    }

// Recent bytes sent to PORT (0 once its window has expired) into LOAD.
// A macro, not a function: it reads this control's registers.
#define READ_PORT_LOAD(PORT, LOAD) { \
        bit<48> w_start_; \
        load_window_start.read(w_start_, (bit<32>)(PORT)); \
        load_window_bytes.read(LOAD, (bit<32>)(PORT)); \
        if (now - w_start_ > load_window) { LOAD = 0; } \
    }

control LoadBalancing(inout headers_t hdr,
                      inout metadata_t meta,
                      inout standard_metadata_t std_meta) {
    register<bit<32>>(MAX_GROUPS) spray_next;
    register<bit<48>>(FLOWLET_SLOTS) flowlet_last_seen;
    register<bit<16>>(FLOWLET_SLOTS) flowlet_port_plus1;   // 0: none yet
    register<bit<16>>(FLOWLET_SLOTS) flowlet_seq;
    register<bit<48>>(MAX_PORTS) load_window_start;
    register<bit<32>>(MAX_PORTS) load_window_bytes;
    counter(MEMBER_COUNTER_SIZE, CounterType.packets_and_bytes) member_tx;

    bit<32> hash_seed = 0;
    bit<48> flowlet_gap = 10000;
    bit<48> load_window = 1000;
    port_mask_t live_ports = PORT_MASK_ALL;
    bit<2> mode = LB_MODE_ECMP;
    port_mask_t members = 0;

    action set_lb_params(bit<32> seed, bit<32> flowlet_gap_us, bit<32> load_window_us) {
        hash_seed = seed;
        flowlet_gap = (bit<48>)flowlet_gap_us;
        load_window = (bit<48>)load_window_us;
    }

    // Switch-wide parameters: one default entry written by the controller.
    table lb_params {
        actions = { set_lb_params; }
        default_action = set_lb_params(0, 10000, 1000);
        size = 1;
    }

    action set_live_ports(port_mask_t ports) {
        live_ports = ports;
    }

    // Port liveness: bit p set when port p is up. Marking a port down is one
    // write here; groups keep listing the port and simply skip it.
    table port_liveness {
        actions = { set_live_ports; }
        default_action = set_live_ports(PORT_MASK_ALL);
        size = 1;
    }

    action set_group(bit<2> lb_mode, port_mask_t member_ports) {
        mode = lb_mode;
        members = member_ports;
    }

    action group_missing() {
        meta.drop_reason = DROP_NO_ROUTE;
    }

    table group_table {
        key = { meta.group_id: exact @name("group_id"); }
        actions = { set_group; group_missing; }
        default_action = group_missing();
        size = GROUP_TABLE_SIZE;
    }

    apply {
        if (!group_table.apply().hit) {
            return;
        }
        lb_params.apply();
        port_liveness.apply();

        port_mask_t live = members & live_ports & meta.plane_ports;
        SWAR_COUNT(live, meta.live_counts)
        if (meta.live_counts.total == 0) {
            meta.drop_reason = DROP_NO_LIVE_MEMBER;
            return;
        }

        bit<48> now = std_meta.ingress_global_timestamp;
        bit<16> k = 0;
        bit<16> port = 0;
        bool chosen = false;

        bit<32> flow_hash;
        hash(flow_hash, HashAlgorithm.crc32, 32w0,
             { hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.ipv4.protocol,
               meta.l4_src_port, meta.l4_dst_port, meta.dest_qp },
             64w0x100000000);

        if (mode == LB_MODE_ECMP) {
            PICK_MEMBER(32w0, k)
        } else if (mode == LB_MODE_SPRAY) {
            bit<32> next;
            spray_next.read(next, (bit<32>)meta.group_id);
            spray_next.write((bit<32>)meta.group_id, next + 1);
            hash(k, HashAlgorithm.identity, 16w0, { next }, meta.live_counts.total);
        } else {
            // FLOWLET and ADAPTIVE keep per-flow state in hashed slots.
            bit<32> slot;
            hash(slot, HashAlgorithm.crc16, 32w0,
                 { hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.ipv4.protocol,
                   meta.l4_src_port, meta.l4_dst_port, meta.dest_qp },
                 (bit<32>)FLOWLET_SLOTS);
            bit<48> last_seen;
            bit<16> stored_plus1;
            bit<16> seq;
            flowlet_last_seen.read(last_seen, slot);
            flowlet_port_plus1.read(stored_plus1, slot);
            flowlet_seq.read(seq, slot);
            flowlet_last_seen.write(slot, now);

            bool stored_live = stored_plus1 != 0
                && ((live >> (bit<8>)(stored_plus1 - 1)) & 1) == 1;
            if (stored_live && now - last_seen <= flowlet_gap) {
                port = stored_plus1 - 1;
                chosen = true;
            } else {
                seq = seq + 1;
                flowlet_seq.write(slot, seq);
                PICK_MEMBER((bit<32>)seq * 32w0x85ebca6b, k)
                if (mode == LB_MODE_ADAPTIVE) {
                    // Least loaded of the members k, k+1, ... (mod live count).
                    bit<16> best = kth_set_bit(live, meta.live_counts, k);
                    bit<32> best_load;
                    READ_PORT_LOAD(best, best_load)
                    bit<16> i = k;
                    bit<16> cand;
                    bit<32> cand_load;
                    // ADAPTIVE_CHOICES - 1 more candidates, unrolled.
                    i = i + 1; if (i >= meta.live_counts.total) { i = 0; }
                    cand = kth_set_bit(live, meta.live_counts, i);
                    READ_PORT_LOAD(cand, cand_load)
                    if (cand_load < best_load) { best = cand; best_load = cand_load; }
                    i = i + 1; if (i >= meta.live_counts.total) { i = 0; }
                    cand = kth_set_bit(live, meta.live_counts, i);
                    READ_PORT_LOAD(cand, cand_load)
                    if (cand_load < best_load) { best = cand; best_load = cand_load; }
                    i = i + 1; if (i >= meta.live_counts.total) { i = 0; }
                    cand = kth_set_bit(live, meta.live_counts, i);
                    READ_PORT_LOAD(cand, cand_load)
                    if (cand_load < best_load) { best = cand; best_load = cand_load; }
                    port = best;
                    chosen = true;
                }
            }
            if (!chosen) {
                port = kth_set_bit(live, meta.live_counts, k);
                chosen = true;
            }
            flowlet_port_plus1.write(slot, port + 1);
        }
        if (!chosen) {
            port = kth_set_bit(live, meta.live_counts, k);
        }

        std_meta.egress_spec = (bit<9>)port;
        meta.egress_port16 = port;
        member_tx.count((bit<32>)meta.group_id * PORT_MASK_BITS + (bit<32>)port);

        // Local egress state for ADAPTIVE: bytes sent to each port per window.
        bit<48> start;
        bit<32> bytes;
        load_window_start.read(start, (bit<32>)port);
        load_window_bytes.read(bytes, (bit<32>)port);
        if (now - start > load_window) {
            start = now;
            bytes = 0;
        }
        load_window_start.write((bit<32>)port, start);
        load_window_bytes.write((bit<32>)port, bytes + (bit<32>)std_meta.packet_length);
    }
}

#endif

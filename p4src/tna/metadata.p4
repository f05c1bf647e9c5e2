// TNA metadata of hpn.p4. Ingress and egress are separate pipelines on
// Tofino: nothing is bridged between them, egress re-parses the headers it
// needs and reads its own intrinsic metadata (queue depth, time, length).
#ifndef HPN_TNA_METADATA_P4
#define HPN_TNA_METADATA_P4

const ResubmitType_t RESUBMIT_ADAPTIVE = 1;

// Carried by a resubmitted packet in place of the port metadata (64 bits on
// Tofino1).
header resubmit_md_t {
    bit<8>  adaptive_retry;
    bit<56> pad;
}

struct ingress_metadata_t {
    resubmit_md_t resubmit;
    drop_reason_t drop_reason;
    plane_t     plane;
    bit<1>      ipv4_checksum_error;
    bit<16>     l4_src_port;
    bit<16>     l4_dst_port;
    bit<24>     dest_qp;
    group_id_t  group_id;
    bit<2>      lb_mode;
    bucket_t    bucket_mask;
    bit<4>      bucket_bits;
    bucket_t    lb_bucket;
    bit<16>     lb_pick;
    bit<1>      track_load;
    bit<1>      adaptive_candidate; // ADAPTIVE, first pass, starts a flowlet
    bit<32>     hash_seed;
    bit<32>     congested;
    bit<32>     now;              // global timestamp >> 10 (1.024 us), bit 0 clear
    bit<32>     flowlet_expiry;   // now + flowlet_gap
    bit<32>     flowlet_id;       // the flowlet's start time; bit 0: alternate bucket
    bit<8>      new_flowlet;      // 1: this packet started its flowlet
    bit<8>      bucket_hash;
    bit<8>      premix_byte;      // CRC8 of the flow: seed_premix's key
    bit<32>     premix_word;      // seed_premix's word for it, a CRC input
    bit<16>     pick_hash;
    bit<16>     spray_count;
    bit<8>      spray_low;
    bit<32>     port_load;
    bit<32>     load_over;        // port_load - congested, 0 when not above
    bit<1>      punt;             // cpu.p4: a frame for the controller
    bit<1>      arp_answered;     // cpu.p4: gateway_arp answered the frame (not punted)
    bit<32>     punt_window;      // global time >> 24: the punt window's number
    bit<32>     punt_count;       // frames of this port punted in the window, this one too
    bit<32>     punts_over;       // punt_count - PUNT_PER_WINDOW, 0 when not above
}

struct egress_metadata_t {
    bit<16> ipv4_frame;    // the frame the IPv4 length says: total_len + 14
    bit<16> frame_short;   // ipv4_frame - pkt_length, 0 if not shorter
    bit<16> frame_long;    // pkt_length - ipv4_frame, 0 if not longer
    bit<16> above_min_frame;
    bit<16> udp_residual;   // checksum of the UDP packet minus the INT bytes (parser)
    bit<1>  udp_checksum_update;  // INT filled a stack of a checksummed UDP packet
    bit<3>  link_rate;
    int_hop_t new_hop;     // the hop this switch writes, as the header lays it out
    bit<8>  nhop_fold;
    bit<3>  slot;
    bit<32> tx_before;
    bit<17> qlen;
    bit<16> ecn_threshold;
    bit<16> ecn_random;
    bit<1>  ecn_ramp;
    bit<16> ecn_below;     // threshold - random draw, 0 when not below
}

#endif

// v1model metadata shared by the controls of hpn.p4 (the TNA program has its
// own: it bridges some of these fields from ingress to egress explicitly).
#ifndef HPN_V1MODEL_METADATA_P4
#define HPN_V1MODEL_METADATA_P4

// Fields are at most 32 bits, as Tofino's containers are (bmv2 holds every
// field as a GMP integer, whatever its width: docs/traps.md).

// The load-balancing state of one pass (load_balancing.p4), set by its
// actions. Metadata rather than control locals: p4c gives a local with an
// initialiser a table and a condition of its own, which bmv2 pays for on
// every packet, and lb_group sets every field before any is read.
struct lb_state_t {
    bit<32>     hash_seed;
    bit<32>     flowlet_gap;       // timestamp units (bmv2: us)
    bit<32>     load_window;
    bit<32>     congested_bytes;
    bit<1>      track_load;
    bucket_t    bucket_mask;       // B - 1
    bit<4>      bucket_bits;       // log2(B)
    bit<32>     now;               // this packet's time (the first pass's when resubmitted)
    bit<32>     flow_hash;         // CRC32 of the flow's 5-tuple and QP
}

struct metadata_t {
    drop_reason_t drop_reason;     // DROP_* (0: forward)
    plane_t     plane;
    bit<16>     l4_src_port;
    bit<16>     l4_dst_port;
    bit<24>     dest_qp;           // RoCEv2 BTH destination QP (0 if none)
    group_id_t  group_id;
    bit<2>      lb_mode;
    bucket_t    lb_bucket;         // bucket of the group, exact key of next_hop
    bit<16>     lb_pick;           // selector input: which member of the bucket
    lb_state_t  lb;
    bit<1>      new_flowlet;       // this packet starts a flowlet (FLOWLET, ADAPTIVE)
    bit<1>      punt;              // cpu.p4: a frame for the controller
    bit<1>      arp_answered;      // cpu.p4: gateway_arp answered the frame (not punted)
    bit<1>      resubmitting;      // ADAPTIVE: this pass ends in a resubmit, not a send
    @field_list(0)
    bit<1>      adaptive_retry;    // second pass of a resubmitted adaptive packet
    @field_list(0)
    bit<32>     first_pass_time;   // the first pass's ingress time (a resubmitted
                                   // packet's ingress_global_timestamp reads 0 on bmv2)
    bit<32>     queue_frame;       // queue.p4: this frame's number in its port's count
    // egress (queue.p4): what the port held and sent when this packet left
    bit<32>     tx_before;         // bytes sent on the egress port before this packet
    bit<32>     queued_bytes;      // bytes still queued at the egress port
    bit<32>     queued_cells;      // the same in 80-byte cells (Tofino's deq_qdepth unit)
}

#endif

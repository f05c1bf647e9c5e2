// Packet headers and the metadata every control shares (architecture neutral).
#ifndef HPN_HEADERS_P4
#define HPN_HEADERS_P4

#include "defines.p4"

header ethernet_t {
    mac_addr_t dst_addr;
    mac_addr_t src_addr;
    bit<16>    ether_type;
}

header ipv4_t {
    bit<4>      version;
    bit<4>      ihl;
    bit<6>      dscp;
    bit<2>      ecn;
    bit<16>     total_len;
    bit<16>     identification;
    bit<3>      flags;
    bit<13>     frag_offset;
    bit<8>      ttl;
    bit<8>      protocol;
    bit<16>     hdr_checksum;
    ipv4_addr_t src_addr;
    ipv4_addr_t dst_addr;
}

header udp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<16> length;
    bit<16> checksum;
}

header tcp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<32> seq_no;
    bit<32> ack_no;
    bit<4>  data_offset;
    bit<4>  res;
    bit<8>  flags;
    bit<16> window;
    bit<16> checksum;
    bit<16> urgent_ptr;
}

// RoCEv2 Base Transport Header (InfiniBand BTH, 12 bytes).
header bth_t {
    bit<8>  opcode;
    bit<1>  solicited;
    bit<1>  mig_req;
    bit<2>  pad_count;
    bit<4>  transport_version;
    bit<16> partition_key;
    bit<1>  fecn;
    bit<1>  becn;
    bit<6>  reserved0;
    bit<24> dest_qp;
    bit<1>  ack_req;
    bit<7>  reserved1;
    bit<24> psn;
}

// INT shim (4 bytes), ours: says how many HPCC hop records follow.
header int_shim_t {
    bit<4>  version;     // INT_VERSION
    bit<3>  reserved;
    bit<1>  overflow;    // a hop found INT_MAX_HOPS records and could not append
    bit<8>  max_hops;    // informational: INT_MAX_HOPS of the sender's view
    bit<16> nhop;        // records that follow (HPCC's nhop)
}

// One HPCC hop record (alibaba-edu HPCC int-header.h IntHop), 8 bytes,
// fields in the struct's order, most significant bit first on the wire.
header int_hop_t {
    bit<3>  link_rate;   // index: 25/50/100/200/400/10 Gb/s
    bit<24> timestamp;   // egress timestamp, low 24 bits (bmv2: microseconds)
    bit<20> tx_bytes;    // egress port byte counter in 128-byte units, low 20 bits
    bit<17> qlen;        // egress queue length (bmv2: packets)
}

struct headers_t {
    ethernet_t ethernet;
    ipv4_t     ipv4;
    tcp_t      tcp;
    udp_t      udp;
    int_shim_t int_shim;
    int_hop_t[INT_MAX_HOPS] int_hops;
    bth_t      bth;
}

// Population counts of a port mask per 2^i-bit block (load_balancing.p4).
struct swar_counts_t {
    port_mask_t s1;   // set bits per 2-bit block
    port_mask_t s2;   // ... per 4-bit block
    port_mask_t s3;   // ... per 8-bit block
    port_mask_t s4;   // ... per 16-bit block
    port_mask_t s5;   // ... per 32-bit block
    port_mask_t s6;   // ... per 64-bit block
    port_mask_t s7;   // ... per 128-bit block
    bit<16>     total;
}

struct metadata_t {
    bit<8>      drop_reason;     // DROP_* (0: forward)
    bit<2>      plane;
    port_mask_t plane_ports;     // ports of the packet's plane
    bit<16>     l4_src_port;
    bit<16>     l4_dst_port;
    bit<24>     dest_qp;         // RoCEv2 BTH destination QP (0 if none)
    bit<16>     int_remaining;   // parser loop counter
    bit<1>      int_malformed;
    bit<1>      int_touched;     // INT data changed: UDP checksum must be redone
    bit<1>      routed;
    group_id_t  group_id;
    bit<16>     egress_port16;
    swar_counts_t live_counts;   // SWAR counts of the live members
}

#endif

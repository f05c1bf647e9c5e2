// Packet headers and the metadata every control shares (architecture neutral).
#ifndef HPN_HEADERS_P4
#define HPN_HEADERS_P4

#include "defines.p4"

// P4Runtime packet I/O (docs/operations.md). Whole bytes, the pads included:
// p4c and the P4Runtime servers need byte-aligned controller headers, and a
// client sends every field of a packet-out, the pad too. The pad comes first:
// the port then sits in the low 9 bits of its 16 as Tofino's ingress_port and
// ucast_egress_port do in their intrinsic metadata, and bf-p4c can copy it
// between them (port first, its PHV allocation fails: unsatisfiable slicing).
@controller_header("packet_in")
header packet_in_t {
    bit<7>    pad;
    port_id_t ingress_port;    // where the punted frame came in
}

@controller_header("packet_out")
header packet_out_t {
    bit<7>    pad;
    port_id_t egress_port;     // where to send the frame, as it is
}

header arp_t {
    bit<16>     hw_type;
    bit<16>     proto_type;
    bit<8>      hw_len;
    bit<8>      proto_len;
    bit<16>     oper;
    mac_addr_t  sender_hw;
    ipv4_addr_t sender_ip;
    mac_addr_t  target_hw;
    ipv4_addr_t target_ip;
}

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
    bit<1>      flag_reserved;
    bit<1>      flag_df;
    bit<1>      flag_mf;        // more fragments
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

// RoCEv2 Base Transport Header (InfiniBand BTH, 12 bytes). Two of the six
// reserved bits of byte 4 say whether an HPCC INT stack follows (docs/int.md).
header bth_t {
    bit<8>  opcode;
    bit<1>  solicited;
    bit<1>  mig_req;
    bit<2>  pad_count;
    bit<4>  transport_version;
    bit<16> partition_key;
    bit<1>  fecn;
    bit<1>  becn;
    bit<1>  int_fill;      // 0x20 of byte 4: an INT stack follows; switches fill it
    bit<1>  int_echo;      // 0x10 of byte 4: an echoed stack follows; switches leave it
    bit<4>  reserved0;
    bit<24> dest_qp;
    bit<1>  ack_req;
    bit<7>  reserved1;
    bit<24> psn;
}

// One hop of the HPCC reference's IntHeader (int-header.h IntHop): a 64-bit
// word of C bit-fields that the sender reads straight from the packet buffer,
// so on the wire it is the little-endian word with lineRate in bits 0-2,
// time in 3-26, bytes in 27-46 and qlen in 47-63. P4 fields are most
// significant bit first, so each wire byte holds the slices below
// (w = the word; byte k = w[8k+7:8k]).
#ifdef HPN_INT_HOP_AS_WORDS
// The same 8 bytes as two words (wire bytes 0-3 and 4-7), for Tofino: a hop
// is then built whole and copied into its slot with two 32-bit moves
// (p4src/tna/control/int.p4 shows which slice lands where).
header int_hop_t {
    bit<32> bytes_0_3;
    bit<32> bytes_4_7;
}
#else
header int_hop_t {
    bit<5> time_4_0;       // byte 0: w[7:3]
    bit<3> line_rate;      //         w[2:0]
    bit<8> time_12_5;      // byte 1
    bit<8> time_20_13;     // byte 2
    bit<5> bytes_4_0;      // byte 3: w[31:27]
    bit<3> time_23_21;     //         w[26:24]
    bit<8> bytes_12_5;     // byte 4
    bit<1> qlen_0_0;       // byte 5: w[47]
    bit<7> bytes_19_13;    //         w[46:40]
    bit<8> qlen_8_1;       // byte 6
    bit<8> qlen_16_9;      // byte 7
}
#endif

// IntHeader::nhop, a little-endian uint16 after the five hops.
header int_nhop_t {
    bit<8> lo;
    bit<8> hi;
}

struct headers_t {
    packet_in_t  packet_in;     // first: it goes in front of the frame
    packet_out_t packet_out;
    ethernet_t ethernet;
    arp_t      arp;
    ipv4_t     ipv4;
    tcp_t      tcp;
    udp_t      udp;
    bth_t      bth;
    int_hop_t[INT_HOP_SLOTS] int_hops;
    int_nhop_t int_nhop;
}

#endif

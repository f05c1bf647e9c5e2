// Protocol numbers and project-wide constants (architecture neutral).
#ifndef HPN_DEFINES_P4
#define HPN_DEFINES_P4

#include "sizes.p4"

typedef bit<48> mac_addr_t;
typedef bit<32> ipv4_addr_t;
typedef bit<PORT_BITS> port_id_t;
typedef bit<PLANE_BITS> plane_t;
typedef bit<GROUP_ID_BITS> group_id_t;
typedef bit<BUCKET_BITS> bucket_t;
typedef bit<DROP_REASON_BITS> drop_reason_t;

// What identifies a flow to every load-balancing hash (ECMP bucket and pick,
// flowlet slot) on both targets: the 5-tuple and the RoCEv2 destination QP,
// from the parsed headers and the metadata both programs name alike.
#define FLOW_KEY_FIELDS hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.ipv4.protocol, \
                        meta.l4_src_port, meta.l4_dst_port, meta.dest_qp

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_ARP = 0x0806;
const bit<16> ARP_OPER_REQUEST = 1;
const bit<16> ARP_OPER_REPLY = 2;
const bit<8>  PROTO_TCP = 6;
const bit<8>  PROTO_UDP = 17;
const bit<16> UDP_PORT_ROCEV2 = 4791;
const bit<16> ETHERNET_MIN_FRAME = 60;   // without FCS: shorter IPv4 packets are padded

// ECN codepoints (RFC 3168).
const bit<2> ECN_NOT_ECT = 0;
const bit<2> ECN_ECT1 = 1;
const bit<2> ECN_ECT0 = 2;
const bit<2> ECN_CE = 3;

// Load-balancing modes of a next-hop group, chosen per group at run time.
const bit<2> LB_MODE_ECMP = 0;
const bit<2> LB_MODE_FLOWLET = 1;
const bit<2> LB_MODE_SPRAY = 2;
const bit<2> LB_MODE_ADAPTIVE = 3;

// Flowlet ids are 15 bits; the top bit of the stored id says "adaptive moved
// this flowlet to its alternate bucket" (load_balancing.p4).
const bit<16> FLOWLET_ID_MASK = 0x7fff;
const bit<16> FLOWLET_ALTERNATE = 0x8000;

// Drop reasons: index of the drop counter (stats.p4). 0 means "not dropped".
const drop_reason_t DROP_NONE = 0;
const drop_reason_t DROP_PARSER_ERROR = 1;     // truncated headers
const drop_reason_t DROP_NOT_IPV4 = 2;         // ARP, IPv6, other ethertypes
const drop_reason_t DROP_IPV4_CHECKSUM = 3;
const drop_reason_t DROP_IPV4_OPTIONS = 4;     // ihl != 5: options are not supported
const drop_reason_t DROP_TTL_EXPIRED = 5;      // TTL 0 or 1 on arrival
const drop_reason_t DROP_NO_ROUTE = 6;         // no route, or a route to a group with no entry
const drop_reason_t DROP_NO_LIVE_MEMBER = 7;   // both members of the flow's bucket are down
const drop_reason_t DROP_PLANE_VIOLATION = 8;  // chosen port is not in the packet's plane
const drop_reason_t DROP_NO_PLANE = 9;         // ingress port has no plane
const drop_reason_t DROP_IPV4_LENGTH = 10;     // total length disagrees with the frame
const drop_reason_t DROP_PUNT_LIMIT = 11;      // a port's frames for the CPU above PUNT_PER_WINDOW

// HPCC link-rate index carried in each INT hop (HPCC reference lineRateValues:
// 25/50/100/200/400 Gb/s; 5-7 mean 0, "unknown").
const bit<3> LINK_RATE_25G = 0;
const bit<3> LINK_RATE_50G = 1;
const bit<3> LINK_RATE_100G = 2;
const bit<3> LINK_RATE_200G = 3;
const bit<3> LINK_RATE_400G = 4;
const bit<3> LINK_RATE_UNKNOWN = 7;

#endif

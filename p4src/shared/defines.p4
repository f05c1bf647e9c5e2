// Protocol numbers and project-wide constants (architecture neutral).
#ifndef HPN_DEFINES_P4
#define HPN_DEFINES_P4

#include "sizes.p4"

typedef bit<48> mac_addr_t;
typedef bit<32> ipv4_addr_t;
typedef bit<16> group_id_t;
typedef bit<PORT_MASK_BITS> port_mask_t;
const port_mask_t PORT_MASK_ALL = ~(bit<PORT_MASK_BITS>)0;

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<8>  PROTO_TCP = 6;
const bit<8>  PROTO_UDP = 17;
const bit<16> UDP_PORT_ROCEV2 = 4791;

// INT for HPCC is carried only by UDP packets whose IPv4 DSCP is DSCP_INT:
// a 4-byte shim then nhop 8-byte hop records sit right after the UDP header
// (before the RoCEv2 BTH). Other traffic is never touched. See docs/int.md.
const bit<6>  DSCP_INT = 0x17;
const bit<4>  INT_VERSION = 1;
const bit<16> INT_SHIM_BYTES = 4;
const bit<16> INT_HOP_BYTES = 8;

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

// Drop reasons: index of the drop counter (stats.p4). 0 means "not dropped".
const bit<8> DROP_NONE = 0;
const bit<8> DROP_PARSER_ERROR = 1;    // truncated headers
const bit<8> DROP_NOT_IPV4 = 2;        // ARP, IPv6, other ethertypes
const bit<8> DROP_IPV4_CHECKSUM = 3;
const bit<8> DROP_IPV4_OPTIONS = 4;    // ihl != 5: options are not supported
const bit<8> DROP_TTL_EXPIRED = 5;     // TTL 0 or 1 on arrival
const bit<8> DROP_NO_ROUTE = 6;
const bit<8> DROP_NO_LIVE_MEMBER = 7;  // every member of the group, in this plane, is down
// 8 is unused: members outside the packet's plane are masked out before the
// choice (load_balancing.p4), so a plane violation cannot be chosen.
// Not a drop: INT shim with a bogus hop count is forwarded untouched and counted here.
const bit<8> COUNT_INT_MALFORMED = 9;

// HPCC link-rate index carried in each INT record (3 bits).
const bit<3> LINK_RATE_25G = 0;
const bit<3> LINK_RATE_50G = 1;
const bit<3> LINK_RATE_100G = 2;
const bit<3> LINK_RATE_200G = 3;
const bit<3> LINK_RATE_400G = 4;
const bit<3> LINK_RATE_10G = 5;

#endif

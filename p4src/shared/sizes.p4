// Table, register and counter sizes: the one place to change them.
// Every index the program computes is bounded by construction: either its
// type is exactly as wide as the array it indexes (ports, group ids, drop
// reasons) or it comes out of a hash with the array size as its range
// (flowlet slots). Nothing the controller writes can index past the end.
#ifndef HPN_SIZES_P4
#define HPN_SIZES_P4

#define PORT_BITS 9                // v1model and Tofino ports are 9 bits
#define MAX_PORTS 512              // = 2^PORT_BITS: per-port registers and counters
#define PORT_TABLE_SIZE 512
// The port packet-ins leave by and packet-outs come in by. bmv2: given to
// simple_switch_grpc as `-- --cpu-port 510` (9 bits, not 0, not 511, its drop
// port). Tofino 1: the PCIe CPU port of a 2-pipe part (pipe 0); 320 on a
// 4-pipe part: compile with -DTOFINO_CPU_PORT=320.
#define BMV2_CPU_PORT 510
#ifndef TOFINO_CPU_PORT
#define TOFINO_CPU_PORT 192
#endif
#define PLANE_BITS 2
#define PLANE_PORT_TABLE_SIZE 1024 // (plane, port) pairs: a port is in one plane

#define IPV4_LPM_SIZE 8192         // host /32s + (segment, rail) /24s, per plane (a pod ToR: 247); one Tofino stage of TCAM

#define GROUP_ID_BITS 12
#define MAX_GROUPS 4096            // = 2^GROUP_ID_BITS: per-group registers
#define GROUP_TABLE_SIZE 4096
#define BUCKET_BITS 8
#define MAX_BUCKETS 256            // = 2^BUCKET_BITS buckets per group at most
#define NEXT_HOP_TABLE_SIZE 16384  // (group, bucket) entries, all groups together
#define SELECTOR_MEMBERS 1024      // action profile members (one per port, + sentinel)
#define SELECTOR_GROUPS 16384      // selector groups: one per (group, bucket)
#define SELECTOR_GROUP_SIZE 3      // a bucket's pair + the bmv2 sentinel

#define SEED_SBOX_SIZE 4608         // Tofino: 256 hash bytes x 9 bucket widths x alternate bit

#define FLOWLET_SLOT_BITS 12
#define FLOWLET_SLOTS 4096         // = 2^FLOWLET_SLOT_BITS

#define PUNT_TABLE_SIZE 16         // ethertypes the controller asks for (LLDP, its link probe)
#define GATEWAY_ARP_TABLE_SIZE 64  // gateway addresses a switch answers ARP for
// At most PUNT_PER_WINDOW frames of one port go to the CPU per window of about
// 16 ms (each program sets the window from its clock): about 1,000 a second,
// 100 times what a port's link probes need (one per 100 ms), and a flooding
// port cannot take the controller from the others.
#define PUNT_PER_WINDOW 16

#define INT_HOP_SLOTS 5            // HPCC reference IntHeader::maxHop
#define DROP_REASON_BITS 4
#define DROP_REASON_COUNT 16       // = 2^DROP_REASON_BITS

#endif

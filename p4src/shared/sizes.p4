// Table, register and counter sizes: the one place to change them.
#ifndef HPN_SIZES_P4
#define HPN_SIZES_P4

// Ports that can be group members, planes and load-balancing masks are
// bitmaps over port numbers 0..PORT_MASK_BITS-1 (see load_balancing.p4).
#define PORT_MASK_BITS 256
#define MAX_PORTS 512            // v1model ports are 9 bits

#define IPV4_LPM_SIZE 16384      // host /32s + (segment, rail) /24s, per plane
#define GROUP_TABLE_SIZE 1024
#define MAX_GROUPS 1024          // group ids 0..MAX_GROUPS-1
#define PORT_TABLE_SIZE 512
#define PLANE_TABLE_SIZE 4

#define FLOWLET_SLOTS 4096       // flowlet state slots, indexed by flow hash
#define MEMBER_COUNTER_SIZE 262144  // MAX_GROUPS * PORT_MASK_BITS

#define INT_MAX_HOPS 5           // HPCC reference: at most 5 hop records
#define DROP_REASON_COUNT 16

#endif

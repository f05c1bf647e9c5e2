// Bit tricks on port masks: population count and "k-th member" selection.
// Groups, planes and liveness are bitmaps over ports, so a group never needs
// rewriting when a port dies: live = members & up & plane, then pick the k-th
// set bit of live. P4 has no loops, so both are SWAR sums (partial counts per
// 2, 4, ..., 128-bit block) and a binary descent over those partial counts.
#ifndef HPN_PORT_MASK_P4
#define HPN_PORT_MASK_P4

#if PORT_MASK_BITS != 256
#error "the SWAR constants below are written for 256-bit port masks"
#endif

const port_mask_t SWAR_M1 = 256w0x5555555555555555555555555555555555555555555555555555555555555555;
const port_mask_t SWAR_M2 = 256w0x3333333333333333333333333333333333333333333333333333333333333333;
const port_mask_t SWAR_M4 = 256w0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
const port_mask_t SWAR_M8 = 256w0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff;
const port_mask_t SWAR_M16 = 256w0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff;
const port_mask_t SWAR_M32 = 256w0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff;
const port_mask_t SWAR_M64 = 256w0x0000000000000000ffffffffffffffff0000000000000000ffffffffffffffff;
const port_mask_t SWAR_M128 = 256w0x00000000000000000000000000000000ffffffffffffffffffffffffffffffff;


// SWAR partial counts of X into C. p4c substitutes each step into the next
// (even through metadata), so every step reads the previous one only once:
// above 4-bit blocks, adding the upper half of each block to the lower one is
// a multiply by (1 + 2^w), exact because a w-bit block holds at most w < 2^w/2.
// Reading the previous step twice would grow the bmv2 expression tree as 2^7.
#define SWAR_COUNT(X, C) { \
    C.s1 = (X & SWAR_M1) + ((X >> 1) & SWAR_M1); \
    C.s2 = (C.s1 & SWAR_M2) + ((C.s1 >> 2) & SWAR_M2); \
    C.s3 = ((C.s2 * 17) >> 4) & SWAR_M4; \
    C.s4 = ((C.s3 * 257) >> 8) & SWAR_M8; \
    C.s5 = ((C.s4 * 65537) >> 16) & SWAR_M16; \
    C.s6 = ((C.s5 * 0x100000001) >> 32) & SWAR_M32; \
    C.s7 = ((C.s6 * 0x10000000000000001) >> 64) & SWAR_M64; \
    C.total = (bit<16>)(((C.s7 * 0x100000000000000000000000000000001) >> 128) & SWAR_M128); \
}

// Position of the k-th (0-based) set bit of x; c holds x's SWAR counts and
// k < c.total. Each step asks: are there more than k members in the lower
// half of the current block? If not, skip that half.
bit<16> kth_set_bit(in port_mask_t x, in swar_counts_t c, in bit<16> k_in) {
    bit<16> k = k_in;
    bit<8> pos = 0;    // bmv2 shifts by at most 8 bits; positions are < 256
    bit<16> n;
    n = (bit<16>)((c.s7 >> pos) & 0xffff);
    if (k >= n) { k = k - n; pos = pos + 128; }
    n = (bit<16>)((c.s6 >> pos) & 0xffff);
    if (k >= n) { k = k - n; pos = pos + 64; }
    n = (bit<16>)((c.s5 >> pos) & 0xffff);
    if (k >= n) { k = k - n; pos = pos + 32; }
    n = (bit<16>)((c.s4 >> pos) & 0xffff);
    if (k >= n) { k = k - n; pos = pos + 16; }
    n = (bit<16>)((c.s3 >> pos) & 0xff);
    if (k >= n) { k = k - n; pos = pos + 8; }
    n = (bit<16>)((c.s2 >> pos) & 0xf);
    if (k >= n) { k = k - n; pos = pos + 4; }
    n = (bit<16>)((c.s1 >> pos) & 0x3);
    if (k >= n) { k = k - n; pos = pos + 2; }
    n = (bit<16>)((x >> pos) & 0x1);
    if (k >= n) { pos = pos + 1; }
    return (bit<16>)pos;
}

#endif

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
const port_mask_t PORT_MASK_ALL = 256w0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff;

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

swar_counts_t swar_count(in port_mask_t x) {
    swar_counts_t c;
    c.s1 = (x & SWAR_M1) + ((x >> 1) & SWAR_M1);
    c.s2 = (c.s1 & SWAR_M2) + ((c.s1 >> 2) & SWAR_M2);
    c.s3 = (c.s2 & SWAR_M4) + ((c.s2 >> 4) & SWAR_M4);
    c.s4 = (c.s3 & SWAR_M8) + ((c.s3 >> 8) & SWAR_M8);
    c.s5 = (c.s4 & SWAR_M16) + ((c.s4 >> 16) & SWAR_M16);
    c.s6 = (c.s5 & SWAR_M32) + ((c.s5 >> 32) & SWAR_M32);
    c.s7 = (c.s6 & SWAR_M64) + ((c.s6 >> 64) & SWAR_M64);
    c.total = (bit<16>)((c.s7 & SWAR_M128) + ((c.s7 >> 128) & SWAR_M128));
    return c;
}

// Position of the k-th (0-based) set bit of x; c holds x's SWAR counts and
// k < c.total. Each step asks: are there more than k members in the lower
// half of the current block? If not, skip that half.
bit<16> kth_set_bit(in port_mask_t x, in swar_counts_t c, in bit<16> k_in) {
    bit<16> k = k_in;
    bit<16> pos = 0;
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
    return pos;
}

#endif

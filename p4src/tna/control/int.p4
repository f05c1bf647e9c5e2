// INT for HPCC on Tofino: each hop fills slot nhop mod 5 of the fixed stack
// after the BTH (int_fill set) and increments nhop, in place (docs/int.md):
//   line_rate  index of the egress link's speed (int_port)
//   time       egress global timestamp in ns, low 24 bits
//   bytes      bytes sent on the egress port before this packet (a 32-bit
//              RegisterAction adding pkt_length, returning the old value), / 128
//   qlen       deq_qdepth: Tofino1 counts queues in 80-byte cells, HPCC's qlen
//              unit, so it is the value itself, saturated at 17 bits
#ifndef HPN_TNA_INT_P4
#define HPN_TNA_INT_P4

// The hop is built once, in metadata (new_hop), then copied into its slot
// with two 32-bit moves. Building it scatters time, bytes and qlen over the
// reference's little-endian word (headers.p4 has the byte-by-byte map); the
// hash unit does that (@in_hash: any input bit to any output bit), where an
// ALU could not (its operands must share one bit offset).
#define INT_FILL_ACTION(I) \
    action fill_##I() { \
        hdr.int_hops[I].bytes_0_3 = meta.new_hop.bytes_0_3; \
        hdr.int_hops[I].bytes_4_7 = meta.new_hop.bytes_4_7; \
    }

control IntTelemetry(inout headers_t hdr,
                     inout egress_metadata_t meta,
                     in egress_intrinsic_metadata_t eg_intr_md,
                     in egress_intrinsic_metadata_from_parser_t eg_prsr_md) {
    Register<bit<32>, PortId_t>(MAX_PORTS, 0) port_tx_bytes;
    RegisterAction<bit<32>, PortId_t, bit<32>>(port_tx_bytes) tx_bytes_before = {
        void apply(inout bit<32> value, out bit<32> before) {
            before = value;
            value = value + (bit<32>)eg_intr_md.pkt_length;
        }
    };

    action set_link_rate(bit<3> rate) {
        meta.link_rate = rate;
    }

    table int_port {
        key = { eg_intr_md.egress_port: exact @name("port"); }
        actions = { set_link_rate; }
        default_action = set_link_rate(LINK_RATE_UNKNOWN);
        size = PORT_TABLE_SIZE;
    }

    INT_FILL_ACTION(0)
    INT_FILL_ACTION(1)
    INT_FILL_ACTION(2)
    INT_FILL_ACTION(3)
    INT_FILL_ACTION(4)

    // nhop mod 5 without a divider: 256 = 16 = 1 (mod 5), so the sum of
    // nhop's four nibbles (< 61) has its residue; that sum indexes int_slot.
    // All in 8-bit fields, one ALU operation per field per action, each
    // dependent step an action (a stage) of its own: Tofino's ALUs need
    // operands of the container's size at the same bit offset.
    bit<8> lo_hi = 0;
    bit<8> lo_lo = 0;
    bit<8> hi_hi = 0;
    bit<8> hi_lo = 0;
    action split_nibbles() {
        lo_hi = hdr.int_nhop.lo >> 4;
        lo_lo = hdr.int_nhop.lo & 0xf;
        hi_hi = hdr.int_nhop.hi >> 4;
        hi_lo = hdr.int_nhop.hi & 0xf;
    }
    action add_nibble_pairs() {
        lo_hi = lo_hi + lo_lo;
        hi_hi = hi_hi + hi_lo;
    }
    action fold_nibbles() {
        meta.nhop_fold = lo_hi + hi_hi;
    }
    action set_slot(bit<3> slot) {
        meta.slot = slot;
    }

    table int_slot {
        key = { meta.nhop_fold: exact @name("fold"); }
        actions = { set_slot; }
        const entries = {
            0: set_slot(0); 1: set_slot(1); 2: set_slot(2); 3: set_slot(3); 4: set_slot(4);
            5: set_slot(0); 6: set_slot(1); 7: set_slot(2); 8: set_slot(3); 9: set_slot(4);
            10: set_slot(0); 11: set_slot(1); 12: set_slot(2); 13: set_slot(3); 14: set_slot(4);
            15: set_slot(0); 16: set_slot(1); 17: set_slot(2); 18: set_slot(3); 19: set_slot(4);
            20: set_slot(0); 21: set_slot(1); 22: set_slot(2); 23: set_slot(3); 24: set_slot(4);
            25: set_slot(0); 26: set_slot(1); 27: set_slot(2); 28: set_slot(3); 29: set_slot(4);
            30: set_slot(0); 31: set_slot(1); 32: set_slot(2); 33: set_slot(3); 34: set_slot(4);
            35: set_slot(0); 36: set_slot(1); 37: set_slot(2); 38: set_slot(3); 39: set_slot(4);
            40: set_slot(0); 41: set_slot(1); 42: set_slot(2); 43: set_slot(3); 44: set_slot(4);
            45: set_slot(0); 46: set_slot(1); 47: set_slot(2); 48: set_slot(3); 49: set_slot(4);
            50: set_slot(0); 51: set_slot(1); 52: set_slot(2); 53: set_slot(3); 54: set_slot(4);
            55: set_slot(0); 56: set_slot(1); 57: set_slot(2); 58: set_slot(3); 59: set_slot(4);
            60: set_slot(0);
        }
        default_action = set_slot(0);
        size = 64;  // 61 residues
    }

    table int_fill {
        key = { meta.slot: exact @name("slot"); }
        actions = { fill_0; fill_1; fill_2; fill_3; fill_4; }
        const entries = {
            0: fill_0(); 1: fill_1(); 2: fill_2(); 3: fill_3(); 4: fill_4();
        }
        default_action = fill_4();
        size = 8;
    }

    apply {
        meta.tx_before = tx_bytes_before.execute(eg_intr_md.egress_port);
        if (hdr.int_nhop.isValid()) {
            int_port.apply();
            if (eg_intr_md.deq_qdepth > 0x1ffff) {
                meta.qlen = 0x1ffff;
            } else {
                meta.qlen = eg_intr_md.deq_qdepth[16:0];
            }
            // w = the 64-bit word; t = time, b = bytes = tx_before / 128, q = qlen
            @in_hash {
                meta.new_hop.bytes_0_3 = eg_prsr_md.global_tstamp[4:0] ++ meta.link_rate   // byte 0: t[4:0], rate
                    ++ eg_prsr_md.global_tstamp[12:5] ++ eg_prsr_md.global_tstamp[20:13]  // bytes 1, 2
                    ++ meta.tx_before[11:7] ++ eg_prsr_md.global_tstamp[23:21];           // byte 3: b[4:0], t[23:21]
            }
            @in_hash {
                meta.new_hop.bytes_4_7 = meta.tx_before[19:12]                             // byte 4: b[12:5]
                    ++ meta.qlen[0:0] ++ meta.tx_before[26:20]                            // byte 5: q[0], b[19:13]
                    ++ meta.qlen[8:1] ++ meta.qlen[16:9];                                 // bytes 6, 7
            }
            split_nibbles();
            add_nibble_pairs();
            fold_nibbles();    // < 61
            int_slot.apply();
            int_fill.apply();
            // nhop + 1, byte by byte (little-endian, as the reference's uint16)
            if (hdr.int_nhop.lo == 0xff) {
                hdr.int_nhop.hi = hdr.int_nhop.hi + 1;
            }
            hdr.int_nhop.lo = hdr.int_nhop.lo + 1;
            // A zero UDP checksum ("none", RoCEv2 practice) stays zero.
            if (hdr.udp.checksum != 0) {
                meta.udp_checksum_update = 1;
            }
        }
    }
}

#endif

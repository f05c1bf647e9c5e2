// v1model parser, checksum controls and deparser.
#ifndef HPN_V1MODEL_PARSER_P4
#define HPN_V1MODEL_PARSER_P4

parser HpnParser(packet_in pkt,
                 out headers_t hdr,
                 inout metadata_t meta,
                 inout standard_metadata_t std_meta) {
    state start {
        transition select(std_meta.ingress_port) {
            BMV2_CPU_PORT: parse_packet_out;
            default: parse_ethernet;
        }
    }

    // A frame from the controller: its header, then the frame to send as it
    // is (not parsed: it bypasses every table but the CPU path's).
    state parse_packet_out {
        pkt.extract(hdr.packet_out);
        transition accept;
    }

    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_ARP: parse_arp;
            default: accept;           // other non-IP: punted if asked for, else dropped
        }
    }

    state parse_arp {
        pkt.extract(hdr.arp);
        transition accept;
    }

    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        // L4 headers only of option-free, unfragmented packets: every fragment
        // of a datagram (the first one too) is hashed on its addresses alone,
        // so all of them take one path, and INT is never added to a fragment.
        // IPv4 options are dropped and counted in ingress.
        transition select(hdr.ipv4.ihl, hdr.ipv4.flag_mf, hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (5, 0, 0, PROTO_TCP): parse_tcp;
            (5, 0, 0, PROTO_UDP): parse_udp;
            default: accept;
        }
    }

    state parse_tcp {
        pkt.extract(hdr.tcp);
        meta.l4_src_port = hdr.tcp.src_port;
        meta.l4_dst_port = hdr.tcp.dst_port;
        transition accept;
    }

    state parse_udp {
        pkt.extract(hdr.udp);
        meta.l4_src_port = hdr.udp.src_port;
        meta.l4_dst_port = hdr.udp.dst_port;
        transition select(hdr.udp.dst_port) {
            UDP_PORT_ROCEV2: parse_bth;
            default: accept;
        }
    }

    state parse_bth {
        pkt.extract(hdr.bth);
        meta.dest_qp = hdr.bth.dest_qp;
        // Fill only a stack marked for filling (and not also as an echo).
        transition select(hdr.bth.int_fill, hdr.bth.int_echo) {
            (1, 0): parse_int;
            default: accept;
        }
    }

    // The fixed 42-byte stack of the HPCC reference: five hops, then nhop.
    state parse_int {
        pkt.extract(hdr.int_hops[0]);
        pkt.extract(hdr.int_hops[1]);
        pkt.extract(hdr.int_hops[2]);
        pkt.extract(hdr.int_hops[3]);
        pkt.extract(hdr.int_hops[4]);
        pkt.extract(hdr.int_nhop);
        transition accept;
    }
}

control HpnVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        verify_checksum(hdr.ipv4.isValid() && hdr.ipv4.ihl == 5,
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
              hdr.ipv4.total_len, hdr.ipv4.identification, hdr.ipv4.flag_reserved,
              hdr.ipv4.flag_df, hdr.ipv4.flag_mf, hdr.ipv4.frag_offset,
              hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum, HashAlgorithm.csum16);
    }
}

control HpnComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        update_checksum(hdr.ipv4.isValid() && hdr.ipv4.ihl == 5,
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
              hdr.ipv4.total_len, hdr.ipv4.identification, hdr.ipv4.flag_reserved,
              hdr.ipv4.flag_df, hdr.ipv4.flag_mf, hdr.ipv4.frag_offset,
              hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum, HashAlgorithm.csum16);
        // A hop rewrote INT bytes inside the UDP payload: redo the UDP checksum
        // over the parsed headers plus the unparsed payload. A zero checksum
        // ("none", RFC 768; RoCEv2 senders use it) stays zero. Only packets
        // that carry the stack are ever changed, so only they are recomputed.
        update_checksum_with_payload(
            hdr.int_nhop.isValid() && hdr.udp.checksum != 0,
            { hdr.ipv4.src_addr, hdr.ipv4.dst_addr, 8w0, hdr.ipv4.protocol,
              hdr.udp.length,
              hdr.udp.src_port, hdr.udp.dst_port, hdr.udp.length,
              hdr.bth,
              hdr.int_hops[0], hdr.int_hops[1], hdr.int_hops[2],
              hdr.int_hops[3], hdr.int_hops[4], hdr.int_nhop },
            hdr.udp.checksum, HashAlgorithm.csum16);
    }
}

control HpnDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.packet_in);
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.arp);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.tcp);
        pkt.emit(hdr.udp);
        pkt.emit(hdr.bth);
        pkt.emit(hdr.int_hops);
        pkt.emit(hdr.int_nhop);
    }
}

#endif

// v1model parser, checksum controls and deparser.
#ifndef HPN_V1MODEL_PARSER_P4
#define HPN_V1MODEL_PARSER_P4

parser HpnParser(packet_in pkt,
                 out headers_t hdr,
                 inout metadata_t meta,
                 inout standard_metadata_t std_meta) {
    state start {
        transition parse_ethernet;
    }

    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;           // non-IP: dropped and counted in ingress
        }
    }

    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        // Only option-free, unfragmented (or first-fragment) packets have their
        // L4 header parsed; IPv4 options are dropped and counted in ingress.
        transition select(hdr.ipv4.ihl, hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (5, 0, PROTO_TCP): parse_tcp;
            (5, 0, PROTO_UDP): parse_udp;
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
        transition select(hdr.ipv4.dscp) {
            DSCP_INT: parse_int_shim;
            default: parse_udp_payload;
        }
    }

    state parse_int_shim {
        pkt.extract(hdr.int_shim);
        meta.int_remaining = hdr.int_shim.nhop;
        // A shim we do not understand, or a hop count the stack cannot hold,
        // leaves the records unparsed: the packet is forwarded untouched.
        transition select(hdr.int_shim.version, hdr.int_shim.nhop) {
            (INT_VERSION, 0): parse_udp_payload;
            (INT_VERSION, 1): parse_int_hop;
            (INT_VERSION, 2): parse_int_hop;
            (INT_VERSION, 3): parse_int_hop;
            (INT_VERSION, 4): parse_int_hop;
            (INT_VERSION, 5): parse_int_hop;
            default: int_malformed;
        }
    }

    state parse_int_hop {
        pkt.extract(hdr.int_hops.next);
        meta.int_remaining = meta.int_remaining - 1;
        transition select(meta.int_remaining) {
            0: parse_udp_payload;
            default: parse_int_hop;
        }
    }

    state int_malformed {
        meta.int_malformed = 1;
        transition accept;
    }

    state parse_udp_payload {
        transition select(hdr.udp.dst_port) {
            UDP_PORT_ROCEV2: parse_bth;
            default: accept;
        }
    }

    state parse_bth {
        pkt.extract(hdr.bth);
        meta.dest_qp = hdr.bth.dest_qp;
        transition accept;
    }
}

control HpnVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        verify_checksum(hdr.ipv4.isValid() && hdr.ipv4.ihl == 5,
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
              hdr.ipv4.total_len, hdr.ipv4.identification, hdr.ipv4.flags,
              hdr.ipv4.frag_offset, hdr.ipv4.ttl, hdr.ipv4.protocol,
              hdr.ipv4.src_addr, hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum, HashAlgorithm.csum16);
    }
}

control HpnComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        update_checksum(hdr.ipv4.isValid() && hdr.ipv4.ihl == 5,
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
              hdr.ipv4.total_len, hdr.ipv4.identification, hdr.ipv4.flags,
              hdr.ipv4.frag_offset, hdr.ipv4.ttl, hdr.ipv4.protocol,
              hdr.ipv4.src_addr, hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum, HashAlgorithm.csum16);
        // INT records are parsed headers, so the UDP checksum is recomputed
        // over them plus the unparsed payload when a hop changed them. A zero
        // checksum ("none", RFC 768; RoCEv2 senders use it) stays zero.
        // bmv2 skips invalid headers when building the checksum input.
        update_checksum_with_payload(
            meta.int_touched == 1 && hdr.udp.checksum != 0,
            { hdr.ipv4.src_addr, hdr.ipv4.dst_addr, 8w0, hdr.ipv4.protocol,
              hdr.udp.length,
              hdr.udp.src_port, hdr.udp.dst_port, hdr.udp.length,
              hdr.int_shim,
              hdr.int_hops[0], hdr.int_hops[1], hdr.int_hops[2],
              hdr.int_hops[3], hdr.int_hops[4],
              hdr.bth },
            hdr.udp.checksum, HashAlgorithm.csum16);
    }
}

control HpnDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.tcp);
        pkt.emit(hdr.udp);
        pkt.emit(hdr.int_shim);
        pkt.emit(hdr.int_hops);
        pkt.emit(hdr.bth);
    }
}

#endif

// TNA parsers and deparsers. Ingress and egress parse the same headers; the
// egress parser also takes the INT bytes out of the UDP checksum, so the
// deparser can put the new ones in (Tofino cannot sum a payload: the UDP
// checksum is updated incrementally, and only when it is not zero).
#ifndef HPN_TNA_PARSER_P4
#define HPN_TNA_PARSER_P4

parser HpnIngressParser(packet_in pkt,
                        out headers_t hdr,
                        out ingress_metadata_t meta,
                        out ingress_intrinsic_metadata_t ig_intr_md) {
    Checksum() ipv4_checksum;

    state start {
        pkt.extract(ig_intr_md);
        meta.drop_reason = DROP_NONE;
        meta.ipv4_checksum_error = 0;
        meta.l4_src_port = 0;
        meta.l4_dst_port = 0;
        meta.dest_qp = 0;
        transition select(ig_intr_md.resubmit_flag) {
            1: parse_resubmit;
            default: parse_port_metadata;
        }
    }

    state parse_resubmit {
        pkt.extract(meta.resubmit);
        transition parse_ethernet;
    }

    state parse_port_metadata {
        meta.resubmit.setValid();
        meta.resubmit.adaptive_retry = 0;
        meta.resubmit.pad = 0;
        pkt.advance(PORT_METADATA_SIZE);
        transition select(ig_intr_md.ingress_port) {
            TOFINO_CPU_PORT: parse_packet_out;
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
            default: accept;
        }
    }

    state parse_arp {
        pkt.extract(hdr.arp);
        transition accept;
    }

    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        ipv4_checksum.add(hdr.ipv4);
        meta.ipv4_checksum_error = (bit<1>)ipv4_checksum.verify();
        // As in the v1model parser: L4 only of option-free, unfragmented packets.
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
        transition accept;   // ingress does not touch the INT stack
    }
}

control HpnIngressDeparser(packet_out pkt,
                           inout headers_t hdr,
                           in ingress_metadata_t meta,
                           in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    Checksum() ipv4_checksum;
    Resubmit() resubmit;

    apply {
        if (ig_dprsr_md.resubmit_type == RESUBMIT_ADAPTIVE) {
            resubmit.emit(meta.resubmit);
        }
        hdr.ipv4.hdr_checksum = ipv4_checksum.update({
            hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
            hdr.ipv4.total_len, hdr.ipv4.identification, hdr.ipv4.flag_reserved,
            hdr.ipv4.flag_df, hdr.ipv4.flag_mf, hdr.ipv4.frag_offset,
            hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr });
        pkt.emit(hdr);
    }
}

parser HpnEgressParser(packet_in pkt,
                       out headers_t hdr,
                       out egress_metadata_t meta,
                       out egress_intrinsic_metadata_t eg_intr_md) {
    Checksum() udp_checksum;

    state start {
        pkt.extract(eg_intr_md);
        meta.udp_residual = 0;
        meta.udp_checksum_update = 0;
        // A frame for the CPU carries its packet-in header in front: egress
        // leaves it as it is.
        transition select(eg_intr_md.egress_port) {
            TOFINO_CPU_PORT: accept;
            default: parse_ethernet;
        }
    }

    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }

    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        transition select(hdr.ipv4.ihl, hdr.ipv4.flag_mf, hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (5, 0, 0, PROTO_UDP): parse_udp;
            default: accept;
        }
    }

    state parse_udp {
        pkt.extract(hdr.udp);
        // Tofino's parser checksums only fields extracted in the same state.
        udp_checksum.subtract({ hdr.udp.checksum });
        transition select(hdr.udp.dst_port) {
            UDP_PORT_ROCEV2: parse_bth;
            default: accept;
        }
    }

    state parse_bth {
        pkt.extract(hdr.bth);
        // Fill only a stack marked for filling (and not also as an echo).
        transition select(hdr.bth.int_fill, hdr.bth.int_echo) {
            (1, 0): parse_int;
            default: accept;
        }
    }

    // The fixed 42-byte stack; its old bytes and the old checksum leave the sum.
    state parse_int {
        pkt.extract(hdr.int_hops[0]);
        pkt.extract(hdr.int_hops[1]);
        pkt.extract(hdr.int_hops[2]);
        pkt.extract(hdr.int_hops[3]);
        pkt.extract(hdr.int_hops[4]);
        pkt.extract(hdr.int_nhop);
        udp_checksum.subtract({ hdr.int_hops[0], hdr.int_hops[1], hdr.int_hops[2],
                                hdr.int_hops[3], hdr.int_hops[4], hdr.int_nhop });
        meta.udp_residual = udp_checksum.get();
        transition accept;
    }
}

control HpnEgressDeparser(packet_out pkt,
                          inout headers_t hdr,
                          in egress_metadata_t meta,
                          in egress_intrinsic_metadata_for_deparser_t eg_dprsr_md) {
    Checksum() ipv4_checksum;
    Checksum() udp_checksum;

    apply {
        hdr.ipv4.hdr_checksum = ipv4_checksum.update({
            hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
            hdr.ipv4.total_len, hdr.ipv4.identification, hdr.ipv4.flag_reserved,
            hdr.ipv4.flag_df, hdr.ipv4.flag_mf, hdr.ipv4.frag_offset,
            hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr });
        // The deparser can only test a metadata bit; IntTelemetry sets it.
        if (meta.udp_checksum_update == 1) {
            hdr.udp.checksum = udp_checksum.update({
                hdr.int_hops[0], hdr.int_hops[1], hdr.int_hops[2],
                hdr.int_hops[3], hdr.int_hops[4], hdr.int_nhop, meta.udp_residual });
        }
        pkt.emit(hdr);
    }
}

#endif

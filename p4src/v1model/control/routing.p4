// IPv4 routing: (plane, destination) LPM -> next-hop group; after the load
// balancer picked the port, per-port MAC rewrite and TTL decrement.
#ifndef HPN_ROUTING_P4
#define HPN_ROUTING_P4

control Routing(inout headers_t hdr,
                inout metadata_t meta,
                inout standard_metadata_t std_meta) {
    action set_next_hop_group(group_id_t group_id) {
        meta.group_id = group_id;
        meta.routed = 1;
    }

    action no_route() {
        meta.drop_reason = DROP_NO_ROUTE;
    }

    table ipv4_lpm {
        key = {
            meta.plane: exact @name("plane");
            hdr.ipv4.dst_addr: lpm @name("dst_addr");
        }
        actions = { set_next_hop_group; no_route; }
        default_action = no_route();
        size = IPV4_LPM_SIZE;
    }

    apply {
        if (hdr.ipv4.ttl <= 1) {
            meta.drop_reason = DROP_TTL_EXPIRED;
        } else {
            ipv4_lpm.apply();
        }
    }
}

control NextHopRewrite(inout headers_t hdr,
                       inout metadata_t meta,
                       inout standard_metadata_t std_meta) {
    action rewrite_macs(mac_addr_t src_mac, mac_addr_t dst_mac) {
        hdr.ethernet.src_addr = src_mac;
        hdr.ethernet.dst_addr = dst_mac;
    }

    // One neighbour per port in a Clos: the port decides both MACs.
    table port_mac {
        key = { std_meta.egress_spec: exact @name("port"); }
        actions = { rewrite_macs; NoAction; }
        default_action = NoAction();
        size = PORT_TABLE_SIZE;
    }

    apply {
        port_mac.apply();
        hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
    }
}

#endif

// IPv4 routing: (plane, destination) LPM -> next-hop group; after the load
// balancer chose the port, the (plane, port) rewrite and the TTL decrement.
// Architecture neutral: both programs pass in the fields these controls use.
#ifndef HPN_ROUTING_P4
#define HPN_ROUTING_P4

// packet_group is inout and only written by a hit: an initialising write
// would be one more Tofino stage before the LPM (the caller's metadata
// starts at 0 on both targets).
control Routing(in ipv4_t ipv4, in plane_t plane, inout group_id_t packet_group, inout drop_reason_t drop_reason) {
    action set_next_hop_group(group_id_t group_id) {
        packet_group = group_id;
    }

    action no_route() {
        packet_group = 0;
        drop_reason = DROP_NO_ROUTE;
    }

    table ipv4_lpm {
        key = {
            plane: exact @name("plane");
            ipv4.dst_addr: lpm @name("dst_addr");
        }
        actions = { set_next_hop_group; no_route; }
        default_action = no_route();
        size = IPV4_LPM_SIZE;
    }

    apply {
        if (ipv4.ttl <= 1) {
            drop_reason = DROP_TTL_EXPIRED;
        } else {
            ipv4_lpm.apply();
        }
    }
}

// One neighbour per port in a Clos: (plane, port) decides both MACs. The
// plane is part of the key, so this table is also the plane's port set: a
// port the controller did not list for the packet's plane (or a plane with
// no ports at all) drops the packet (DROP_PLANE_VIOLATION).
// member_tx counts the frames the load balancer sent to each member (port),
// here, where plane_port has let them go: a frame it drops never left. Each
// program declares the counter (MEMBER_TX_COUNTER, MEMBER_TX_COUNT: the
// counter externs differ); its name stays the load balancer's.
control NextHopRewrite(inout ethernet_t ethernet,
                       inout ipv4_t ipv4,
                       in plane_t plane,
                       in port_id_t egress_port,
                       inout drop_reason_t drop_reason) {
    @name(".HpnIngress.load_balancing.member_tx") MEMBER_TX_COUNTER member_tx;

    action rewrite_macs(mac_addr_t src_mac, mac_addr_t dst_mac) {
        ethernet.src_addr = src_mac;
        ethernet.dst_addr = dst_mac;
        ipv4.ttl = ipv4.ttl - 1;
        MEMBER_TX_COUNT(member_tx, egress_port)
    }

    action plane_violation() {
        drop_reason = DROP_PLANE_VIOLATION;
    }

    table plane_port {
        key = {
            plane: exact @name("plane");
            egress_port: exact @name("port");
        }
        actions = { rewrite_macs; plane_violation; }
        default_action = plane_violation();
        size = PLANE_PORT_TABLE_SIZE;
    }

    apply {
        plane_port.apply();
    }
}

#endif

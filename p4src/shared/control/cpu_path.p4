// The frames a switch answers itself or hands to its controller: ARP requests
// for the gateway address of the hosts' ports, answered here; the ethertypes
// the controller asked for (LLDP, its link probe), punted. Architecture
// neutral: each program sends the result where its architecture says
// (egress port, CPU port, packet-in header) and bounds the punts per port.
// IPv4 never comes here: data traffic never reaches the CPU.
#ifndef HPN_CPU_PATH_P4
#define HPN_CPU_PATH_P4

// A stock Linux host with a plain default route reaches its ToR: it asks for
// the gateway's MAC and this switch answers from the entry for that address,
// out of the port the request came in (no permanent neighbour entries).
// Any other ARP is left `answered` 0 for the punt filter: a ToR hands it to
// its controller (the hosts' replies to its host probes show which NIC is on
// which port), a switch without hosts drops it.
control GatewayArp(inout ethernet_t ethernet,
                   inout arp_t arp,
                   in port_id_t ingress_port,
                   inout port_id_t egress_port,
                   inout bit<1> answered) {
    action answer(mac_addr_t gateway_mac) {
        ethernet.dst_addr = ethernet.src_addr;
        ethernet.src_addr = gateway_mac;
        arp.oper = ARP_OPER_REPLY;
        arp.target_hw = arp.sender_hw;
        arp.sender_hw = gateway_mac;
        ipv4_addr_t asked = arp.target_ip;
        arp.target_ip = arp.sender_ip;
        arp.sender_ip = asked;
        egress_port = ingress_port;
        answered = 1;
    }

    action not_gateway() {
    }

    table gateway_arp {
        key = { arp.target_ip: exact @name("target_ip"); }
        actions = { answer; @defaultonly not_gateway; }
        default_action = not_gateway();
        size = GATEWAY_ARP_TABLE_SIZE;
    }

    apply {
        if (arp.oper == ARP_OPER_REQUEST) {
            gateway_arp.apply();
        }
    }
}

// Which non-IPv4 frames go to the controller: the ethertypes it listed (ARP
// only on a switch with hosts, and only what GatewayArp left unanswered).
// Everything else is dropped (DROP_NOT_IPV4).
control PuntFilter(in ethernet_t ethernet, inout bit<1> punt, inout drop_reason_t drop_reason) {
    action to_cpu() {
        punt = 1;
    }

    action not_asked() {
        drop_reason = DROP_NOT_IPV4;
    }

    table cpu_punt {
        key = { ethernet.ether_type: exact @name("ether_type"); }
        actions = { to_cpu; @defaultonly not_asked; }
        default_action = not_asked();
        size = PUNT_TABLE_SIZE;
    }

    apply {
        cpu_punt.apply();
    }
}

#endif

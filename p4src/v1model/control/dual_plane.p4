// Dual-plane: every ingress port belongs to one plane; a packet may only
// leave on ports of its plane (load_balancing.p4 masks members with
// meta.plane_ports), so once a flow enters a plane it never leaves it.
#ifndef HPN_DUAL_PLANE_P4
#define HPN_DUAL_PLANE_P4

control DualPlane(inout headers_t hdr,
                  inout metadata_t meta,
                  inout standard_metadata_t std_meta) {
    action set_plane(bit<2> plane) {
        meta.plane = plane;
    }

    // Unlisted ports are in plane 0: a switch with no dual-plane config
    // behaves as a single-plane router.
    table ingress_port_plane {
        key = { std_meta.ingress_port: exact @name("ingress_port"); }
        actions = { set_plane; }
        default_action = set_plane(0);
        size = PORT_TABLE_SIZE;
    }

    action set_plane_ports(port_mask_t ports) {
        meta.plane_ports = ports;
    }

    action plane_unconfigured() {
        meta.plane_ports = PORT_MASK_ALL;
    }

    table plane_ports {
        key = { meta.plane: exact @name("plane"); }
        actions = { set_plane_ports; plane_unconfigured; }
        default_action = plane_unconfigured();
        size = PLANE_TABLE_SIZE;
    }

    apply {
        ingress_port_plane.apply();
        plane_ports.apply();
    }
}

#endif

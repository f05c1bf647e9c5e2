// Dual-plane: every ingress port belongs to one plane, and a packet may only
// leave on a port of its plane. Routes and next-hop groups are per plane
// (routing.p4 keys on it), and NextHopRewrite checks the chosen port against
// the plane again, so once a flow enters a plane it never leaves it.
// Fail closed: a port without a plane drops its packets (DROP_NO_PLANE).
// Architecture neutral: both programs pass the ingress port in.
#ifndef HPN_DUAL_PLANE_P4
#define HPN_DUAL_PLANE_P4

control DualPlane(in port_id_t ingress_port, out plane_t packet_plane, inout drop_reason_t drop_reason) {
    action set_plane(plane_t plane) {
        packet_plane = plane;
    }

    action plane_unknown() {
        packet_plane = 0;
        drop_reason = DROP_NO_PLANE;
    }

    table ingress_port_plane {
        key = { ingress_port: exact @name("ingress_port"); }
        actions = { set_plane; plane_unknown; }
        default_action = plane_unknown();
        size = PORT_TABLE_SIZE;
    }

    apply {
        ingress_port_plane.apply();
    }
}

#endif

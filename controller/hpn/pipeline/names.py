"""Every P4 table, action, field and counter name the controller uses.

pipeline/ is the only package that knows P4 names; `hpn.pipeline.p4info`
checks all of them against the committed P4Info when it is loaded, so a
renamed table in the P4 fails loudly at start, not at the first write.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableName:
    """A table with its match fields and the actions (with params) we use."""

    name: str
    match_fields: tuple[str, ...]
    actions: dict[str, tuple[str, ...]]
    keyless: bool = False


_IN = "HpnIngress"
_EG = "HpnEgress"

IPV4_LPM = TableName(
    f"{_IN}.routing.ipv4_lpm",
    ("plane", "dst_addr"),
    {f"{_IN}.routing.set_next_hop_group": ("group_id",), f"{_IN}.routing.no_route": ()},
)
PORT_MAC = TableName(
    f"{_IN}.next_hop.port_mac",
    ("port",),
    {f"{_IN}.next_hop.rewrite_macs": ("src_mac", "dst_mac")},
)
GROUP_TABLE = TableName(
    f"{_IN}.load_balancing.group_table",
    ("group_id",),
    {f"{_IN}.load_balancing.set_group": ("lb_mode", "member_ports")},
)
LB_PARAMS = TableName(
    f"{_IN}.load_balancing.lb_params",
    (),
    {f"{_IN}.load_balancing.set_lb_params": ("seed", "flowlet_gap_us", "load_window_us")},
    keyless=True,
)
PORT_LIVENESS = TableName(
    f"{_IN}.load_balancing.port_liveness",
    (),
    {f"{_IN}.load_balancing.set_live_ports": ("ports",)},
    keyless=True,
)
INGRESS_PORT_PLANE = TableName(
    f"{_IN}.dual_plane.ingress_port_plane",
    ("ingress_port",),
    {f"{_IN}.dual_plane.set_plane": ("plane",)},
)
PLANE_PORTS = TableName(
    f"{_IN}.dual_plane.plane_ports",
    ("plane",),
    {f"{_IN}.dual_plane.set_plane_ports": ("ports",)},
)
ECN_PORT = TableName(
    f"{_EG}.ecn.ecn_port",
    ("port",),
    {f"{_EG}.ecn.set_red": ("kmin_pkts", "kmax_pkts", "pmax_scaled")},
)
INT_PORT = TableName(
    f"{_EG}.int_telemetry.int_port",
    ("port",),
    {f"{_EG}.int_telemetry.set_link_rate": ("rate",)},
)

ALL_TABLES: tuple[TableName, ...] = (
    IPV4_LPM,
    PORT_MAC,
    GROUP_TABLE,
    LB_PARAMS,
    PORT_LIVENESS,
    INGRESS_PORT_PLANE,
    PLANE_PORTS,
    ECN_PORT,
    INT_PORT,
)

# Indirect counters (name -> size is checked against the P4Info).
PORT_RX_COUNTER = f"{_IN}.rx_stats.port_rx"
PORT_TX_COUNTER = f"{_EG}.tx_stats.port_tx"
DROP_COUNTER = f"{_IN}.drop_stats.drops"
MEMBER_COUNTER = f"{_IN}.load_balancing.member_tx"
ALL_COUNTERS: tuple[str, ...] = (PORT_RX_COUNTER, PORT_TX_COUNTER, DROP_COUNTER, MEMBER_COUNTER)

PORT_MASK_BITS = 256
"""Width of port bitmaps (PORT_MASK_BITS in p4src/shared/sizes.p4)."""

"""Every P4 table, action, action profile and counter name the controller uses.

pipeline/ is the only package that knows P4 names; `hpn.pipeline.p4info` checks all of
them against the committed P4Info of each target when it is loaded, so a renamed table in
the P4 fails loudly at start, not at the first write. Names are written as the v1model
program has them, which is also the Tofino program's form (tools/tofino_build.py asks
bf-p4c for a standard P4Info, without the ``pipe.`` prefix); `Target.qualify` is where a
target-specific form would go.
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
    action_profile: str | None = None


_IN = "HpnIngress"
_EG = "HpnEgress"
_LB = f"{_IN}.load_balancing"

INGRESS_PORT_PLANE = TableName(
    f"{_IN}.dual_plane.ingress_port_plane",
    ("ingress_port",),
    {f"{_IN}.dual_plane.set_plane": ("plane",)},
)
IPV4_LPM = TableName(
    f"{_IN}.routing.ipv4_lpm",
    ("plane", "dst_addr"),
    {f"{_IN}.routing.set_next_hop_group": ("group_id",), f"{_IN}.routing.no_route": ()},
)
LB_GROUP = TableName(
    f"{_LB}.lb_group",
    ("group_id",),
    {
        f"{_LB}.set_group": (
            "lb_mode",
            "mask",
            "bits",
            "seed",
            "flowlet_gap_time",
            "load_window_time",
            "congested",
            "track",
        )
    },
)
"""A group's mode and buckets, with the switch-wide LB parameters (one lookup on bmv2)."""
NH_SELECTOR = f"{_LB}.nh_selector"
"""The action selector of next_hop: its members and (bucket) groups."""
SET_EGRESS_PORT = f"{_LB}.set_egress_port"
NO_LIVE_MEMBER = f"{_LB}.no_live_member"
# The selector's input (`pick`) is not a P4Runtime match field: the key is (group, bucket).
NEXT_HOP = TableName(
    f"{_LB}.next_hop",
    ("group_id", "bucket"),
    {SET_EGRESS_PORT: ("port",)},
    action_profile=NH_SELECTOR,
)
PLANE_PORT = TableName(
    f"{_IN}.next_hop.plane_port",
    ("plane", "port"),
    {f"{_IN}.next_hop.rewrite_macs": ("src_mac", "dst_mac")},
)
ECN_PORT = TableName(
    f"{_EG}.ecn.ecn_port",
    ("port",),
    {f"{_EG}.ecn.set_red": ("kmin_depth", "kmax_depth", "pmax_scaled")},
)
ECN_RAMP = TableName(
    f"{_EG}.ecn.ecn_ramp",
    ("port", "depth"),
    {f"{_EG}.ecn.mark": (), f"{_EG}.ecn.mark_with_probability": ("threshold",)},
)
"""Tofino's ECN: (port, queue-depth range) -> mark, or mark below a random threshold."""
SEED_SBOX = TableName(
    f"{_LB}.seed_sbox",
    ("hash_byte", "bits", "alternate"),
    {f"{_LB}.set_bucket": ("bucket", "pick_word")},
)
"""Tofino's seed mixing and bucket choice in one lookup: (hash byte, bucket bits,
alternate) -> bucket, and a word XORed into the pick; all derived from the seed."""
SEED_PREMIX = TableName(
    f"{_LB}.seed_premix",
    ("hash_byte",),
    {f"{_LB}.set_premix": ("word",)},
)
"""Tofino's second hash byte of a flow -> a word, derived from the seed, that enters the
CRCs: flows whose CRC bytes agree no longer share a bucket on every switch."""
INT_PORT = TableName(
    f"{_EG}.int_telemetry.int_port",
    ("port",),
    {f"{_EG}.int_telemetry.set_link_rate": ("rate",)},
)

_CPU = f"{_IN}.cpu_path"
GATEWAY_ARP = TableName(
    f"{_CPU}.gateway.gateway_arp",
    ("target_ip",),
    {f"{_CPU}.gateway.answer": ("gateway_mac",)},
)
"""ARP requests for a gateway address -> answered with the switch's MAC (ToRs)."""
CPU_PUNT = TableName(
    f"{_CPU}.punt_filter.cpu_punt",
    ("ether_type",),
    {f"{_CPU}.punt_filter.to_cpu": ()},
)
"""The ethertypes handed to the controller as packet-ins (LLDP, the link probe)."""

COMMON_TABLES: tuple[TableName, ...] = (
    INGRESS_PORT_PLANE,
    IPV4_LPM,
    LB_GROUP,
    NEXT_HOP,
    PLANE_PORT,
    INT_PORT,
    GATEWAY_ARP,
    CPU_PUNT,
)
"""Tables both programs have, under the same names (hpn.pipeline.targets adds the rest)."""

# Indirect counters (name -> size is checked against the P4Info).
PORT_RX_COUNTER = f"{_IN}.rx_stats.port_rx"
PORT_TX_COUNTER = f"{_EG}.tx_stats.port_tx"
DROP_COUNTER = f"{_IN}.drop_stats.drops"
MEMBER_COUNTER = f"{_LB}.member_tx"
ALL_COUNTERS: tuple[str, ...] = (PORT_RX_COUNTER, PORT_TX_COUNTER, DROP_COUNTER, MEMBER_COUNTER)
EGRESS_DROP_COUNTER = f"{_EG}.drop_stats.egress_drops"
"""Tofino only: drops decided in egress (the IPv4 length check)."""

PORT_QUEUE = "port_queue"
"""bmv2 only: per egress port, bits 31..0 are the bytes enqueued minus bytes dequeued (queue.p4),
what INT's qlen and ECN read; bits 63..32 number the frames counted. bmv2's P4Runtime server does
not read registers: read it over Thrift (hpn.emulation.bmv2), and take the bytes with
`queued_bytes`."""


def queued_bytes(port_queue_cell: int) -> int:
    """The bytes still queued, from one cell of PORT_QUEUE."""
    return port_queue_cell & 0xFFFF_FFFF

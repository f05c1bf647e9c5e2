"""bmv2's load-balancing choice (p4src/v1model/control/load_balancing.p4), step by step.

- `set_group`: flow_hash = crc32 of the flow key (zlib's CRC-32), then `choose(0, 0)`.
- `choose(salt, alternate)`: x = ((flow_hash ^ salt) ^ seed) * 0x9E3779B1 (mod 2^32);
  bucket = (x[31:24] ^ alternate) & mask; pick = 1 when x[23] is 0, else 5.
- FLOWLET and ADAPTIVE call `choose` again with the slot's flowlet id: a slot never used
  holds id 0, and the first packet of a flow there starts a flowlet, id 1; its salt is
  (id << 16) | id and its alternate the id's top bit (set only by an ADAPTIVE move).
- `next_hop`'s selector takes member (pick mod live members) of the bucket's group, the
  members in the order of their handles: the sentinel first, then the pair's members in
  the order they were created (`hpn.pipeline.load_balancing.member_entries`).
"""

from __future__ import annotations

MIX = 0x9E3779B1
"""seeded_mix's multiplier."""
PICK_LOW = 1
PICK_HIGH = 5
FLOWLET_ID_MASK = 0x7FFF
FLOWLET_ALTERNATE = 0x8000
FIRST_FLOWLET_ID = 1
"""The id a slot's first flowlet gets (slots start at 0; registers are reset)."""


def choose(flow_hash: int, seed: int, mask: int, salt: int = 0, alternate: int = 0) -> tuple[int, int]:
    """(bucket, pick) of the action `choose`."""
    x = (((flow_hash ^ salt) ^ seed) * MIX) & 0xFFFFFFFF
    bucket = ((x >> 24) ^ (alternate & 1)) & mask
    pick = PICK_LOW if (x >> 23) & 1 == 0 else PICK_HIGH
    return bucket, pick


def next_flowlet_id(flowlet_id: int) -> int:
    """The id a new flowlet of the slot takes (the alternate bit stays)."""
    return (flowlet_id & FLOWLET_ALTERNATE) | ((flowlet_id + 1) & FLOWLET_ID_MASK)


def flowlet_salt(flowlet_id: int) -> tuple[int, int]:
    """(salt, alternate) `flowlet_pick` passes to `choose` for a flowlet id."""
    low = flowlet_id & FLOWLET_ID_MASK
    return (low << 16) | low, (flowlet_id >> 15) & 1


def flowlet_slot(flow_hash: int, slots: int = 4096) -> int:
    """The flow's flowlet slot: the low bits of its CRC32 (FLOWLET_SLOTS a power of two)."""
    return flow_hash & (slots - 1)


def selector_place(pick: int, live: int) -> int:
    """The place (0-based, in handle order) the selector takes among `live` active members."""
    return pick % live

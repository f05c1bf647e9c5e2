"""The Tofino program's load-balancing choice (p4src/tna/control/load_balancing.p4).

- premix_byte = CRC8 of the flow key; seed_premix gives the seed's word for that byte
  (`hpn.pipeline.load_balancing.premix_words`);
- bucket_hash = CRC32 (8-bit output: the CRC's low byte) and pick_hash = CRC16 of the
  flow key, then flowlet_id (32 bits), hash_seed (32) and the premix word (32);
- seed_sbox, keyed by (bucket_hash, the group's bucket bits, flowlet_id bit 0), gives
  bucket = ((h ^ word) ^ alternate) & mask and pick_word = word >> 16, with word the
  seed's sbox word of h (`sbox_words`, `sbox_bucket`); pick = pick_hash ^ pick_word;
- next_hop's FAIR ActionSelector takes a member of the bucket's group from the pick.

The CRCs are bf-p4c's (`hpn.paths.crc`); what they give was checked against bf-p4c's
own hash library (its constant folding of these field lists). The selector's choice is
the hardware's and is not modelled by anything public: it is taken here as (pick mod
live members) in the order the controller lists the group's members. ECMP groups use
flowlet id 0. A flowlet's id is the time it started (its bit 0 the ADAPTIVE move), so a
FLOWLET or ADAPTIVE path is known only given that id.
"""

from __future__ import annotations

from hpn.pipeline.load_balancing import sbox_bucket

MESSAGE_BYTES = 28
"""The flow key (16 bytes), flowlet id, seed and premix word (4 each)."""
FLOWLET_OFFSET = 16
SEED_OFFSET = 20
PREMIX_OFFSET = 24


def message(key: bytes, flowlet_id: int, seed: int, premix_word: int) -> bytes:
    """The bucket and pick hashes' input."""
    return (
        key
        + (flowlet_id & 0xFFFFFFFF).to_bytes(4, "big")
        + (seed & 0xFFFFFFFF).to_bytes(4, "big")
        + (premix_word & 0xFFFFFFFF).to_bytes(4, "big")
    )


def bucket_and_pick(
    bucket_hash: int, pick_hash: int, sbox_word: int, bits: int, alternate: int
) -> tuple[int, int]:
    """(bucket, pick) of seed_sbox's set_bucket for a hash byte whose sbox word is `sbox_word`."""
    return sbox_bucket(bucket_hash, sbox_word, bits, alternate & 1), (pick_hash ^ (sbox_word >> 16)) & 0xFFFF


def selector_place(pick: int, live: int) -> int:
    """The place the FAIR selector takes among `live` members (assumed: pick mod live)."""
    return pick % live

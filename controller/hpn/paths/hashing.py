"""The hashes a flow gets on each target: computed from its key, or from per-port tables.

`KeyHashes` computes every CRC from the flow's bytes: the reference. `SourcePortHashes`
gives the same numbers for one flow under any source port from tables of each CRC's
source-port part (`hpn.paths.crc.FieldPart`), so that the planner can try thousands of
source ports of a flow for a few XORs each. Both answer the questions the switch models
ask: bmv2's flow hash; Tofino's premix byte, and its bucket and pick hashes for a
flowlet id, a seed and the premix word the seed gives that byte.
"""

from __future__ import annotations

import zlib
from functools import cache
from typing import Protocol

from hpn.paths import tofino_model
from hpn.paths.crc import CRC8, CRC16, CRC32, FieldPart
from hpn.paths.flow import KEY_BYTES, SPORT_OFFSET, Flow
from hpn.pipeline.load_balancing import premix_words


class FlowHashes(Protocol):
    def flow_hash(self) -> int:
        """bmv2: the CRC32 of the flow key."""

    def premix_byte(self) -> int:
        """Tofino: the CRC8 of the flow key."""

    def tofino(self, flowlet_id: int, seed: int) -> tuple[int, int]:
        """Tofino: (bucket_hash, pick_hash) for this flowlet id on a switch with this seed."""


@cache
def _premix_words(seed: int) -> tuple[int, ...]:
    return tuple(premix_words(seed))


class KeyHashes:
    """Every hash straight from the flow key's bytes."""

    def __init__(self, flow: Flow) -> None:
        self.key = flow.key_bytes()

    def flow_hash(self) -> int:
        return zlib.crc32(self.key)

    def premix_byte(self) -> int:
        return CRC8.compute(self.key)

    def tofino(self, flowlet_id: int, seed: int) -> tuple[int, int]:
        word = _premix_words(seed)[self.premix_byte()]
        msg = tofino_model.message(self.key, flowlet_id, seed, word)
        return CRC32.compute(msg) & 0xFF, CRC16.compute(msg)


@cache
def _sport_table(spec_name: str, length: int) -> list[int]:
    spec = {c.name: c for c in (CRC8, CRC16, CRC32)}[spec_name]
    return FieldPart(spec, length, SPORT_OFFSET, 16).table()


@cache
def _tofino_parts(seed: int) -> tuple[int, int, tuple[int, ...], tuple[int, ...]]:
    """For a seed: its part of the CRC32 and of the CRC16, and the part of the premix
    word of each premix byte in each."""
    n = tofino_model.MESSAGE_BYTES
    seed32 = FieldPart(CRC32, n, tofino_model.SEED_OFFSET, 32).part(seed)
    seed16 = FieldPart(CRC16, n, tofino_model.SEED_OFFSET, 32).part(seed)
    word32 = FieldPart(CRC32, n, tofino_model.PREMIX_OFFSET, 32)
    word16 = FieldPart(CRC16, n, tofino_model.PREMIX_OFFSET, 32)
    words = _premix_words(seed)
    return seed32, seed16, tuple(word32.part(w) for w in words), tuple(word16.part(w) for w in words)


@cache
def _flowlet_parts(flowlet_id: int) -> tuple[int, int]:
    n = tofino_model.MESSAGE_BYTES
    return (
        FieldPart(CRC32, n, tofino_model.FLOWLET_OFFSET, 32).part(flowlet_id),
        FieldPart(CRC16, n, tofino_model.FLOWLET_OFFSET, 32).part(flowlet_id),
    )


class SourcePortHashes:
    """The hashes of `flow` with any source port, from tables (TCP and UDP flows only:
    other protocols have no ports in their key). `at(sport)` moves to one port."""

    def __init__(self, flow: Flow) -> None:
        if not flow.has_ports:
            raise ValueError(f"protocol {flow.protocol} has no source port to choose")
        base = flow.with_sport(0).key_bytes()
        n = tofino_model.MESSAGE_BYTES
        self._crc32 = zlib.crc32(base)
        self._crc8 = CRC8.compute(base)
        self._t32 = CRC32.compute(base + bytes(n - KEY_BYTES))
        self._t16 = CRC16.compute(base + bytes(n - KEY_BYTES))
        self._sport32 = _sport_table(CRC32.name, KEY_BYTES)
        self._sport8 = _sport_table(CRC8.name, KEY_BYTES)
        self._tsport32 = _sport_table(CRC32.name, n)
        self._tsport16 = _sport_table(CRC16.name, n)
        self.sport = 0

    def at(self, sport: int) -> SourcePortHashes:
        self.sport = sport
        return self

    def flow_hash(self) -> int:
        return self._crc32 ^ self._sport32[self.sport]

    def premix_byte(self) -> int:
        return self._crc8 ^ self._sport8[self.sport]

    def tofino(self, flowlet_id: int, seed: int) -> tuple[int, int]:
        seed32, seed16, word32, word16 = _tofino_parts(seed)
        fid32, fid16 = _flowlet_parts(flowlet_id)
        pb = self.premix_byte()
        h32 = self._t32 ^ self._tsport32[self.sport] ^ seed32 ^ word32[pb] ^ fid32
        h16 = self._t16 ^ self._tsport16[self.sport] ^ seed16 ^ word16[pb] ^ fid16
        return h32 & 0xFF, h16

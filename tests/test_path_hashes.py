"""The CRCs and hash models behind path prediction, against independent derivations."""

from __future__ import annotations

import random
import struct
import zlib
from ipaddress import IPv4Address

from hypothesis import given, settings
from hypothesis import strategies as st

from hpn.paths import bmv2_model, tofino_model
from hpn.paths.crc import CRC8, CRC16, CRC32, FieldPart
from hpn.paths.flow import PROTO_TCP, Flow
from hpn.paths.hashing import KeyHashes, SourcePortHashes

CHECK_INPUT = b"123456789"


def test_crcs_give_their_catalogued_check_values() -> None:
    # The "check" of each CRC in the CRC catalogue: the CRC of the ASCII digits 1..9.
    assert CRC32.compute(CHECK_INPUT) == 0xCBF43926
    assert CRC16.compute(CHECK_INPUT) == 0xBB3D  # CRC-16/ARC
    assert CRC8.compute(CHECK_INPUT) == 0xF4  # CRC-8/SMBUS


@given(st.binary(max_size=64))
def test_crc32_is_zlibs(data: bytes) -> None:
    assert CRC32.compute(data) == zlib.crc32(data)


def test_crc32_matches_bf_p4c_constant_folding() -> None:
    # bf-p4c's gtest FoldConstantHashes.CRC32 and .Custom: Hash<bit<32>>(CRC32).get(c).
    assert CRC32.compute(bytes.fromhex("ABCDEF01")) == 2360908734
    assert CRC32.compute(bytes.fromhex("01234567")) == 4247457659


def _tofino_vectors() -> list[tuple[Flow, int, int, int, int, int, int]]:
    """(flow, flowlet id, seed, premix word, CRC8 of the key, CRC32 low byte, CRC16):
    computed by bf-p4c's hash library (bf-utils/dynamic_hash, determine_seed, as its
    constant folding does) for the field lists of p4src/tna/control/load_balancing.p4."""
    src, dst = IPv4Address("10.0.0.1"), IPv4Address("10.1.0.9")
    return [
        (Flow(src, dst, 1234, 4791, qp=0x11), 0, 0x5EED, 0x89ABCDEF, 7, 247, 46227),
        (Flow(src, dst, 50000, 4791, qp=0xABCD), 0x2468ACE0, 0xDEADBEEF, 0x13579BDF, 240, 170, 14835),
    ]


def test_tofino_hashes_match_bf_p4c_for_the_programs_field_lists() -> None:
    for flow, fid, seed, word, crc8, bucket_hash, pick_hash in _tofino_vectors():
        key = flow.key_bytes()
        msg = tofino_model.message(key, fid, seed, word)
        assert CRC8.compute(key) == crc8
        assert CRC32.compute(msg) & 0xFF == bucket_hash
        assert CRC16.compute(msg) == pick_hash


def test_flow_key_is_the_parsers_fields_packed_big_endian() -> None:
    flow = Flow(IPv4Address("10.0.0.1"), IPv4Address("10.1.0.9"), 1234, 4791, qp=0xABCDEF)
    packed = struct.pack(">4s4sBHH", bytes([10, 0, 0, 1]), bytes([10, 1, 0, 9]), 17, 1234, 4791)
    assert flow.key_bytes() == packed + bytes([0xAB, 0xCD, 0xEF])
    # no BTH unless UDP to 4791: the QP is 0 in the key; no ports for other protocols
    assert Flow(flow.src, flow.dst, 1234, 5678, qp=7).key_bytes()[-3:] == bytes(3)
    assert Flow(flow.src, flow.dst, 1234, 4791, protocol=PROTO_TCP, qp=7).key_bytes()[-3:] == bytes(3)
    assert Flow(flow.src, flow.dst, 1234, 80, protocol=1).key_bytes()[9:13] == bytes(4)


@settings(deadline=None)  # a field's parts are built per example: no timing here
@given(st.binary(min_size=8, max_size=32), st.data())
def test_a_field_part_is_what_the_field_adds_to_the_crc(message: bytes, data: st.DataObject) -> None:
    offset = data.draw(st.integers(0, len(message) - 4))
    bits = data.draw(st.sampled_from([8, 16, 32]))
    value = data.draw(st.integers(0, (1 << bits) - 1))
    nbytes = bits // 8
    if offset + nbytes > len(message):
        offset = len(message) - nbytes
    zeroed = message[:offset] + bytes(nbytes) + message[offset + nbytes :]
    full = message[:offset] + value.to_bytes(nbytes, "big") + message[offset + nbytes :]
    for spec in (CRC8, CRC16, CRC32):
        part = FieldPart(spec, len(message), offset, bits)
        assert spec.compute(full) == spec.compute(zeroed) ^ part.part(value)


def test_source_port_tables_give_the_hashes_of_the_key() -> None:
    rng = random.Random(7)
    seeds = [rng.getrandbits(32) for _ in range(3)]  # a seed's tables take a while to build
    for _ in range(40):
        flow = Flow(
            IPv4Address(rng.getrandbits(32)),
            IPv4Address(rng.getrandbits(32)),
            0,
            4791,
            qp=rng.getrandbits(24),
        )
        tables = SourcePortHashes(flow)
        for sport in rng.sample(range(65536), 20):
            direct = KeyHashes(flow.with_sport(sport))
            fast = tables.at(sport)
            assert fast.flow_hash() == direct.flow_hash()
            assert fast.premix_byte() == direct.premix_byte()
            fid, seed = rng.choice([0, 1, 0x2468ACE0]), rng.choice(seeds)
            assert fast.tofino(fid, seed) == direct.tofino(fid, seed)


def test_bmv2_choose_is_the_programs_arithmetic() -> None:
    flow_hash = zlib.crc32(bytes(range(16)))
    seed = 0x5EED
    x = ((flow_hash ^ seed) * 2654435761) % 2**32  # 0x9E3779B1
    bucket, pick = bmv2_model.choose(flow_hash, seed, 0x0F)
    assert bucket == (x // 2**24) % 16
    assert pick == (1 if (x // 2**23) % 2 == 0 else 5)
    # the first flowlet (id 1) salts with 0x00010001; ADAPTIVE's move flips the low bucket bit
    salted = (((flow_hash ^ 0x00010001) ^ seed) * 2654435761) % 2**32
    assert bmv2_model.flowlet_salt(bmv2_model.FIRST_FLOWLET_ID) == (0x00010001, 0)
    assert bmv2_model.choose(flow_hash, seed, 0x0F, 0x00010001)[0] == (salted // 2**24) % 16
    moved = bmv2_model.choose(flow_hash, seed, 0x0F, 0x00010001, alternate=1)[0]
    assert moved == ((salted // 2**24) % 16) ^ 1
    assert bmv2_model.next_flowlet_id(0) == bmv2_model.FIRST_FLOWLET_ID
    assert bmv2_model.next_flowlet_id(0x8000 | 0x7FFF) == 0x8000


def test_bmv2_selector_places_of_the_two_picks() -> None:
    # both members live (sentinel + 2): places 1 and 2; one live: place 1; none: the sentinel
    assert [bmv2_model.selector_place(p, 3) for p in (1, 5)] == [1, 2]
    assert [bmv2_model.selector_place(p, 2) for p in (1, 5)] == [1, 1]
    assert [bmv2_model.selector_place(p, 1) for p in (1, 5)] == [0, 0]

"""The link probe frame: what is encoded decodes to the same probe, and every bad frame is
refused with the field that is wrong."""

from __future__ import annotations

import struct

import pytest

from hpn.operations.probe import (
    ETH_HEADER,
    ETH_MIN_FRAME,
    PROBE_ETHERTYPE,
    Probe,
    ProbeError,
    decode_probe,
    encode_probe,
    fabric_id,
)

FID = fabric_id("hpn-mini")
PROBE = Probe(FID, "tor-s0-r0-p0", 7, 130, 41, 1_234_567_890_123)
MAC = "02:00:00:00:00:07"


def test_a_probe_round_trips_and_is_padded_to_the_ethernet_minimum() -> None:
    frame = encode_probe(PROBE, MAC)
    assert len(frame) == ETH_MIN_FRAME
    assert struct.unpack_from("!H", frame, 12)[0] == PROBE_ETHERTYPE
    assert frame[6:12] == bytes.fromhex(MAC.replace(":", ""))
    assert decode_probe(frame, FID) == PROBE


def test_a_long_name_makes_a_longer_frame_that_still_round_trips() -> None:
    probe = Probe(FID, "x" * 64, 1, 1, 0xFFFFFFFF, 2**64 - 1)
    frame = encode_probe(probe, MAC)
    assert len(frame) > ETH_MIN_FRAME
    assert decode_probe(frame, FID) == probe


def test_fabric_ids_are_stable_and_differ_between_fabrics() -> None:
    assert fabric_id("hpn-mini") == FID
    assert fabric_id("hpn-pod") != FID


def _refused(frame: bytes, fid: int = FID) -> ProbeError:
    with pytest.raises(ProbeError) as info:
        decode_probe(frame, fid)
    return info.value


def test_every_truncation_is_refused_naming_the_first_field_cut() -> None:
    frame = encode_probe(PROBE, MAC)
    expected = {
        ETH_HEADER - 1: "ethernet",
        ETH_HEADER: "magic",
        ETH_HEADER + 4: "version",
        ETH_HEADER + 5: "fabric_id",
        ETH_HEADER + 9: "device_id",
        ETH_HEADER + 13: "port",
        ETH_HEADER + 15: "seq",
        ETH_HEADER + 19: "sent_ns",
        ETH_HEADER + 27: "name_len",
        ETH_HEADER + 28 + 3: "name",
    }
    for length, field in expected.items():
        error = _refused(frame[:length])
        assert error.field == field, length
        assert "truncated" in str(error) or field == "ethernet"


def test_a_wrong_ethertype_is_named_with_both_values() -> None:
    frame = bytearray(encode_probe(PROBE, MAC))
    frame[12:14] = b"\x08\x00"
    error = _refused(bytes(frame))
    assert error.field == "ethertype"
    assert "0x0800" in str(error) and f"0x{PROBE_ETHERTYPE:04x}" in str(error)


def test_a_probe_of_another_fabric_is_refused_as_such() -> None:
    error = _refused(encode_probe(PROBE, MAC), fabric_id("hpn-pod"))
    assert error.field == "fabric_id"
    assert "another fabric" in str(error)


@pytest.mark.parametrize(
    ("offset", "value", "field"),
    [(0, b"XXXX", "magic"), (4, b"\x09", "version"), (27, b"\x00", "name_len"), (27, b"\x41", "name_len")],
)
def test_bad_header_fields_are_named(offset: int, value: bytes, field: str) -> None:
    frame = bytearray(encode_probe(PROBE, MAC))
    frame[ETH_HEADER + offset : ETH_HEADER + offset + len(value)] = value
    assert _refused(bytes(frame)).field == field


def test_a_name_that_is_not_utf8_and_garbage_after_it_are_refused() -> None:
    frame = bytearray(encode_probe(PROBE, MAC))
    frame[ETH_HEADER + 28] = 0xFF
    assert _refused(bytes(frame)).field == "name"
    frame = bytearray(encode_probe(PROBE, MAC))
    frame[-1] = 1
    assert _refused(bytes(frame)).field == "padding"


def test_encoding_refuses_values_that_do_not_fit_naming_them() -> None:
    with pytest.raises(ProbeError, match="port"):
        encode_probe(Probe(FID, "a", 1, 70000, 0, 0), MAC)
    with pytest.raises(ProbeError, match="name"):
        encode_probe(Probe(FID, "", 1, 1, 0, 0), MAC)
    with pytest.raises(ProbeError, match="src"):
        encode_probe(PROBE, "not-a-mac")

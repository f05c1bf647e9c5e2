"""The link probe: an LLDP-like frame each switch port sends and its neighbour punts.

Layout (network byte order), after a 14-byte Ethernet header with ethertype
PROBE_ETHERTYPE (0x88B5, IEEE 802 "local experimental ethertype 1": never routed, no
other protocol claims it) and destination PROBE_DST_MAC (the LLDP nearest-bridge
address, which no bridge forwards):

    offset size field
         0    4 magic       b"HPNP"
         4    1 version     PROBE_VERSION
         5    4 fabric_id   fabric_id(fabric name): a probe from another fabric is refused
         9    4 device_id   the sending switch's P4Runtime device id
        13    2 port        the port it was sent out of
        15    4 seq         per-port sequence number (wraps at 2^32)
        19    8 sent_ns     the sender's send time, nanoseconds (its own clock)
        27    1 name_len    1..MAX_NAME
        28    n name        the sending switch's name, UTF-8

Frames shorter than Ethernet's 60-byte minimum are padded with zeros; anything after the
name must be zero padding. `decode_probe` refuses a frame with a `ProbeError` that names
the field that is wrong and why; it never returns a partial probe.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

PROBE_ETHERTYPE = 0x88B5
PROBE_DST_MAC = "01:80:c2:00:00:0e"
PROBE_MAGIC = b"HPNP"
PROBE_VERSION = 1
MAX_NAME = 64
ETH_HEADER = 14
ETH_MIN_FRAME = 60
"""Ethernet's minimum frame without the FCS: shorter frames are padded to it."""

_FIXED = struct.Struct("!4sBIIHIQB")  # magic .. name_len
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class ProbeError(ValueError):
    """A frame that is not a valid probe of this fabric; `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"probe {field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Probe:
    """What one probe says: who sent it, out of which port, when, in which fabric."""

    fabric_id: int
    switch: str
    device_id: int
    port: int
    seq: int
    sent_ns: int


def fabric_id(fabric_name: str) -> int:
    """A fabric's 32-bit probe id: the same name always gives the same id."""
    return int.from_bytes(hashlib.blake2b(fabric_name.encode(), digest_size=4).digest(), "big")


def _mac_bytes(mac: str, field: str) -> bytes:
    if not _MAC.match(mac.lower()):
        raise ProbeError(field, f"{mac!r} is not a MAC address aa:bb:cc:dd:ee:ff")
    return bytes.fromhex(mac.replace(":", ""))


def _check_range(field: str, value: int, bits: int) -> None:
    if not 0 <= value < 1 << bits:
        raise ProbeError(field, f"{value} does not fit {bits} bits")


def encode_probe(probe: Probe, src_mac: str) -> bytes:
    """The Ethernet frame of `probe`, sent from `src_mac` (padded to 60 bytes)."""
    name = probe.switch.encode()
    if not 1 <= len(name) <= MAX_NAME:
        raise ProbeError("name", f"{probe.switch!r} is {len(name)} bytes, not 1..{MAX_NAME}")
    _check_range("fabric_id", probe.fabric_id, 32)
    _check_range("device_id", probe.device_id, 32)
    _check_range("port", probe.port, 16)
    _check_range("seq", probe.seq, 32)
    _check_range("sent_ns", probe.sent_ns, 64)
    header = (
        _mac_bytes(PROBE_DST_MAC, "dst") + _mac_bytes(src_mac, "src") + struct.pack("!H", PROBE_ETHERTYPE)
    )
    body = _FIXED.pack(
        PROBE_MAGIC,
        PROBE_VERSION,
        probe.fabric_id,
        probe.device_id,
        probe.port,
        probe.seq,
        probe.sent_ns,
        len(name),
    )
    frame = header + body + name
    return frame + bytes(max(0, ETH_MIN_FRAME - len(frame)))


def decode_probe(frame: bytes, expected_fabric_id: int) -> Probe:
    """The probe in `frame`; a `ProbeError` naming the field when it is not one of this fabric's."""
    if len(frame) < ETH_HEADER:
        raise ProbeError("ethernet", f"frame of {len(frame)} bytes is shorter than an Ethernet header")
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    if ethertype != PROBE_ETHERTYPE:
        raise ProbeError("ethertype", f"0x{ethertype:04x}, expected 0x{PROBE_ETHERTYPE:04x}")
    body = frame[ETH_HEADER:]
    if len(body) < _FIXED.size:
        raise ProbeError(
            _truncated_field(len(body)), f"truncated: {len(body)} bytes after Ethernet, need {_FIXED.size}"
        )
    magic, version, fid, device_id, port, seq, sent_ns, name_len = _FIXED.unpack_from(body)
    if magic != PROBE_MAGIC:
        raise ProbeError("magic", f"{magic!r}, expected {PROBE_MAGIC!r}")
    if version != PROBE_VERSION:
        raise ProbeError("version", f"{version}, this controller reads version {PROBE_VERSION}")
    if fid != expected_fabric_id:
        raise ProbeError(
            "fabric_id",
            f"0x{fid:08x} is not this fabric's (0x{expected_fabric_id:08x}): another fabric's probe",
        )
    if not 1 <= name_len <= MAX_NAME:
        raise ProbeError("name_len", f"{name_len}, expected 1..{MAX_NAME}")
    end = _FIXED.size + name_len
    if len(body) < end:
        raise ProbeError("name", f"truncated: {len(body) - _FIXED.size} of {name_len} bytes")
    try:
        name = body[_FIXED.size : end].decode()
    except UnicodeDecodeError as exc:
        raise ProbeError("name", f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if any(body[end:]):
        raise ProbeError("padding", f"{len(body) - end} bytes after the name are not all zero")
    return Probe(fid, name, device_id, port, seq, sent_ns)


_FIELD_ENDS = (
    ("magic", 4),
    ("version", 5),
    ("fabric_id", 9),
    ("device_id", 13),
    ("port", 15),
    ("seq", 19),
    ("sent_ns", 27),
    ("name_len", 28),
)


def _truncated_field(length: int) -> str:
    """The first field a body of `length` bytes does not hold whole."""
    return next(name for name, end in _FIELD_ENDS if length < end)

"""CRCs as the two targets define them, and a CRC split into per-field parts.

`CrcSpec` is the usual (width, polynomial, init, reflected, final XOR) description; the
three the Tofino program names (HashAlgorithm_t.CRC8/16/32) are bf-p4c's standard CRCs
(backends/tofino/bf-utils/dynamic_hash: crc_8, crc_16, crc_32), and bmv2's crc32 is the
same CRC-32 as zlib's. Both compute a hash of a field list as the CRC of the fields
written one after the other, big-endian, first field first; a narrower output takes
the CRC's low bits.

A CRC of a message of fixed length is affine: crc(a ^ b) = crc(a) ^ crc(b) ^ crc(0).
So the CRC of a flow key is the CRC of the key with one field zeroed, XORed with that
field's own part, which `FieldPart` tabulates for every value of a narrow field: the
planner then hashes thousands of source ports of one flow with one XOR each.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


def _reflect(value: int, bits: int) -> int:
    out = 0
    for _ in range(bits):
        out = (out << 1) | (value & 1)
        value >>= 1
    return out


@dataclass(frozen=True)
class CrcSpec:
    """One CRC: `width` bits, polynomial `poly` (without its top bit), `init` register,
    `reflected` input and output (LSB first), `xor_out` applied to the result."""

    name: str
    width: int
    poly: int
    init: int
    reflected: bool
    xor_out: int

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    @cached_property
    def table(self) -> tuple[int, ...]:
        """The byte-at-a-time table of this CRC."""
        out = []
        if self.reflected:
            poly = _reflect(self.poly, self.width)
            for byte in range(256):
                reg = byte
                for _ in range(8):
                    reg = (reg >> 1) ^ poly if reg & 1 else reg >> 1
                out.append(reg)
        else:
            top = 1 << (self.width - 1)
            for byte in range(256):
                reg = byte << (self.width - 8)
                for _ in range(8):
                    reg = ((reg << 1) ^ self.poly) & self.mask if reg & top else (reg << 1) & self.mask
                out.append(reg)
        return tuple(out)

    def compute(self, data: bytes) -> int:
        """The CRC of `data`."""
        table = self.table
        reg = self.init
        if self.reflected:
            for byte in data:
                reg = (reg >> 8) ^ table[(reg ^ byte) & 0xFF]
        else:
            shift = self.width - 8
            for byte in data:
                reg = ((reg << 8) & self.mask) ^ table[((reg >> shift) ^ byte) & 0xFF]
        return reg ^ self.xor_out


CRC32 = CrcSpec("crc_32", 32, 0x04C11DB7, 0xFFFFFFFF, True, 0xFFFFFFFF)
"""CRC-32 (zlib's): TNA's HashAlgorithm_t.CRC32 and bmv2's crc32."""
CRC16 = CrcSpec("crc_16", 16, 0x8005, 0x0000, True, 0x0000)
"""CRC-16/ARC: TNA's HashAlgorithm_t.CRC16."""
CRC8 = CrcSpec("crc_8", 8, 0x07, 0x00, False, 0x00)
"""CRC-8 (SMBus): TNA's HashAlgorithm_t.CRC8."""


@dataclass(frozen=True)
class FieldPart:
    """The part of a CRC that one byte-aligned field of a fixed-length message adds.

    For a message of `length` bytes with the field of `bits` bits at byte `offset`:
    ``crc(message) == crc(message with the field zeroed) ^ part(field value)``.
    """

    spec: CrcSpec
    length: int
    offset: int
    bits: int

    def __post_init__(self) -> None:
        if self.bits % 8 or self.offset < 0 or self.offset + self.bits // 8 > self.length:
            raise ValueError(f"a {self.bits}-bit field at byte {self.offset} of {self.length} bytes")

    @cached_property
    def basis(self) -> tuple[int, ...]:
        """The part of each single bit of the field, least significant first."""
        zero = self.spec.compute(bytes(self.length))
        nbytes = self.bits // 8
        out = []
        for bit in range(self.bits):
            msg = bytearray(self.length)
            msg[self.offset : self.offset + nbytes] = (1 << bit).to_bytes(nbytes, "big")
            out.append(self.spec.compute(bytes(msg)) ^ zero)
        return tuple(out)

    def part(self, value: int) -> int:
        out = 0
        for b in self.basis:
            if value & 1:
                out ^= b
            value >>= 1
        return out

    def table(self) -> list[int]:
        """`part(v)` for every value v of the field (fields of up to 16 bits)."""
        if self.bits > 16:
            raise ValueError(f"a table of a {self.bits}-bit field is too large")
        out = [0]
        for b in self.basis:
            out += [x ^ b for x in out]
        return out

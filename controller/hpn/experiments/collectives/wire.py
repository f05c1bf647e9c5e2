"""hpn.hpcc's data packet, made and read at the rate the generator sends.

`DataPacket.encode` and `decode_message` build and parse the INT stack field by field:
about a millisecond a packet in Python, more than a NIC port's budget at a few hundred
packets a second. A queue pair's packets differ only in PSN, sequence and send time, so
`DataTemplate` encodes one packet with hpn.hpcc and patches those three fields into a
copy; `peek_data` reads the QP and sequence of a data packet without decoding its stack.
Both give exactly the bytes and values of hpn.hpcc's codec (tests/test_collectives_units.py).
"""

from __future__ import annotations

import struct

from hpn.hpcc.messages import DATA_HEADER_BYTES, OPCODE_SEND_ONLY, PSN_MASK, DataPacket
from hpn.telemetry.codec import BTH_BYTES, BTH_FLAGS_OFFSET, BTH_INT_ECHO, BTH_INT_FILL, STACK_BYTES, IntStack

QP_OFFSET = 5
"""BTH bytes 5..7: the destination QP."""
PSN_OFFSET = 9
"""BTH bytes 9..11: the PSN."""
DATA_OFFSET = BTH_BYTES + STACK_BYTES
"""Where a data packet's sequence and send time follow the stack."""
_DATA = struct.Struct("!QQ")


class DataTemplate:
    """The data packets of one queue pair: `payload_bytes` after the (empty) INT stack."""

    def __init__(self, qpn: int, payload_bytes: int) -> None:
        self.qpn = qpn
        self.payload_bytes = payload_bytes
        self._bytes = bytearray(DataPacket(qpn, 0, 0, 0, payload_bytes, IntStack()).encode())

    def packet(self, psn: int, seq: int, sent_ns: int) -> bytes:
        """The bytes of `DataPacket(qpn, psn, seq, sent_ns, payload_bytes, IntStack()).encode()`."""
        data = self._bytes
        data[PSN_OFFSET : PSN_OFFSET + 3] = (psn & PSN_MASK).to_bytes(3, "big")
        _DATA.pack_into(data, DATA_OFFSET, seq, sent_ns)
        return bytes(data)


def peek_data(payload: bytes) -> tuple[int, int] | None:
    """(QP, sequence) of an hpn.hpcc data packet; None for anything else (an ACK, too short)."""
    if len(payload) < DATA_OFFSET + DATA_HEADER_BYTES or payload[0] != OPCODE_SEND_ONLY:
        return None
    flags = payload[BTH_FLAGS_OFFSET]
    if not flags & BTH_INT_FILL or flags & BTH_INT_ECHO:
        return None
    qpn = int.from_bytes(payload[QP_OFFSET : QP_OFFSET + 3], "big")
    seq, _ = _DATA.unpack_from(payload, DATA_OFFSET)
    return qpn, seq

"""NIC offloads the emulation turns off, through the ethtool ioctl (there is no ethtool binary here).

- Host ports: TX checksum offload. A veth hands locally made packets on with
  the checksum still to be filled in; bmv2 forwards the bytes as they are, so
  the receiver would drop them. (TSO goes with it: it needs checksum offload.)
- bmv2 ports: TSO, GSO and GRO. libpcap sizes every frame of its capture ring
  for the largest packet the interface may deliver: 64 KB with segmentation
  offloads on, the MTU without. With a 2 MB ring that is 32 frames against
  ~1,300, and bursts of a few dozen packets were silently lost in bmv2's
  capture ring.

Both act on an interface of the calling thread's network namespace.
"""

from __future__ import annotations

import array
import fcntl
import socket
import struct

SIOCETHTOOL = 0x8946
# (get, set) command pairs of the legacy per-feature ethtool interface (linux/ethtool.h).
TX_CHECKSUM = (0x16, 0x17)
TSO = (0x1E, 0x1F)
GSO = (0x23, 0x24)
GRO = (0x2B, 0x2C)


def _ethtool(sock: socket.socket, iface: str, cmd: int, data: int = 0) -> int:
    value = array.array("I", [cmd, data])
    addr, _ = value.buffer_info()
    ifreq = struct.pack("16sP", iface.encode(), addr)
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    return value[1]


def disable(iface: str, *features: tuple[int, int]) -> None:
    """Turn the given features off on `iface` and check that they are off."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for get, set_ in features:
            _ethtool(sock, iface, set_, 0)
            if _ethtool(sock, iface, get):
                raise OSError(f"{iface}: ethtool feature 0x{get:x} is still on")


def disable_tx_checksum(iface: str) -> None:
    """A host port: checksums are computed by the kernel before the packet leaves."""
    disable(iface, TX_CHECKSUM)


def disable_segmentation(iface: str) -> None:
    """A bmv2 port: no super-packets, so libpcap's ring frames are MTU-sized."""
    disable(iface, TSO, GSO, GRO)

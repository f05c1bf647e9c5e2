"""Where a switch is and what it should run: the runtime's only input besides entities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SwitchTarget:
    """One P4Runtime switch: its name, gRPC address, device id and pipeline files.

    `name` is what every message about the switch starts with; `address` is a gRPC target
    `host:port` (IPv6 hosts in brackets) or `unix:PATH` (how a switch in another network
    namespace is reached). `p4info` is the P4Info text file and `p4blob` the device config
    (bmv2 JSON) pushed when the switch's pipeline cookie differs.
    """

    name: str
    address: str
    device_id: int
    p4info: Path
    p4blob: Path

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("switch target needs a name")
        if self.address.startswith("unix:"):
            if len(self.address) <= len("unix:"):
                raise ValueError(f"{self.name}: address {self.address!r} names no socket path")
        else:
            host, sep, port = self.address.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{self.name}: address {self.address!r} is not host:port or unix:PATH")
        if self.device_id < 0:
            raise ValueError(f"{self.name}: device_id must be >= 0, not {self.device_id}")

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"

"""Where a switch is and what it should run: the runtime's only input besides entities."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


def _unbracketed(host: str) -> tuple[str, bool]:
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1], True
    return host, False


def host_problem(host: str) -> str | None:
    """Why `host` is not a host name, IPv4 address or IPv6 address (bare or in brackets)."""
    inner, bracketed = _unbracketed(host)
    try:
        address = ipaddress.ip_address(inner)
    except ValueError:
        address = None
    if address is not None and (not bracketed or address.version == 6):
        return None
    if bracketed or ":" in host:
        return f"{host!r} is not a host name or IP address (no port here; IPv6 as ::1 or [::1])"
    if not _HOSTNAME.match(host):
        return f"{host!r} is not a host name or IP address"
    return None


def grpc_address(host: str, port: int) -> str:
    """`host:port`, with an IPv6 host in brackets as gRPC wants it."""
    inner, _ = _unbracketed(host)
    return f"[{inner}]:{port}" if ":" in inner else f"{inner}:{port}"


def address_problem(address: str) -> str | None:
    """Why `address` is not a gRPC target `host:port`, `[IPv6]:port` or `unix:PATH` (None if it is)."""
    if address.startswith("unix:"):
        return None if len(address) > len("unix:") else f"{address!r} names no socket path"
    host, sep, port = address.rpartition(":")
    if not sep or not host:
        return f"{address!r} is not host:port or unix:PATH"
    if not port.isdigit() or not 0 < int(port) < 65536:
        return f"{address!r} is not host:port or unix:PATH (the port must be 1..65535, not {port!r})"
    if ":" in host and not host.startswith("["):
        return f"{address!r}: an IPv6 host goes in brackets, as in [::1]:{port}"
    why = host_problem(host)
    return None if why is None else f"{address!r}: {why}"


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
        why = address_problem(self.address)
        if why is not None:
            raise ValueError(f"{self.name}: address {why}")
        if self.device_id < 0:
            raise ValueError(f"{self.name}: device_id must be >= 0, not {self.device_id}")

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"

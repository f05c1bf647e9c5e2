"""Network namespaces and veths that the project creates, and only those.

Every switch, host and PTF run lives in a namespace made for it, so no test
packet can reach the machine's own interfaces. Names carry a prefix chosen by
the caller and are removed by exact name, never by pattern.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

IFNAMSIZ = 15  # longest Linux interface name
CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003


class NetnsError(RuntimeError):
    """An `ip` command failed; the message names the command and its stderr."""


def require_tools() -> list[str]:
    """What is missing to create namespaces here (empty when all is fine)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (network namespaces and veths need CAP_NET_ADMIN)")
    if shutil.which("ip") is None:
        missing.append("the `ip` command (iproute2)")
    return missing


def _run(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise NetnsError(f"`{' '.join(argv)}` failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def check_ifname(name: str) -> str:
    if not 0 < len(name) <= IFNAMSIZ:
        raise ValueError(f"interface name {name!r} is {len(name)} chars; Linux allows 1..{IFNAMSIZ}")
    return name


def existing_namespaces() -> set[str]:
    out = _run(["ip", "netns", "list"], check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@dataclass
class Netns:
    """One network namespace with the veths created in it."""

    name: str
    veths: list[tuple[str, str]] = field(default_factory=list)

    def exists(self) -> bool:
        return self.name in existing_namespaces()

    def create(self) -> Netns:
        if self.exists():
            raise NetnsError(f"network namespace {self.name} already exists (stale run? remove it by name)")
        _run(["ip", "netns", "add", self.name])
        self.sysctl("net.ipv6.conf.all.disable_ipv6", "1")
        self.sysctl("net.ipv6.conf.default.disable_ipv6", "1")
        self.ip("link", "set", "lo", "up")
        return self

    def delete(self) -> None:
        """Remove the namespace (its veths go with it)."""
        if self.exists():
            _run(["ip", "netns", "del", self.name])

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(self.exec_argv(argv), check=check)

    def ip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run(["ip", "-n", self.name, *args])

    def sysctl(self, key: str, value: str) -> None:
        self.run(["sysctl", "-q", "-w", f"{key}={value}"])

    def add_veth(self, a: str, b: str, mtu: int = 9000) -> None:
        """A veth pair with both ends in this namespace, up, without IPv6."""
        check_ifname(a)
        check_ifname(b)
        self.ip("link", "add", "name", a, "type", "veth", "peer", "name", b)
        self.veths.append((a, b))
        for end in (a, b):
            self.ip("link", "set", end, "mtu", str(mtu))
            self.sysctl(f"net.ipv6.conf.{end}.disable_ipv6", "1")
            self.ip("link", "set", end, "up")

    def set_link(self, iface: str, up: bool) -> None:
        self.ip("link", "set", iface, "up" if up else "down")


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(f"setns failed: {os.strerror(err)}")


@contextmanager
def _entered_file(ns_file: str) -> Iterator[None]:
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(ns_file, os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def entered(ns_name: str) -> contextlib.AbstractContextManager[None]:
    """Run the block in namespace ns_name (this thread only), then come back.

    Sockets opened inside stay bound to that namespace after leaving it, which
    is how tests in the root namespace send and capture on namespaced veths.
    """
    return _entered_file(f"/run/netns/{ns_name}")


def entered_process(pid: int) -> contextlib.AbstractContextManager[None]:
    """Run the block in the network namespace of process `pid` (this thread only), then come back.

    For namespaces without a name, such as a Mininet host's.
    """
    return _entered_file(f"/proc/{pid}/ns/net")


def raw_socket(ns_name: str, iface: str) -> socket.socket:
    """An AF_PACKET socket bound to iface inside namespace ns_name."""
    with entered(ns_name):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.bind((iface, 0))
    return sock

"""The flows file `hpnctl paths` plans: YAML, every problem named with its place and line.

    source_ports: {first: 49152, last: 65535}   # optional: where ports are chosen
    flows:
      - src: host-s0-h0/nic0     # HOST/nicRAIL, or the NIC's IPv4 address
        dst: host-s1-h0/nic0
        size: 64MiB              # bytes: an integer, or a number with B, KB, MB, GB, KiB, MiB, GiB
        port: 0                  # optional: the source NIC's port (its plane), default 0
        qp: 17                   # optional: RoCEv2 destination QP, default 0
        dport: 4791              # optional: UDP destination port, default 4791 (RoCEv2)

docs/collectives.md describes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Address
from pathlib import Path as FilePath
from typing import Any

from hpn.paths.planner import ROCEV2_SOURCE_PORTS, FlowDemand
from hpn.topology.errors import Path, Problem, TopologyError
from hpn.topology.model import NIC_PORTS, Fabric, NicId
from hpn.topology.yamldoc import LineIndex, parse_yaml

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_FLOW_KEYS = ("src", "dst", "size", "port", "qp", "dport")
_TOP_KEYS = ("flows", "source_ports")


class FlowsError(ValueError):
    """A flows file that cannot be planned: one line per problem, `file: where: what (line n)`."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(p.render(file) for p in problems))


@dataclass(frozen=True)
class FlowsFile:
    demands: tuple[FlowDemand, ...]
    ports: range = ROCEV2_SOURCE_PORTS


def load_flows(path: str | FilePath, fabric: Fabric) -> FlowsFile:
    file = str(path)
    try:
        text = FilePath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowsError(file, [Problem((), f"cannot read it: {exc}")]) from None
    return flows_from_text(text, fabric, file)


def flows_from_text(text: str, fabric: Fabric, file: str = "<flows>") -> FlowsFile:
    try:
        node, data = parse_yaml(text, file)
    except TopologyError as exc:
        raise FlowsError(file, list(exc.problems)) from None
    reader = _Reader(fabric)
    result = reader.read(data)
    if reader.problems:
        lines = LineIndex(node)
        raise FlowsError(file, [lines.locate(p) for p in reader.problems])
    assert result is not None
    return result


class _Reader:
    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        self.problems: list[Problem] = []
        self._by_ip = {int(n.ip): (h.name, n.rail) for h, n in fabric.nics()}

    def bad(self, path: Path, message: str) -> None:
        self.problems.append(Problem(path, message))

    def read(self, data: Any) -> FlowsFile | None:
        if not isinstance(data, dict):
            self.bad((), "expected a mapping with a `flows:` list")
            return None
        for key in data:
            if key not in _TOP_KEYS:
                self.bad((str(key),), f"unknown key (allowed: {', '.join(_TOP_KEYS)})")
        ports = self._ports(data.get("source_ports"))
        flows = data.get("flows")
        if not isinstance(flows, list) or not flows:
            self.bad(("flows",), "expected a non-empty list of flows")
            return None
        demands = [self._flow(i, item) for i, item in enumerate(flows)]
        if self.problems:
            return None
        return FlowsFile(tuple(d for d in demands if d is not None), ports)

    def _ports(self, value: Any) -> range:
        if value is None:
            return ROCEV2_SOURCE_PORTS
        where: Path = ("source_ports",)
        if not isinstance(value, dict) or set(value) != {"first", "last"}:
            self.bad(where, "expected {first: PORT, last: PORT}")
            return ROCEV2_SOURCE_PORTS
        first, last = value["first"], value["last"]
        if not (_is_int(first) and _is_int(last) and 1 <= first <= last <= 65535):
            self.bad(where, f"expected ports 1 <= first <= last <= 65535, not {first!r}..{last!r}")
            return ROCEV2_SOURCE_PORTS
        return range(first, last + 1)

    def _flow(self, i: int, item: Any) -> FlowDemand | None:
        where: Path = ("flows", i)
        if not isinstance(item, dict):
            self.bad(where, "expected a mapping with src, dst and size")
            return None
        before = len(self.problems)
        for key in item:
            if key not in _FLOW_KEYS:
                self.bad((*where, str(key)), f"unknown key (allowed: {', '.join(_FLOW_KEYS)})")
        for key in ("src", "dst", "size"):
            if key not in item:
                self.bad(where, f"missing `{key}`")
        if len(self.problems) > before:
            return None
        src = self._nic((*where, "src"), item["src"])
        dst = self._nic((*where, "dst"), item["dst"])
        size = self._size((*where, "size"), item["size"])
        port = self._int((*where, "port"), item.get("port", 0), 0, NIC_PORTS - 1)
        qp = self._int((*where, "qp"), item.get("qp", 0), 0, 0xFFFFFF)
        dport = self._int((*where, "dport"), item.get("dport", 4791), 0, 0xFFFF)
        if src is not None and src == dst:
            self.bad(where, f"src and dst are the same NIC ({item['src']})")
        if None in (src, dst, size, port, qp, dport):
            return None
        assert src is not None and dst is not None and size is not None
        assert port is not None and qp is not None and dport is not None
        return FlowDemand(src, dst, size, port, dport, qp)

    def _nic(self, where: Path, value: Any) -> NicId | None:
        text = str(value)
        if "/" in text:
            host, _, nic = text.partition("/")
            rail = nic.removeprefix("nic")
            if not nic.startswith("nic") or not rail.isdigit():
                self.bad(where, f"{text!r}: expected HOST/nicRAIL (e.g. host-s0-h0/nic0) or an IPv4 address")
                return None
            if self.fabric.nic(host, int(rail)) is None:
                self.bad(where, f"no NIC {text} in fabric {self.fabric.name}")
                return None
            return (host, int(rail))
        try:
            found = self._by_ip.get(int(IPv4Address(text)))
        except AddressValueError:
            self.bad(where, f"{text!r}: expected HOST/nicRAIL (e.g. host-s0-h0/nic0) or an IPv4 address")
            return None
        if found is None:
            self.bad(where, f"no NIC has address {text} in fabric {self.fabric.name}")
        return found

    def _size(self, where: Path, value: Any) -> int | None:
        if _is_int(value) and value > 0:
            return int(value)
        match = _SIZE.match(str(value)) if isinstance(value, (str, float)) else None
        unit = match.group(2).upper() if match else ""
        if match is None or unit not in _UNITS or float(match.group(1)) * _UNITS[unit] < 1:
            self.bad(where, f"{value!r}: expected a positive number of bytes, e.g. 1048576 or 64MiB")
            return None
        return round(float(match.group(1)) * _UNITS[unit])

    def _int(self, where: Path, value: Any, low: int, high: int) -> int | None:
        if not _is_int(value) or not low <= value <= high:
            self.bad(where, f"{value!r}: expected an integer {low}..{high}")
            return None
        return int(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

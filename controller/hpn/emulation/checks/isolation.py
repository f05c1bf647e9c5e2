"""Plane isolation: traffic pinned to a plane stays in it and arrives on the port it left from."""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hpn.emulation.checks.base import Lab, Verdict, _fails, run_flows
from hpn.emulation.traffic import HEADER, MAGIC, Flow, same_rail_pairs


@dataclass
class PlaneIsolationResult(Verdict):
    flows: int
    frames_by_plane: dict[int, int]  # test frames seen on the aggs of each plane
    crossings: int  # test frames seen in a plane other than the one they were sent into
    wrong_port: int  # test packets received on the other NIC port than they were sent from
    other_frames: int  # frames on agg links that are not test traffic
    problems: list[str]
    seconds: float

    def summary(self) -> str:
        seen = ", ".join(f"plane {p}: {n}" for p, n in sorted(self.frames_by_plane.items()))
        return (
            f"{self.flows} flows pinned to each plane; frames on agg links: {seen}; "
            f"crossed planes: {self.crossings}; received on the wrong port: {self.wrong_port}"
        )


async def plane_isolation(lab: Lab, packets: int = 4) -> PlaneIsolationResult:
    """Flows pinned to port p of their NIC are seen only on plane-p agg links and arrive on port p."""
    started = time.monotonic()
    fabric = lab.fabric
    pairs = same_rail_pairs(lab.nics.values(), cross_segment=True)
    flows = [
        Flow(a, b, sport=21000 + 2 * i + p, dport=5002, port=p)
        for i, (a, b) in enumerate(pairs)
        for p in (0, 1)
    ]
    layout = lab.emulation.layout
    points: dict[str, tuple[str, str]] = {}
    plane_of: dict[str, int] = {}
    for agg in fabric.aggs():
        for port in fabric.switch_ports(agg.name):
            label = f"{agg.name}:{port}"
            points[label] = (layout.namespace, layout.switch_iface(agg.name, port))
            plane_of[label] = agg.plane
    for nic in {b for _, b in pairs}:
        for p, iface in enumerate(nic.ports):
            label = f"{nic}/p{p}"
            points[label] = (nic.netns, iface)

    run = await run_flows(lab, flows, rounds=packets, interval=0.01, capture=points)
    frames_by_plane = {p: 0 for p in fabric.planes}
    crossings = wrong_port = other = 0
    for point, frames in run.capture.by_point():
        for frame in frames:
            flow = _test_flow(frame.data, flows)
            if point in plane_of:
                if flow is None:
                    other += 1
                    continue
                frames_by_plane[plane_of[point]] += 1
                assert flow.port is not None
                if plane_of[point] != fabric.switch(lab.tor(flow.src, flow.port)).plane:
                    crossings += 1
            elif flow is not None and not frame.outgoing and not point.endswith(f"/p{flow.port}"):
                wrong_port += 1
    lost = run.lost
    problems = _fails(
        f"{crossings} test frames crossed planes" if crossings else None,
        f"{wrong_port} test packets arrived on the other NIC port" if wrong_port else None,
        f"{lost} test packets lost" if lost else None,
        *(
            f"no test frame seen on the aggs of plane {p} (capture broken?)"
            for p, n in frames_by_plane.items()
            if n == 0
        ),
    )
    return PlaneIsolationResult(
        len(flows), frames_by_plane, crossings, wrong_port, other, problems, time.monotonic() - started
    )


def _test_flow(data: bytes, flows: Sequence[Flow]) -> Flow | None:
    """The test flow an Ethernet frame belongs to (by its UDP source port and header), if any."""
    if len(data) < 34 or data[12:14] != b"\x08\x00" or data[23] != 17:
        return None
    udp = 14 + (data[14] & 0xF) * 4
    payload = data[udp + 8 :]
    if len(payload) < HEADER.size or payload[:4] != MAGIC:
        return None
    (sport,) = struct.unpack_from("!H", data, udp)
    _, i, _, _ = HEADER.unpack_from(payload)
    return flows[i] if i < len(flows) and flows[i].sport == sport else None

"""One packet end to end: bmv2 on veths, pipeline + one route pushed by hpn, packet checked."""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import Iterator
from ipaddress import IPv4Network

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from hpn.netlab.bmv2 import Bmv2Cli, cli_argv
from hpn.netlab.netns import raw_socket
from hpn.netlab.rig import SwitchRig, unique_prefix
from hpn.pipeline import BMV2_JSON_PATH, P4INFO_PATH, switch_entities
from hpn.pipeline.names import PORT_QUEUE, queued_bytes
from hpn.routing.state import Group, LbMode, PortConfig, Route, SwitchState
from hpn.runtime import FabricSession, SwitchTarget

pytestmark = [pytest.mark.integration, pytest.mark.root]

SWITCH_MAC = "02:00:00:00:00:fe"
NEXT_HOP_MAC = "02:00:00:00:01:02"


@pytest.fixture
def rig() -> Iterator[SwitchRig]:
    with SwitchRig(unique_prefix("t"), nports=4) as r:
        yield r


def one_route_state() -> SwitchState:
    ports = tuple(
        PortConfig(port=p, plane=0, peer=f"port{p}", neighbor_mac=f"02:00:00:00:01:{p:02x}") for p in range(4)
    )
    return SwitchState(
        name="sw",
        switch_mac=SWITCH_MAC,
        routes=(Route(0, IPv4Network("10.1.0.0/24"), 1),),
        groups=(Group(1, LbMode.ECMP, frozenset({2})),),
        ports=ports,
    )


def receive(socks: dict[int, socket.socket], timeout: float) -> list[tuple[int, bytes]]:
    """Everything that arrives on any of the sockets until `timeout` passes quietly."""
    got: list[tuple[int, bytes]] = []
    by_fd = {s.fileno(): port for port, s in socks.items()}
    while True:
        ready, _, _ = select.select(list(socks.values()), [], [], timeout)
        if not ready:
            return got
        for s in ready:
            got.append((by_fd[s.fileno()], s.recv(65535)))


def send_and_receive(rig: SwitchRig, frames: list[bytes]) -> list[tuple[int, bytes]]:
    """Send `frames` back to back into port 0; (port, frame) of all that leave by another port."""
    socks = {p: raw_socket(rig.netns.name, rig.host_iface(p)) for p in range(rig.nports)}
    try:
        for frame in frames:
            socks[0].send(frame)
        return [(p, data) for p, data in receive(socks, 1.0) if p != 0]
    finally:
        for s in socks.values():
            s.close()


def program_one_route(rig: SwitchRig) -> None:
    target = SwitchTarget("sw", rig.switch.grpc_address, 1, P4INFO_PATH, BMV2_JSON_PATH)

    async def program() -> None:
        async with FabricSession([target]) as fabric:
            report = await fabric.push({"sw": switch_entities(one_route_state())})
            assert report.ok, report.errors
            assert report["sw"].pipeline_pushed

    asyncio.run(program())


def test_packet_routed_out_of_the_right_port_rewritten(rig: SwitchRig) -> None:
    program_one_route(rig)

    sent = Ether(src="02:00:00:00:aa:01", dst=SWITCH_MAC) / IP(src="10.0.0.1", dst="10.1.0.7", ttl=64)
    sent = sent / UDP(sport=1111, dport=2222) / Raw(b"hello hpn")
    got = send_and_receive(rig, [bytes(sent)])

    assert [p for p, _ in got] == [2], f"expected one packet on port 2, got ports {[p for p, _ in got]}"
    out = Ether(got[0][1])
    assert out[Ether].src == SWITCH_MAC
    assert out[Ether].dst == NEXT_HOP_MAC
    assert out[IP].ttl == 63
    recomputed = IP(bytes(out[IP]))
    del recomputed.chksum
    assert out[IP].chksum == IP(bytes(recomputed)).chksum, "IPv4 checksum not updated"
    assert bytes(out[UDP].payload)[:9] == b"hello hpn"


# Over the 32 frames of a 64 KB-frame ring, within the ~200 of the ports' 9000-byte
# MTU, and within bmv2's egress queue (64 frames by default): the whole burst leaves by
# one port, and a queue that fills tail-drops.
BURST = 60


def test_back_to_back_burst_all_forwarded(rig: SwitchRig) -> None:
    """A burst sent faster than bmv2 reads its capture ring is still forwarded whole.

    libpcap sizes each frame of bmv2's 2 MB ring for the largest packet the port may
    deliver; with segmentation offloads on that is 64 KB, so 32 frames, and the rest of
    a burst was lost before bmv2 saw it.
    """
    program_one_route(rig)
    head = Ether(src="02:00:00:00:aa:01", dst=SWITCH_MAC) / IP(src="10.0.0.1", dst="10.1.0.7")
    burst = [bytes(head / UDP(sport=1111, dport=2222) / Raw(i.to_bytes(2, "big") * 40)) for i in range(BURST)]
    got = [data for p, data in send_and_receive(rig, burst) if p == 2]  # built beforehand: back to back

    seen = sorted(int.from_bytes(bytes(Ether(d)[UDP].payload)[:2], "big") for d in got)
    assert seen == list(range(BURST)), f"{BURST - len(set(seen))} of {BURST} burst frames lost"


def test_queue_count_reads_back_over_thrift(rig: SwitchRig) -> None:
    """The incast sampler reads port_queue over Thrift, whose register values are 64-bit:
    after 5 frames have left port 2 its cell numbers 5 frames and holds 0 bytes."""
    program_one_route(rig)
    head = Ether(src="02:00:00:00:aa:01", dst=SWITCH_MAC) / IP(src="10.0.0.1", dst="10.1.0.7")
    frames = [bytes(head / UDP(sport=1111 + i, dport=2222) / Raw(b"q" * 100)) for i in range(5)]
    got = [data for p, data in send_and_receive(rig, frames) if p == 2]
    assert len(got) == 5, f"{len(got)} of 5 frames forwarded"

    with Bmv2Cli(cli_argv(rig.netns, rig.switch.thrift_port)) as cli:
        cell = cli.register_read(PORT_QUEUE, 2)
    assert cell >> 32 == 5, f"port_queue[2] = {cell:#x}: frames counted should be 5"
    assert queued_bytes(cell) == 0, f"port_queue[2] = {cell:#x}: nothing should be queued"

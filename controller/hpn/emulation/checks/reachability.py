"""Reachability: every NIC reaches every other NIC of its rail."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from hpn.emulation.checks.base import Lab, Verdict, run_flows
from hpn.emulation.traffic import Flow, TcpResult, ping, same_rail_pairs, tcp_transfer


@dataclass
class ConnectivityResult(Verdict):
    pairs: int
    ping_rtt: dict[str, float | None]  # "a -> b": seconds
    udp: dict[str, tuple[int, int]]  # "a -> b": (delivered, sent)
    tcp: dict[str, TcpResult]
    problems: list[str]
    seconds: float

    def summary(self) -> str:
        pings = sum(v is not None for v in self.ping_rtt.values())
        udp_ok = sum(d == s for d, s in self.udp.values())
        tcp_ok = sum(t.ok for t in self.tcp.values())
        return (
            f"{self.pairs} NIC pairs (same rail, every rail): ping {pings}/{self.pairs}, "
            f"UDP {udp_ok}/{self.pairs}, TCP {tcp_ok}/{self.pairs}"
        )


async def connectivity(lab: Lab, udp_packets: int = 5, tcp_bytes: int = 16384) -> ConnectivityResult:
    """Every NIC reaches every other NIC of its rail: ping, a short UDP flow, a TCP transfer."""
    started = time.monotonic()
    pairs = same_rail_pairs(lab.nics.values())
    rtts = await asyncio.to_thread(ping, pairs)
    flows = [Flow(a, b, sport=20000 + i, dport=5001) for i, (a, b) in enumerate(pairs)]
    logs = (await run_flows(lab, flows, rounds=udp_packets, interval=0.01)).logs
    tcps = []
    for i, (a, b) in enumerate(pairs):
        tcps.append(await asyncio.to_thread(tcp_transfer, a, b, tcp_bytes, 5201 + i))
    problems = [f"ping {a} -> {b}: no answer" for (a, b), rtt in rtts.items() if rtt is None]
    problems += [f"UDP {log.flow}: {len(log.lost)}/{len(log.sent)} lost" for log in logs if log.lost]
    problems += [
        f"TCP {t.src} -> {t.dst}: {t.error or f'{t.received}/{t.sent} bytes'}" for t in tcps if not t.ok
    ]
    return ConnectivityResult(
        pairs=len(pairs),
        ping_rtt={f"{a} -> {b}": rtt for (a, b), rtt in rtts.items()},
        udp={f"{log.flow.src} -> {log.flow.dst}": (len(log.received), len(log.sent)) for log in logs},
        tcp={f"{t.src} -> {t.dst}": t for t in tcps},
        problems=problems,
        seconds=time.monotonic() - started,
    )

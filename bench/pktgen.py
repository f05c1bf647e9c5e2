#!/usr/bin/env python3
"""Packet generator and counter of bench/bench_pktrate.py, run inside its namespace.

Reads commands on stdin, one per line, and answers one JSON line each:
    run <seconds> <warmup> <rate>   send the flow set round robin on --tx at <rate> pkt/s
                                    (0: as fast as it can) for <warmup> + <seconds>; answer
                                    the packets sent and the packets the --rx interfaces
                                    received during the last <seconds> (kernel counters)
    quit
It is started before the benchmark opens any gRPC channel (gRPC does not survive fork).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path

BATCH = 64


def rx_packets(ifaces: list[str]) -> int:
    return sum(int(Path(f"/sys/class/net/{i}/statistics/rx_packets").read_text()) for i in ifaces)


def run(
    sock: socket.socket, frames: list[bytes], rx: list[str], seconds: float, warmup: float, rate: float
) -> dict[str, float]:
    start = time.perf_counter()
    measure_at = start + warmup
    end = measure_at + seconds
    sent = 0
    i = 0
    n = len(frames)
    rx_start: int | None = None
    t_start = 0.0
    while True:
        now = time.perf_counter()
        if rx_start is None and now >= measure_at:
            rx_start, t_start = rx_packets(rx), now
        if now >= end:
            break
        if rate and sent > rate * (now - start):
            time.sleep(0.0002)  # pacing the offered load, not synchronisation
            continue
        for _ in range(BATCH):
            sock.send(frames[i])
            i = i + 1 if i + 1 < n else 0
        sent += BATCH
    rx_end, t_end = rx_packets(rx), time.perf_counter()
    assert rx_start is not None
    elapsed = t_end - t_start
    return {
        "sent": sent,
        "offered_pps": sent / (t_end - start),
        "delivered_pps": (rx_end - rx_start) / elapsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tx", required=True, help="interface to send on")
    parser.add_argument("--rx", required=True, help="comma-separated interfaces whose received packets count")
    parser.add_argument("--frames", type=Path, required=True, help="file of frames: hex, one per line")
    args = parser.parse_args()
    frames = [bytes.fromhex(line) for line in args.frames.read_text().split()]
    rx = args.rx.split(",")
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((args.tx, 0))
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        if words[0] == "run":
            seconds, warmup, rate = (float(w) for w in words[1:4])
            print(json.dumps(run(sock, frames, rx, seconds, warmup, rate)), flush=True)
        else:
            print(json.dumps({"error": f"unknown command {words[0]!r}"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

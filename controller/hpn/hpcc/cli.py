"""``python -m hpn.hpcc send|receive``: one agent role per process, in an emulated host.

Run it in a host's network namespace, bound to the host NIC's address, e.g.::

    ip netns exec hpn-emu-hpn-mini-host-s1-h0 .venv/bin/python -m hpn.hpcc receive --ip 10.1.0.1
    ip netns exec hpn-emu-hpn-mini-host-s0-h0 .venv/bin/python -m hpn.hpcc send \\
        --ip 10.0.0.1 --to 10.1.0.1 --duration 20 --line-rate-pps 2000 --base-rtt-us 2000

Each says on stderr when it is ready (its sockets bound: RECEIVER_READY, SENDER_READY) and
prints a JSON summary on stdout when it ends (``--duration``, the flow's ``--bytes``
acknowledged, SIGTERM or SIGINT, even one that came before it was ready: then the summary is
``{"role": ..., "started": false, "stopped_by": "SIGTERM"}``); ``--log FILE`` writes one JSON
line per ACK (sender) or per data packet with its INT stack (receiver). docs/hpcc.md explains
the settings.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict
from typing import IO, Any

from hpn.hpcc.config import AgentSettings
from hpn.hpcc.flow import SenderFlow
from hpn.hpcc.receiver import NACK_INTERVAL_NS, Arrival, Receiver
from hpn.hpcc.sender import RateSample, Sender
from hpn.hpcc.stopping import StopSignals
from hpn.telemetry.codec import ROCEV2_UDP_PORT

SOCKET_BUFFER_BYTES = 1 << 22
RECEIVER_READY = "receiving on"
"""The start of the receiver's line on stderr once its socket is bound: ``receiving on IP:PORT``."""
SENDER_READY = "sending from"
"""The start of the sender's once its sockets are: ``sending from IP:SPORT to IP:PORT``."""


def _parser() -> argparse.ArgumentParser:
    defaults = AgentSettings()
    parser = argparse.ArgumentParser(prog="python -m hpn.hpcc", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="role", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--ip", required=True, help="this host's NIC address (bound)")
    common.add_argument(
        "--port",
        type=int,
        default=ROCEV2_UDP_PORT,
        help="RoCEv2 UDP port of both ends (receive: 0 takes a free one, printed on stderr)",
    )
    common.add_argument("--duration", type=float, help="seconds to run (default: until done or signalled)")
    common.add_argument("--log", help="JSON-lines file of every ACK (send) or data packet (receive)")

    recv = sub.add_parser("receive", parents=[common], help="ACK data packets, echoing their INT")
    recv.add_argument("--nack-interval-us", type=float, default=NACK_INTERVAL_NS / 1000)

    send = sub.add_parser("send", parents=[common], help="one paced flow, HPCC on the echoed INT")
    send.add_argument("--to", required=True, help="the receiver's address")
    send.add_argument("--sport", type=int, default=49152, help="UDP source port of the data (ECMP entropy)")
    send.add_argument("--qpn", type=int, default=1, help="BTH destination QP of this flow")
    send.add_argument("--bytes", dest="size_bytes", type=int, help="flow size (default: unbounded)")
    send.add_argument("--cc", choices=("hpcc", "none"), default=defaults.cc)
    send.add_argument("--nic-gbps", type=int, default=defaults.nic_gbps, help="nominal NIC rate (25-400)")
    send.add_argument(
        "--line-rate-pps",
        type=float,
        default=defaults.line_rate_pps,
        help="packets/s the NIC rate stands for",
    )
    send.add_argument("--payload-bytes", type=int, default=defaults.payload_bytes)
    send.add_argument("--base-rtt-us", type=float, default=defaults.base_rtt_us, help="T")
    send.add_argument("--eta", dest="target_util", type=float, default=defaults.target_util)
    send.add_argument("--max-stage", type=int, default=defaults.max_stage)
    send.add_argument("--rate-ai-mbps", type=float, help="nominal W_AI (default: NIC rate * (1 - eta) / N)")
    send.add_argument(
        "--expected-flows", type=int, default=defaults.expected_flows, help="N of the default W_AI"
    )
    send.add_argument("--min-rate-mbps", type=float, default=defaults.min_rate_mbps, help="nominal MIN_RATE")
    send.add_argument("--min-packets-per-s", type=float, default=defaults.min_packets_per_s)
    send.add_argument("--fixed-window", dest="var_win", action="store_false", help="VAR_WIN 0")
    send.add_argument("--no-fast-react", dest="fast_react", action="store_false", help="FAST_REACT 0")
    send.add_argument("--multi-rate", action="store_true", help="MULTI_RATE 1")
    send.add_argument("--sample-feedback", action="store_true", help="SAMPLE_FEEDBACK 1")
    send.add_argument("--rto-ms", type=float, default=defaults.rto_ms)
    return parser


def settings_from(args: argparse.Namespace) -> AgentSettings:
    names = AgentSettings.__dataclass_fields__
    return AgentSettings(**{k: v for k, v in vars(args).items() if k in names})


def _udp_socket(ip: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER_BYTES)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER_BYTES)
    sock.bind((ip, port))
    return sock


def _json_lines(log: IO[str] | None) -> Callable[[dict[str, Any]], None] | None:
    if log is None:
        return None
    return lambda record: print(json.dumps(record), file=log)


def _arrival_record(arrival: Arrival) -> dict[str, Any]:
    hops = [[h.link_rate_index, h.timestamp, h.tx_bytes, h.qlen] for h in arrival.stack.hops]
    answer = None if arrival.answer is None else arrival.answer.name
    return {
        "t_ns": arrival.t_ns,
        "peer": arrival.peer,
        "qpn": arrival.qpn,
        "seq": arrival.seq,
        "answer": answer,
        "nhop": arrival.stack.nhop,
        "hops": hops,
    }


def _sample_record(sample: RateSample) -> dict[str, Any]:
    record = asdict(sample)
    record["kind"] = None if sample.kind is None else sample.kind.value
    return record


def receive(args: argparse.Namespace, stop: threading.Event, log: IO[str] | None) -> dict[str, Any]:
    write = _json_lines(log)
    with _udp_socket(args.ip, args.port) as sock:
        port = int(sock.getsockname()[1])  # the one bound, when --port 0 asked for any
        receiver = Receiver(
            sock,
            ack_port=port,
            nack_interval_ns=round(args.nack_interval_us * 1000),
            on_arrival=None if write is None else (lambda a: write(_arrival_record(a))),
        )
        print(f"{RECEIVER_READY} {args.ip}:{port}", file=sys.stderr, flush=True)
        until = None if args.duration is None else time.monotonic_ns() + round(args.duration * 1e9)
        receiver.serve(stop, until_ns=until)
    return {
        "role": "receive",
        "queues": [{"peer": peer, "qpn": qpn, **asdict(q)} for (peer, qpn), q in receiver.queues.items()],
    }


def send(args: argparse.Namespace, stop: threading.Event, log: IO[str] | None) -> dict[str, Any]:
    settings = settings_from(args)
    config = settings.flow_config()
    write = _json_lines(log)
    with ExitStack() as sockets:
        ack_sock = sockets.enter_context(_udp_socket(args.ip, args.port))
        data_sock = (
            ack_sock if args.sport == args.port else sockets.enter_context(_udp_socket(args.ip, args.sport))
        )
        data_sock.connect((args.to, args.port))
        sport = int(data_sock.getsockname()[1])
        print(f"{SENDER_READY} {args.ip}:{sport} to {args.to}:{args.port}", file=sys.stderr, flush=True)
        sender = Sender(
            SenderFlow(config, time.monotonic_ns()),
            qpn=args.qpn,
            data_sock=data_sock,
            ack_sock=ack_sock,
            on_sample=None if write is None else (lambda s: write(_sample_record(s))),
            keep_samples=False,
        )
        until = None if args.duration is None else time.monotonic_ns() + round(args.duration * 1e9)
        stats = sender.run(until_ns=until, stop=stop)
    rtts = stats.rtts_ns
    seconds = max(1e-9, (stats.ended_ns - stats.started_ns) / 1e9)
    return {
        "role": "send",
        "settings": asdict(settings),
        "line_rate_bps": config.line_rate_bps,
        "hpcc": None if config.hpcc is None else asdict(config.hpcc),
        "packets_sent": stats.packets_sent,
        "acks": stats.acks,
        "nacks": stats.nacks,
        "retransmits": stats.retransmits,
        "acked_bytes": stats.acked_bytes,
        "seconds": seconds,
        "goodput_bps": stats.acked_bytes * 8 / seconds,
        "final_rate_bps": sender.flow.rate_bps,
        "rtt_ns": {"min": min(rtts), "median": statistics.median(rtts)} if rtts else None,
    }


def main(argv: Sequence[str] | None = None, stop: StopSignals | None = None) -> int:
    """Run one agent; `stop` is its stop handling when the caller installed it already."""
    if stop is None:
        stop = StopSignals().install()
    args = _parser().parse_args(argv)
    run = receive if args.role == "receive" else send
    if stop.event.is_set():  # stopped while it was starting: nothing bound, nothing sent
        summary: dict[str, Any] = {"role": args.role, "started": False}
    else:
        with ExitStack() as files:
            log = None if args.log is None else files.enter_context(open(args.log, "w"))
            summary = {**run(args, stop.event, log), "started": True}
    summary["stopped_by"] = stop.signal
    json.dump(summary, sys.stdout)
    print()
    return 0

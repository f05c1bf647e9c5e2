"""What the agents wrote: the receiver's per-packet log, the senders' summaries and ACK logs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpn.experiments.incast.agents import Agent, tail
from hpn.experiments.incast.errors import IncastError
from hpn.telemetry.codec import QLEN_UNIT


@dataclass(frozen=True)
class Arrival:
    """One data packet at the receiver, as its log has it."""

    t_ns: int
    sender: str
    """The sender's address."""
    in_order: bool
    """New data delivered in order (the receiver ACKed it); else a duplicate or beyond a gap."""
    queue_bytes: int | None
    """The bottleneck's queue behind the packet as it left (INT qlen of the last hop), bytes."""


def read_arrivals(path: Path) -> list[Arrival]:
    """The receiver's log (``--log``): one Arrival per data packet, in arrival order."""
    out = []
    with open(path) as log:
        for line in log:
            record = json.loads(line)
            hops = record["hops"]  # IntStack.hops: oldest first, so the last is the bottleneck's
            queue = int(hops[-1][3]) * QLEN_UNIT if hops else None
            out.append(Arrival(int(record["t_ns"]), str(record["peer"]), record["answer"] == "ACK", queue))
    return out


def read_summary(agent: Agent) -> dict[str, Any]:
    """The JSON summary an agent wrote on its stdout as it stopped."""
    try:
        summary = json.loads(agent.summary.read_text())
    except (OSError, ValueError):
        raise IncastError(f"{agent.name} left no summary: {tail(agent.log)}") from None
    if not isinstance(summary, dict):
        raise IncastError(f"{agent.name}: a summary that is not an object ({agent.summary})")
    return summary


def read_rtts_us(path: Path) -> list[float]:
    """A sender's ACK log (``--log``): the round trip of every ACK, in microseconds."""
    with open(path) as lines:
        return [int(json.loads(line)["rtt_ns"]) / 1000 for line in lines]

"""Whether HPCC's senders reacted to INT: from each sender's ACK log (``send --log``), the ACKs on
which U was above eta (the queue or the link above target) and the rate went down.

This does not depend on how fast the machine runs: a sender that sees U above eta and
keeps its rate is not running HPCC, however slow or fast the fabric is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from hpn.experiments.incast.run import IncastRun
from hpn.hpcc.params import HpccParams

DEFAULT_ETA = next(f.default for f in fields(HpccParams) if f.name == "target_util")
"""eta when a sender's summary does not say (the agent's default is the reference's)."""


@dataclass(frozen=True)
class Reaction:
    """One sender's HPCC updates, from its ACK log."""

    updates: int
    """ACKs on which HPCC ran (a full update or a fast reaction)."""
    above_target: int
    """Of those, ACKs whose U was above eta."""
    cuts: int
    """Of those, ACKs after which the pacing rate was lower than after the ACK before."""


def sender_log(work_dir: Path, index: int) -> Path:
    """Where a run writes sender `index`'s ACK log (hpn.experiments.incast.run)."""
    return work_dir / f"sender{index}.jsonl"


def reaction(samples: Iterable[Mapping[str, Any]], eta: float) -> Reaction:
    """Count a sender's updates, those above eta and the cuts, over its ACK records in order."""
    updates = above = cuts = 0
    previous: int | None = None
    for s in samples:
        rate = int(s["rate_bps"])
        u = s.get("u")
        if s.get("kind") in ("full", "fast") and u is not None and not math.isnan(float(u)):
            updates += 1
            if float(u) > eta:
                above += 1
                if previous is not None and rate < previous:
                    cuts += 1
        previous = rate
    return Reaction(updates, above, cuts)


def read_reaction(path: Path, eta: float) -> Reaction:
    """The reaction in one ACK log; a log that is missing holds no update."""
    try:
        with open(path) as lines:
            return reaction((json.loads(line) for line in lines if line.strip()), eta)
    except FileNotFoundError:
        return Reaction(0, 0, 0)


def read_reactions(run: IncastRun) -> dict[str, Reaction] | None:
    """Every sender's reaction, by address; None for a run without congestion control."""
    if run.cc != "hpcc":
        return None
    out = {}
    for i, nic in enumerate(run.setup.senders):
        key = str(nic.ip)
        params = run.senders.get(key, {}).get("hpcc") or {}
        eta = float(params.get("target_util", DEFAULT_ETA))
        out[key] = read_reaction(sender_log(run.work_dir, i), eta)
    return out

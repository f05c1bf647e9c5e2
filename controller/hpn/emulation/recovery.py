"""How a cut hit the flows running across it, from what their receivers got.

Each flow's log (`hpn.emulation.traffic.FlowLog`) holds the send time of every sequence
number and the receive time of those that arrived. Around a cut at `t_cut` that lasts
until the fabric is restored at `t_back`:

- a flow is *hit* when a run of lost packets begins within the cut's onset: its first
  lost packet was sent in [t_cut - grace, t_cut + onset) (later, separate losses, a
  packet dropped by a busy switch, are not the cut's);
- it *recovered* at the receive time of the first packet after that run, when that
  packet was sent before `t_back`: the recovery time is that minus `t_cut`;
- otherwise it is *lost*: it never delivered again while the failure lasted.

The cut's recovery time is the longest of its hit flows' (every hit flow, hence every host
pair, delivers again by then); lost flows are counted apart, and so are the packets flows
the cut did not hit lost while it lasted (a write that briefly left a route without its
group, a busy switch).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hpn.emulation.traffic import Flow, FlowLog


@dataclass(frozen=True)
class FlowOutage:
    """One flow the cut hit."""

    flow: Flow
    recovered_after: float | None
    """Seconds from the cut until it delivered again; None: it never did before the restore."""
    lost_packets: int

    @property
    def lost(self) -> bool:
        return self.recovered_after is None


def flow_outage(log: FlowLog, t_cut: float, t_back: float, onset: float, grace: float) -> FlowOutage | None:
    """The outage the cut caused this flow, or None when it was not hit (see the module doc)."""
    missing = {seq for seq in range(len(log.sent)) if seq not in log.received}
    during = [seq for seq in sorted(missing) if t_cut - grace <= log.sent[seq] < t_back]
    first = next((seq for seq in during if log.sent[seq] < t_cut + onset), None)
    if first is None:
        return None
    seq = first
    while seq in missing:
        seq += 1
    back = seq < len(log.sent) and log.sent[seq] < t_back
    return FlowOutage(log.flow, log.received[seq] - t_cut if back else None, len(during))


@dataclass(frozen=True)
class CutRecovery:
    """What one cut did to the flows running across it."""

    flows: int
    outages: tuple[FlowOutage, ...]
    other_lost_packets: int = 0
    """Packets lost while the cut lasted by flows it did not hit."""

    @property
    def hit(self) -> int:
        return len(self.outages)

    @property
    def lost_flows(self) -> tuple[FlowOutage, ...]:
        return tuple(o for o in self.outages if o.lost)

    @property
    def recovery(self) -> float | None:
        """Seconds until every hit flow that recovered delivered again (0.0: none was hit)."""
        times = [o.recovered_after for o in self.outages if o.recovered_after is not None]
        return max(times) if times else (0.0 if not self.outages else None)

    @property
    def pairs_hit(self) -> set[tuple[str, str]]:
        return {(str(o.flow.src), str(o.flow.dst)) for o in self.outages}

    @property
    def lost_packets(self) -> int:
        return sum(o.lost_packets for o in self.outages)


def cut_recovery(
    logs: Iterable[FlowLog], t_cut: float, t_back: float, onset: float, grace: float
) -> CutRecovery:
    """Every flow's outage from one cut (see the module doc for the window arguments)."""
    outages, others = [], 0
    listed = list(logs)
    for log in listed:
        outage = flow_outage(log, t_cut, t_back, onset, grace)
        if outage is not None:
            outages.append(outage)
        else:
            others += sum(1 for seq in log.lost if t_cut - grace <= log.sent[seq] < t_back)
    return CutRecovery(len(listed), tuple(outages), others)

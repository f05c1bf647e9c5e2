"""Fabrics that are wired by the rules but cannot carry traffic.

Run on a fabric that passed the cross-entry rules (validate.py): every link end
exists and links join a NIC to a ToR of its segment and rail, or a ToR to an agg
of its plane. Traffic between two ToRs goes up to an agg both link to and down
(HPN has two tiers: no ToR forwards a packet back up), and stays in the plane it
entered. So, per routing plane, two NICs have a path when some ToR one is cabled
to shares an agg with some ToR the other is cabled to, or they share a ToR.

Problems, each on the element at fault:
  switches[i]        a switch with no cable; a ToR with hosts but no uplink while
                     its plane has other ToRs with hosts; ToRs whose hosts have no
                     path to the hosts of other ToRs of the plane (no common agg)
  hosts[i].nics[j]   a NIC cabled to no ToR; NICs whose planes have none in common

Cost: one pass over the links, then per plane one bitmask OR per (NIC class, agg),
where a NIC class is a set of ToRs NICs are cabled to (one per ToR in dual-plane).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from hpn.topology.errors import Path, Problem
from hpn.topology.model import Fabric, NicId, NicPort, Role, SwitchPort

SHOWN = 3
"""Names a message lists before "and N more"."""


@dataclass
class _Wiring:
    """Who is cabled to whom, from one pass over the links."""

    nic_tors: dict[NicId, set[str]] = field(default_factory=lambda: defaultdict(set))
    tor_nics: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tor_aggs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    agg_tors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # NICs by the set of ToRs they are cabled to, in link order: the plane checks look at
    # each distinct set once (about one per ToR), not at every NIC
    alike: dict[frozenset[str], list[NicId]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, fabric: Fabric) -> _Wiring:
        wiring = cls()
        for link in fabric.links:
            a, b = link.a, link.b
            if type(a) is NicPort or type(b) is NicPort:
                nic, tor = (a, b) if type(a) is NicPort else (b, a)
                assert isinstance(nic, NicPort) and isinstance(tor, SwitchPort)
                wiring.nic_tors[(nic.host, nic.rail)].add(tor.switch)
                wiring.tor_nics[tor.switch] += 1
                continue
            assert isinstance(a, SwitchPort) and isinstance(b, SwitchPort)
            tor, agg = (a, b) if fabric.switch(a.switch).role is Role.TOR else (b, a)
            wiring.tor_aggs[tor.switch].add(agg.switch)
            wiring.agg_tors[agg.switch] += 1
        for nic_id, tors in wiring.nic_tors.items():
            wiring.alike[frozenset(tors)].append(nic_id)
        return wiring


def check_connectivity(fabric: Fabric) -> list[Problem]:
    """What keeps traffic from flowing, for a fabric that passed `check_fabric`'s rules."""
    wiring = _Wiring.of(fabric)
    index = {s.name: i for i, s in enumerate(fabric.switches)}
    problems = _unused_elements(fabric, wiring)
    uplinked: set[str] = set()
    for plane in fabric.planes:
        problems += _plane_problems(fabric, wiring, plane, index, uplinked)
    problems += _disjoint_planes(fabric, wiring)
    return problems


def _tors(names: Iterable[str]) -> str:
    """ "ToR 'a'" or "ToRs 'a', 'b', 'c' and 4 more"."""
    listed = list(names)
    shown = ", ".join(repr(n) for n in listed[:SHOWN])
    more = len(listed) - SHOWN
    return ("ToR " if len(listed) == 1 else "ToRs ") + shown + (f" and {more} more" if more > 0 else "")


def _nic(nic_id: NicId) -> str:
    return f"{nic_id[0]}/nic{nic_id[1]}"


def _unused_elements(fabric: Fabric, wiring: _Wiring) -> list[Problem]:
    problems: list[Problem] = []
    for i, sw in enumerate(fabric.switches):
        if sw.role is Role.AGG and not wiring.agg_tors.get(sw.name):
            problems.append(Problem(("switches", i), f"aggregation switch {sw.name!r} is cabled to no ToR"))
        elif sw.role is Role.TOR and not wiring.tor_nics.get(sw.name) and not wiring.tor_aggs.get(sw.name):
            problems.append(Problem(("switches", i), f"ToR {sw.name!r} has no cable: no host and no uplink"))
    for i, host in enumerate(fabric.hosts):
        for j, nic in enumerate(host.nics):
            if not wiring.nic_tors.get((host.name, nic.rail)):
                problems.append(
                    Problem(
                        ("hosts", i, "nics", j),
                        f"the NIC of rail {nic.rail} of host {host.name!r} is cabled to no ToR",
                    )
                )
    return problems


def _plane_problems(
    fabric: Fabric, wiring: _Wiring, plane: int, index: dict[str, int], uplinked: set[str]
) -> list[Problem]:
    """ToRs with hosts but no uplink, then ToRs whose hosts have no path to others'."""
    with_hosts = [t.name for t in fabric.tors(plane) if wiring.tor_nics.get(t.name)]
    if len(with_hosts) < 2:
        return []  # one ToR holds every host of the plane: nothing needs to go up
    problems: list[Problem] = []
    for tor in with_hosts:
        if wiring.tor_aggs.get(tor):
            uplinked.add(tor)
        else:
            others = len(with_hosts) - 1
            problems.append(
                Problem(
                    ("switches", index[tor]),
                    f"ToR {tor!r} has hosts but no uplink: they cannot reach the hosts of the "
                    f"{others} other ToR{'s' if others > 1 else ''} of plane {plane}",
                )
            )
    return problems + _unjoined_tors(fabric, wiring, plane, index, uplinked)


def _unjoined_tors(
    fabric: Fabric, wiring: _Wiring, plane: int, index: dict[str, int], uplinked: set[str]
) -> list[Problem]:
    """Classes of NICs (the uplinked ToRs of this plane they are cabled to) that no agg
    joins, one problem per group of classes that miss the same others."""
    in_plane = {t.name for t in fabric.tors(plane)} & uplinked
    classes: dict[frozenset[str], NicId] = {}  # class -> first NIC of it
    for tors, nics in wiring.alike.items():
        cls = tors & in_plane
        if cls:
            classes.setdefault(cls, nics[0])
    if len(classes) < 2:
        return []
    order = sorted(classes, key=lambda c: min(index[t] for t in c))
    tor_bits: dict[str, int] = defaultdict(int)
    agg_bits: dict[str, int] = defaultdict(int)
    aggs_of: list[frozenset[str]] = []
    for bit, cls in enumerate(order):
        aggs = frozenset().union(*(wiring.tor_aggs[t] for t in cls))
        aggs_of.append(aggs)
        for tor in cls:
            tor_bits[tor] |= 1 << bit
        for agg in aggs:
            agg_bits[agg] |= 1 << bit
    full = (1 << len(order)) - 1
    via_aggs: dict[frozenset[str], int] = {}  # most classes of a plane share their aggs
    missing_of: dict[int, list[int]] = defaultdict(list)  # mask of unreached classes -> classes
    for bit, cls in enumerate(order):
        aggs = aggs_of[bit]
        reach = via_aggs.get(aggs)
        if reach is None:
            reach = 0
            for agg in aggs:
                reach |= agg_bits[agg]
            via_aggs[aggs] = reach
        for tor in cls:
            reach |= tor_bits[tor]
        if reach != full:
            missing_of[full & ~reach].append(bit)

    problems: list[Problem] = []
    named = 0  # classes already named as the ones without a path (reachability is symmetric)
    for missing, members in sorted(missing_of.items(), key=lambda kv: (-kv[0].bit_count(), kv[1][0])):
        if missing & ~named == 0:
            continue  # every pair here is already in a problem of the other side
        for bit in members:
            named |= 1 << bit
        far = [bit for bit in range(len(order)) if missing >> bit & 1]
        near_tors = sorted({t for b in members for t in order[b]}, key=index.__getitem__)
        far_tors = sorted({t for b in far for t in order[b]}, key=index.__getitem__)
        near_nic, far_nic = classes[order[members[0]]], classes[order[far[0]]]
        problems.append(
            Problem(
                ("switches", index[near_tors[0]]),
                f"plane {plane}: no aggregation switch links {_tors(near_tors)} with "
                f"{_tors(far_tors)}, so their hosts have no path to each other "
                f"(e.g. {_nic(near_nic)} and {_nic(far_nic)})",
            )
        )
    return problems


def _disjoint_planes(fabric: Fabric, wiring: _Wiring) -> list[Problem]:
    """NICs cabled only to planes other NICs are not cabled to: no plane carries their traffic."""
    if fabric.planes_merged:
        return []
    host_index = {h.name: i for i, h in enumerate(fabric.hosts)}

    def where(nic_id: NicId) -> Path:
        i = host_index[nic_id[0]]
        j = next(j for j, n in enumerate(fabric.hosts[i].nics) if n.rail == nic_id[1])
        return ("hosts", i, "nics", j)

    by_planes: dict[frozenset[int], list[NicId]] = defaultdict(list)
    for tors, nics in wiring.alike.items():
        by_planes[frozenset(fabric.switch(t).plane for t in tors)] += nics
    first_of = {
        planes: min(nics, key=lambda n: (host_index[n[0]], n[1])) for planes, nics in by_planes.items()
    }
    groups = sorted(by_planes.items(), key=lambda kv: where(first_of[kv[0]]))
    problems: list[Problem] = []
    for k, (planes, nics) in enumerate(groups):
        for other, others in groups[:k]:
            if planes & other:
                continue
            first, peer = first_of[planes], first_of[other]
            problems.append(
                Problem(
                    where(first),
                    f"{_nic(first)}{_alike(nics)} is cabled to plane {_plane_list(planes)} only and "
                    f"{_nic(peer)}{_alike(others)} to plane {_plane_list(other)} only: they share no "
                    "plane, so no path joins them",
                )
            )
    return problems


def _alike(nics: list[NicId]) -> str:
    more = len(nics) - 1
    return f" (and {more} more NIC{'s' if more > 1 else ''} like it)" if more else ""


def _plane_list(planes: frozenset[int]) -> str:
    return " and ".join(str(p) for p in sorted(planes))

"""Indices of the drop-reason counter (DROP_* in p4src/shared/defines.p4)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping


class DropReason(enum.IntEnum):
    PARSER_ERROR = 1
    NOT_IPV4 = 2
    IPV4_CHECKSUM = 3
    IPV4_OPTIONS = 4
    TTL_EXPIRED = 5
    NO_ROUTE = 6
    NO_LIVE_MEMBER = 7
    PLANE_VIOLATION = 8
    NO_PLANE = 9
    IPV4_LENGTH = 10
    PUNT_LIMIT = 11


def drops_by_reason(counters: Iterable[Mapping[int, int]]) -> dict[DropReason, int]:
    """Packets dropped per reason, summed over every drop counter of a switch (cell index
    -> packets): on Tofino the egress drops (egress_drops) beside the ingress ones. Cells
    that name no reason (0, unused indices) are left out; reasons never seen are 0."""
    total = dict.fromkeys(DropReason, 0)
    for cells in counters:
        for index, packets in cells.items():
            if index in DropReason._value2member_map_:
                total[DropReason(index)] += packets
    return total

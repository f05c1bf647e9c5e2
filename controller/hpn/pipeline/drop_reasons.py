"""Indices of the drop-reason counter (DROP_* in p4src/shared/defines.p4)."""

from __future__ import annotations

import enum


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

"""The two targets of the P4 program and what the controller does differently for each.

Both programs share one P4Runtime contract (table, action and selector names, match
fields, the bucket-pair groups); what differs is listed here, documented in
docs/tofino.md and checked by tests/test_p4info_targets.py:

- bmv2 crashes when every member of a selector group is down (its PI group selection takes
  the pick modulo the live members), so each of its groups also holds a sentinel member
  without a watch port, created before every other member; Tofino needs none.
- Names are the same on both: bf-p4c writes the Tofino P4Info with standard P4Runtime
  counters and action profiles (`--p4runtime-force-std-externs`, as Tofino's P4Runtime
  servers take it), and then without the pipeline instance prefix (``pipe.``).
- Tofino has no multiplier: the seed is mixed through 256 seed-derived words
  (`seed_sbox`, written by the controller); bmv2 mixes with a multiply.
- ECN: bmv2 computes the RED ramp (`ecn_port`: kmin, kmax, pmax); Tofino looks it up
  (`ecn_ramp`: depth ranges, each with its probability).
- Timestamps: bmv2 counts microseconds; the Tofino program uses its nanosecond global
  timestamp shifted right by 10 (units of 1.024 us), so times are converted.
"""

from __future__ import annotations

import enum

from hpn.pipeline import names


class Target(enum.Enum):
    BMV2 = "bmv2"
    TOFINO = "tofino"

    @property
    def prefix(self) -> str:
        """What the compiler puts in front of the v1model program's names (nothing, with
        the standard P4Info tools/tofino_build.py asks bf-p4c for)."""
        return ""

    def qualify(self, name: str) -> str:
        return self.prefix + name

    @property
    def has_sentinel(self) -> bool:
        """Whether each selector group holds a sentinel member (created first of all)."""
        return self is Target.BMV2

    @property
    def tables(self) -> tuple[names.TableName, ...]:
        if self is Target.BMV2:
            return (*names.COMMON_TABLES, names.ECN_PORT)
        return (*names.COMMON_TABLES, names.ECN_RAMP, names.SEED_SBOX, names.SEED_PREMIX)

    @property
    def drop_counters(self) -> tuple[str, ...]:
        """Every counter of dropped packets by reason: Tofino also drops in egress (the
        IPv4 length check, a cut INT stack) and counts those apart."""
        extra = (names.EGRESS_DROP_COUNTER,) if self is Target.TOFINO else ()
        return (names.DROP_COUNTER, *extra)

    @property
    def counters(self) -> tuple[str, ...]:
        extra = (names.EGRESS_DROP_COUNTER,) if self is Target.TOFINO else ()
        return (*names.ALL_COUNTERS, *extra)

    @property
    def time_unit_ns(self) -> float:
        """Length of one unit of the program's timestamps (flowlet gap, load window)."""
        return 1000.0 if self is Target.BMV2 else 1024.0

    def time_units(self, microseconds: int) -> int:
        """`microseconds` in the program's timestamp units, at least 1."""
        return max(1, round(microseconds * 1000 / self.time_unit_ns))

    @property
    def group_size(self) -> int:
        """Members of a bucket's selector group at most."""
        return 3 if self.has_sentinel else 2

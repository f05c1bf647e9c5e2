"""Bucket layout of a next-hop group: which pair of members each bucket holds.

The switch hashes a flow to one of a group's B buckets (B a power of two) and then to
one member of that bucket's pair (load_balancing.p4). The layout decides three things:

- balance: every member is in the same number of pair halves, give or take one;
- failover spread: when a member dies its flows go to the other half of each of its
  pairs, so its partners should be all the other members, about equally often;
- the adaptive alternate: bucket ``b ^ 1`` shares no member with bucket ``b`` (for four
  members or more), so a flowlet moved off a congested port lands on other members.

Pairs come from a round-robin tournament (each round a perfect matching of the members),
taken round after round; consecutive pairs of one round are disjoint, and buckets
``2i`` and ``2i + 1`` take consecutive pairs.

The layout is computed from the group's intact members; a failure view only takes dead
members out of their pairs (their flows go to the partner, exactly what the switch's own
liveness does) and gives a bucket with no live member left a live one, so the flows on
healthy members never move when the controller learns of a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_BUCKET_BITS = 8
"""Buckets per group at most: 2**MAX_BUCKET_BITS (BUCKET_BITS in p4src/shared/sizes.p4)."""
BUCKETS_PER_MEMBER = 4
"""Aim for about this many buckets per member (more buckets: finer balance, more entries)."""


@dataclass(frozen=True)
class BucketLayout:
    """The buckets of one group: bucket b holds the members ``pairs[b]`` (1 or 2 ports)."""

    bits: int
    pairs: tuple[tuple[int, ...], ...]

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1


def bucket_bits(members: int) -> int:
    """log2 of the bucket count for a group of `members` ports."""
    if members <= 2:
        return 0  # one pair holds them all
    bits = 1
    while (1 << bits) < BUCKETS_PER_MEMBER * members and bits < MAX_BUCKET_BITS:
        bits += 1
    return bits


def _tournament(members: Sequence[int]) -> list[tuple[int, int]]:
    """Every pair of `members` once, round by round (circle method); a round's pairs are
    disjoint. An odd count gets a bye each round."""
    ring: list[int | None] = list(members)
    if len(ring) % 2:
        ring.append(None)
    n = len(ring)
    pairs: list[tuple[int, int]] = []
    for _ in range(n - 1):
        for i in range(n // 2):
            a, b = ring[i], ring[n - 1 - i]
            if a is not None and b is not None:
                pairs.append((a, b))
        ring = [ring[0], ring[-1], *ring[1:-1]]
    return pairs


def intact_layout(members: Iterable[int]) -> BucketLayout:
    """The layout of a group whose members are all up."""
    ports = sorted(set(members))
    if not ports:
        raise ValueError("a next-hop group needs at least one member")
    bits = bucket_bits(len(ports))
    if len(ports) == 1:
        return BucketLayout(0, ((ports[0],),))
    if len(ports) == 2:
        return BucketLayout(0, ((ports[0], ports[1]),))
    return BucketLayout(bits, tuple(_alternating(_tournament(ports), 1 << bits)))


def _alternating(cycle: list[tuple[int, int]], count: int) -> list[tuple[int, int]]:
    """`count` pairs taken from `cycle` repeated, in order, except that each odd position
    takes the next pair disjoint from the one before it (when there is one)."""
    pool = cycle * (count // len(cycle) + 2)
    out: list[tuple[int, int]] = []
    while len(out) < count:
        first = pool.pop(0)
        out.append(first)
        if len(out) == count:
            break
        at = next((i for i, p in enumerate(pool) if not set(p) & set(first)), 0)
        out.append(pool.pop(at))
    return out


def live_layout(intact: BucketLayout, live: Iterable[int]) -> BucketLayout:
    """`intact` with dead members out of their pairs; an emptied bucket gets a live member
    (taken in turn, so emptied buckets spread over the live members)."""
    alive = sorted(set(live))
    if not alive:
        raise ValueError("a next-hop group needs at least one live member")
    spare = 0
    pairs: list[tuple[int, ...]] = []
    for pair in intact.pairs:
        kept = tuple(p for p in pair if p in alive)
        if not kept:
            kept = (alive[spare % len(alive)],)
            spare += 1
        pairs.append(kept)
    return BucketLayout(intact.bits, tuple(pairs))


def layout(members: Iterable[int], intact: Iterable[int] | None = None) -> BucketLayout:
    """The layout for live `members`, laid out from the `intact` members when known."""
    live = frozenset(members)
    if intact is None:
        return intact_layout(live)
    base = frozenset(intact)
    if not live <= base:
        return intact_layout(live)  # members the intact group never had: a fresh layout
    return live_layout(intact_layout(base), live)

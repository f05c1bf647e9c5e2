"""Who sends what to whom at each step of an all-reduce: ring and halving-doubling.

A buffer of `size` bytes per rank is cut into `n` chunks (`chunk_bytes`). A schedule is
a list of steps; a step is the transfers every rank makes in it, and a rank starts step
k + 1 once it has received its step-k data, as a real collective does. Both algorithms
send 2(n - 1)/n of the buffer per rank; they differ in how many steps and with whom:

- ring: 2(n - 1) steps, each to the next rank, one chunk each: n - 1 steps of
  reduce-scatter (rank r sends chunk r - s), then n - 1 of all-gather (chunk r + 1 - s);
- halving-doubling (recursive halving, then recursive doubling): 2 log2(n) steps with
  partners r XOR n/2, ..., r XOR 1, then back; each step halves (then doubles) the data,
  so it needs a power-of-two number of ranks.

`contributions` replays a schedule on sets of contributing ranks: an all-reduce is right
when every rank ends with every chunk holding all n contributions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class Algorithm(str, Enum):
    RING = "ring"
    HALVING_DOUBLING = "hd"


@dataclass(frozen=True)
class Transfer:
    """One rank's send in one step: `chunks` of the buffer from `src` to `dst` (ranks)."""

    step: int
    src: int
    dst: int
    chunks: tuple[int, ...]
    bytes: int


Schedule = list[list[Transfer]]
"""Steps, in order; each the transfers of every rank in it."""


def chunk_bytes(size: int, n: int) -> list[int]:
    """The `n` chunks of a `size`-byte buffer: as equal as whole bytes allow, larger first."""
    if n < 1:
        raise ValueError(f"an all-reduce needs at least one rank, not {n}")
    if size < 0:
        raise ValueError(f"a buffer cannot have {size} bytes")
    return [size // n + (1 if c < size % n else 0) for c in range(n)]


def _transfer(step: int, src: int, dst: int, chunks: Sequence[int], sizes: Sequence[int]) -> Transfer:
    return Transfer(step, src, dst, tuple(chunks), sum(sizes[c] for c in chunks))


def ring_allreduce(n: int, size: int) -> Schedule:
    """Ring all-reduce of `size` bytes over `n` ranks (no step for one rank)."""
    sizes = chunk_bytes(size, n)
    steps: Schedule = []
    for s in range(n - 1):  # reduce-scatter: afterwards rank r holds chunk r + 1 in full
        steps.append([_transfer(len(steps), r, (r + 1) % n, [(r - s) % n], sizes) for r in range(n)])
    for s in range(n - 1):  # all-gather: pass the full chunks on
        steps.append([_transfer(len(steps), r, (r + 1) % n, [(r + 1 - s) % n], sizes) for r in range(n)])
    return steps


def is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def halving_doubling_allreduce(n: int, size: int) -> Schedule:
    """Recursive halving reduce-scatter, then recursive doubling all-gather.

    Raises ValueError unless `n` is a power of two.
    """
    if not is_power_of_two(n):
        raise ValueError(
            f"halving-doubling needs a power-of-two number of ranks (1, 2, 4, 8, ...), not {n}: "
            "use ring, or a job of a power-of-two size"
        )
    sizes = chunk_bytes(size, n)
    held = [(0, n) for _ in range(n)]  # the chunk range [lo, hi) each rank is responsible for
    steps: Schedule = []
    distance = n // 2
    while distance >= 1:  # halving: keep the half on my side of `distance`, send the other
        step = []
        for r in range(n):
            lo, hi = held[r]
            mid = (lo + hi) // 2
            keep, give = ((lo, mid), (mid, hi)) if r & distance == 0 else ((mid, hi), (lo, mid))
            step.append(_transfer(len(steps), r, r ^ distance, range(*give), sizes))
            held[r] = keep
        steps.append(step)
        distance //= 2
    distance = 1
    while distance < n:  # doubling: send what I hold, hold both halves
        step = [_transfer(len(steps), r, r ^ distance, range(*held[r]), sizes) for r in range(n)]
        held = [_union(held[r], held[r ^ distance]) for r in range(n)]
        steps.append(step)
        distance *= 2
    return steps


def _union(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """Two adjacent chunk ranges as one."""
    return (min(a[0], b[0]), max(a[1], b[1]))


def allreduce(algorithm: Algorithm, n: int, size: int) -> Schedule:
    if algorithm is Algorithm.RING:
        return ring_allreduce(n, size)
    return halving_doubling_allreduce(n, size)


def contributions(n: int, schedule: Schedule) -> list[list[frozenset[int]]]:
    """Replay `schedule`: per rank, per chunk, the ranks whose data that chunk now holds.

    A transfer carries the sender's chunks as they were before the step (steps are
    synchronous); the receiver combines them with its own (reduce; for a complete chunk
    this is a copy).
    """
    state = [[frozenset({r}) for _ in range(n)] for r in range(n)]
    for step in schedule:
        before = [list(row) for row in state]
        for t in step:
            for c in t.chunks:
                state[t.dst][c] = state[t.dst][c] | before[t.src][c]
    return state


def bytes_sent_per_rank(n: int, schedule: Schedule) -> list[int]:
    sent = [0] * n
    for step in schedule:
        for t in step:
            sent[t.src] += t.bytes
    return sent

"""Bucket layout of next-hop groups: balance, failover spread, the adaptive alternate."""

from __future__ import annotations

from collections import Counter

import pytest

from hpn.pipeline.buckets import MAX_BUCKET_BITS, bucket_bits, intact_layout, layout, live_layout


def halves(pairs: tuple[tuple[int, ...], ...]) -> Counter[int]:
    """How many bucket halves each member holds (a single-member bucket is two halves)."""
    out: Counter[int] = Counter()
    for pair in pairs:
        for p in pair:
            out[p] += 2 // len(pair)
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 60])
def test_every_member_holds_the_same_share_give_or_take_one(n: int) -> None:
    lay = intact_layout(range(100, 100 + n))
    assert len(lay.pairs) == 1 << lay.bits
    shares = halves(lay.pairs)
    assert set(shares) == set(range(100, 100 + n))
    assert max(shares.values()) - min(shares.values()) <= 1


@pytest.mark.parametrize("n", [4, 5, 6, 8, 12, 60])
def test_adjacent_buckets_share_no_member(n: int) -> None:
    lay = intact_layout(range(n))
    for b in range(0, len(lay.pairs), 2):
        assert not set(lay.pairs[b]) & set(lay.pairs[b ^ 1]), (b, lay.pairs[b], lay.pairs[b ^ 1])


@pytest.mark.parametrize("n", [3, 4, 5, 8])
def test_a_members_partners_are_every_other_member(n: int) -> None:
    lay = intact_layout(range(n))
    for member in range(n):
        partners = Counter(q for pair in lay.pairs if member in pair for q in pair if q != member)
        assert set(partners) == set(range(n)) - {member}
        assert max(partners.values()) - min(partners.values()) <= 1


def test_bucket_count_grows_with_members_up_to_the_table_limit() -> None:
    assert [bucket_bits(n) for n in (1, 2, 3, 4, 8, 60, 500)] == [0, 0, 4, 4, 5, 8, MAX_BUCKET_BITS]


def test_a_dead_member_leaves_only_its_own_pairs() -> None:
    intact = intact_layout(range(6))
    live = live_layout(intact, {0, 1, 3, 4, 5})
    for before, after in zip(intact.pairs, live.pairs, strict=True):
        if 2 in before:
            assert after == tuple(p for p in before if p != 2)
        else:
            assert after == before


def test_a_bucket_with_no_live_member_gets_a_live_one_in_turn() -> None:
    intact = intact_layout(range(4))
    live = live_layout(intact, {2, 3})
    emptied = [after for before, after in zip(intact.pairs, live.pairs, strict=True) if set(before) == {0, 1}]
    assert emptied and all(len(a) == 1 and a[0] in {2, 3} for a in emptied)
    assert {a[0] for a in emptied} == {2, 3}


def test_shrunk_group_is_laid_out_from_its_intact_members() -> None:
    assert layout({0, 1, 3}, intact={0, 1, 2, 3}) == live_layout(intact_layout(range(4)), {0, 1, 3})
    assert layout({0, 1, 3}) == intact_layout({0, 1, 3})
    # members the intact group never had: a fresh layout
    assert layout({0, 9}, intact={0, 1}) == intact_layout({0, 9})


def test_groups_need_a_member() -> None:
    with pytest.raises(ValueError, match="at least one member"):
        intact_layout([])
    with pytest.raises(ValueError, match="live member"):
        live_layout(intact_layout([1, 2]), [])

"""ECN entities per target: bmv2's (kmin, kmax, pmax) row and Tofino's ranges of depth."""

from __future__ import annotations

import finsy as fy
import pytest

from hpn.pipeline import Target, names
from hpn.pipeline.ecn import MAX_DEPTH, ecn_entries, ramp_ranges
from hpn.routing.state import EcnConfig


def tofino_ramp(ecn: EcnConfig) -> list[tuple[str, str, int | None]]:
    """(depth range, action, threshold) of each Tofino entry for port 3."""
    out = []
    for entry in ecn_entries(3, ecn, Target.TOFINO):
        assert entry.table_id == Target.TOFINO.qualify(names.ECN_RAMP.name)
        match = dict(entry.match or {})
        assert match["port"] == 3
        assert isinstance(entry.action, fy.P4TableAction)
        out.append((str(match["depth"]), entry.action.name, dict(entry.action.args).get("threshold")))
    return out


def test_bmv2_row_carries_the_thresholds_and_scaled_pmax() -> None:
    (entry,) = ecn_entries(3, EcnConfig(10, 70, 0.5), Target.BMV2)
    assert isinstance(entry.action, fy.P4TableAction)
    assert dict(entry.action.args) == {"kmin_depth": 10, "kmax_depth": 70, "pmax_scaled": 32768}


def test_tofino_ramp_covers_kmin_to_kmax_with_rising_probability() -> None:
    rows = tofino_ramp(EcnConfig(10, 90, 0.5))
    ramp, always = rows[:-1], rows[-1]
    assert always[0] == f"90...{MAX_DEPTH}" and always[1].endswith("mark")
    # 8 contiguous steps from kmin+1 to kmax-1, thresholds the ramp's value at each middle
    assert ramp[0][0].startswith("11...") and ramp[-1][0].endswith("...89")
    thresholds = [r[2] for r in ramp]
    assert len(ramp) == 8 and thresholds == sorted(thresholds)
    first, last, _ = ramp_ranges(EcnConfig(10, 90, 0.5))[0]
    assert (first, last) == (11, 19)  # 79 depths in 8 steps: 9 or 10 each
    assert thresholds[0] == round(0.5 * ((first + last) / 2 - 10) / 80 * 0x10000)


@pytest.mark.parametrize("target", [Target.BMV2, Target.TOFINO])
def test_kmin_equal_to_kmax_is_a_step(target: Target) -> None:
    """The topology accepts kmin == kmax (a DCTCP-style step): mark iff depth >= K."""
    entries = ecn_entries(3, EcnConfig(40, 40, 1.0), target)
    if target is Target.TOFINO:
        assert tofino_ramp(EcnConfig(40, 40, 1.0)) == [(f"40...{MAX_DEPTH}", entries[0].action.name, None)]  # type: ignore[union-attr]
    else:
        assert len(entries) == 1


def test_kmin_above_kmax_is_refused_with_the_port() -> None:
    with pytest.raises(ValueError, match="port 3"):
        ecn_entries(3, EcnConfig(50, 40, 0.1), Target.BMV2)

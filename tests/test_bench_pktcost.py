"""bench_pktcost reads callgrind_annotate's inclusive listing: totals and bmv2's parts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import bench_pktcost

# The shape callgrind_annotate 3.19 prints (--inclusive=yes), cut down.
LISTING = """\
--------------------------------------------------------------------------------
Ir
--------------------------------------------------------------------------------
304,374,561 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir                    file:function
--------------------------------------------------------------------------------
 41,244,249 (13.55%)  ???:bm::Pipeline::apply(bm::Packet*) [/usr/local/bin/simple_switch_grpc]
 28,871,117 ( 9.49%)  ???:bm::PHV::reset_metadata() [/usr/local/bin/simple_switch_grpc]
  5,558,404 ( 1.83%)  ???:bm::Parser::parse(bm::Packet*) const [/usr/local/bin/simple_switch_grpc]
    999,000 ( 0.30%)  ???:bm::Parser::parse_state_x() const [/usr/local/bin/simple_switch_grpc]
  7,000,000 ( 2.30%)  ???:bm::MatchTableAbstract::dump_entry_string_[abi:cxx11](unsigned int) const [/x]
  3,000,000 ( 1.00%)  ???:bm::Packet::get_unique_id[abi:cxx11]() const [/usr/local/bin/simple_switch_grpc]
  2,820,892 ( 1.09%)  /opt/p4build/PI/src/pi.c:pi_update_device_start [/usr/local/lib/libpi.so.0.0.0]
"""


def test_total_and_parts_by_function_name() -> None:
    total, found = bench_pktcost.parse_annotate(LISTING, "dump")
    assert total == 304_374_561
    assert found["metadata reset"] == 28_871_117
    assert found["ingress+egress"] == 41_244_249
    assert found["parser"] == 5_558_404  # parse( only, not parse_state_x
    assert found["log text"] == 7_000_000 + 3_000_000  # a part sums its functions
    assert found["deparser"] == 0


def test_listing_without_totals_is_named() -> None:
    with pytest.raises(RuntimeError, match=r"cg\.1: no PROGRAM TOTALS"):
        bench_pktcost.parse_annotate("nothing here\n", "cg.1")

"""Drops by reason are read from every drop counter a target has: on Tofino the egress
drops (IPv4 length, a cut INT stack) are counted apart from the ingress ones."""

from __future__ import annotations

import finsy as fy
import pytest

from hpn.pipeline.drop_reasons import DropReason, drops_by_reason
from hpn.pipeline.p4info import P4INFO_PATH, TOFINO_P4INFO_PATH
from hpn.pipeline.targets import Target


@pytest.mark.parametrize(
    ("target", "p4info"), [(Target.BMV2, P4INFO_PATH), (Target.TOFINO, TOFINO_P4INFO_PATH)]
)
def test_every_drop_counter_of_a_target_is_in_its_p4info(target: Target, p4info: object) -> None:
    schema = fy.P4Schema(p4info)  # type: ignore[arg-type]
    declared = {c.name for c in schema.counters}
    assert set(target.drop_counters) <= declared, sorted(declared)
    # and every counter whose name says it counts drops is read
    assert {n for n in declared if n.endswith("drops")} == set(target.drop_counters)


def test_tofino_drops_add_the_egress_counter_to_the_ingress_one() -> None:
    ingress = {int(DropReason.NO_ROUTE): 3, int(DropReason.PARSER_ERROR): 1, 0: 9, 15: 4}
    egress = {int(DropReason.IPV4_LENGTH): 2, int(DropReason.PARSER_ERROR): 5}
    total = drops_by_reason([ingress, egress])
    assert total[DropReason.NO_ROUTE] == 3
    assert total[DropReason.PARSER_ERROR] == 6
    assert total[DropReason.IPV4_LENGTH] == 2
    assert sum(total.values()) == 11, "cells that name no reason (0, 15) are not drops by reason"
    assert set(total) == set(DropReason)

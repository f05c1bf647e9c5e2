"""The whole HPN pod (15,360 GPUs, 360 switches) encoded against both P4Infos.

Every entity hpn.pipeline builds for every switch of topologies/hpn-pod.yaml goes through
the runtime's encoder (the bytes a push would write), for bmv2 and for Tofino, from the
same desired state. An entity either target rejects fails the test with its switch.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from hpn.pipeline import Target, load_target_schema, switch_entities
from hpn.routing.compute import compute_fabric_state
from hpn.routing.state import SwitchState
from hpn.runtime.encoding import EntryEncoder
from hpn.topology import load_fabric

POD = Path(__file__).resolve().parent.parent / "topologies" / "hpn-pod.yaml"


@pytest.fixture(scope="module")
def pod_states() -> dict[str, SwitchState]:
    return compute_fabric_state(load_fabric(POD))


@pytest.mark.parametrize("target", [Target.BMV2, Target.TOFINO])
def test_every_switch_of_the_pod_encodes(pod_states: dict[str, SwitchState], target: Target) -> None:
    encoder = EntryEncoder(load_target_schema(target))
    kinds: Counter[str] = Counter()
    for name, state in pod_states.items():
        for entity in switch_entities(state, target):
            try:
                encoder.encode(entity)
            except (ValueError, TypeError) as ex:
                pytest.fail(f"{target.value}: {name}: {entity!r}: {ex}")
            kinds[type(entity).__name__] += 1
    assert len(pod_states) == 360
    # Both targets get the same members and groups from the same state; entries differ
    # only where docs/tofino.md says (retry table, seed words, ECN ramp).
    assert kinds["P4ActionProfileMember"] > 0 and kinds["P4ActionProfileGroup"] > 0
    print(f"{target.value}: {dict(kinds)}")

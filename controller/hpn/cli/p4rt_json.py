"""`hpnctl plan --entries p4rt`: the P4Runtime entities a push would write, as JSON.

Each entity is encoded against the chosen target's P4Info (so every name and value is
checked by the same encoder a push uses) and printed in protobuf's JSON mapping, under
its switch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import finsy as fy
from google.protobuf import json_format

from hpn.pipeline import Entity


def p4rt_json(desired: Mapping[str, Sequence[Entity]], schema: fy.P4Schema) -> str:
    out = {
        name: [json_format.MessageToDict(entity.encode(schema)) for entity in entities]
        for name, entities in desired.items()
    }
    return json.dumps(out, indent=1)

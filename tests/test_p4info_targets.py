"""The bmv2 and Tofino P4Infos differ only where docs/tofino.md says they do.

The controller speaks one P4Runtime contract to both programs; every place where the
committed P4Infos differ (a table, an action a table can hold, a counter, the selector)
must be a row of docs/tofino.md's "P4Info differences" table, which also says what
handles it. Actions only called from a control's apply block are compiler detail, and
registers are not part of the contract (the controller neither reads nor writes them).
"""

from __future__ import annotations

import re
from pathlib import Path

from finsy.proto import p4i
from google.protobuf import text_format

from hpn.pipeline.p4info import P4INFO_PATH, TOFINO_P4INFO_PATH

DOC = Path(__file__).resolve().parents[1] / "docs" / "tofino.md"
MARKER = "<!-- p4info-differences"


def load(path: Path) -> p4i.P4Info:
    info = p4i.P4Info()
    text_format.Parse(path.read_text(), info)
    return info


def contract(info: p4i.P4Info) -> dict[str, object]:
    """What a controller relies on, by kind and name."""
    actions = {a.preamble.id: a for a in info.actions}
    profiles = {p.preamble.id: p.preamble.name for p in info.action_profiles}
    out: dict[str, object] = {}
    for t in info.tables:
        name = f"table {t.preamble.name}"
        out[f"{name}: match fields"] = [
            (f.name, f.bitwidth, p4i.MatchField.MatchType.Name(f.match_type)) for f in t.match_fields
        ]
        out[f"{name}: actions"] = sorted(actions[r.id].preamble.name for r in t.action_refs)
        out[f"{name}: implementation"] = profiles.get(t.implementation_id)
        out[f"{name}: size"] = t.size
        out[name] = "present"
        for ref in t.action_refs:  # an action's presence is in its tables' action lists
            a = actions[ref.id]
            out[f"action {a.preamble.name}: params"] = [(p.name, p.bitwidth) for p in a.params]
    for c in info.counters:
        out[f"counter {c.preamble.name}"] = "present"
        out[f"counter {c.preamble.name}: size and unit"] = (c.size, c.spec.unit)
    for p in info.action_profiles:
        out[f"action profile {p.preamble.name}"] = "present"
        out[f"action profile {p.preamble.name}: max group size"] = p.max_group_size
        out[f"action profile {p.preamble.name}: size"] = (p.with_selector, p.size)
    return out


def differences(bmv2: dict[str, object], tofino: dict[str, object]) -> set[str]:
    out = set()
    for key in bmv2.keys() | tofino.keys():
        if key in bmv2 and key in tofino:
            if bmv2[key] != tofino[key]:
                out.add(key)
        elif ":" not in key:  # the details of an object on one side only are part of it
            out.add(f"{key}: {'bmv2' if key in bmv2 else 'Tofino'} only")
    return out


def documented() -> set[str]:
    """First column of each row of the table after the marker, without backticks."""
    text = DOC.read_text()
    assert MARKER in text, f"{DOC} lost its P4Info differences table"
    rows = []
    for line in text.split(MARKER, 1)[1].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        first = line.split("|")[1].strip().replace("`", "")
        if first and first != "difference" and not re.fullmatch(r"-+", first):
            rows.append(first)
    return set(rows)


def test_every_p4info_difference_is_documented_and_every_documented_one_is_real() -> None:
    found = differences(contract(load(P4INFO_PATH)), contract(load(TOFINO_P4INFO_PATH)))
    rows = documented()
    assert found, "the two P4Infos are identical: the table in docs/tofino.md is stale"
    assert sorted(found - rows) == [], "differences docs/tofino.md does not list"
    assert sorted(rows - found) == [], "rows of docs/tofino.md that are no longer differences"


def test_the_comparison_sees_a_renamed_table() -> None:
    bmv2 = contract(load(P4INFO_PATH))
    info = load(TOFINO_P4INFO_PATH)
    info.tables[0].preamble.name += "_renamed"
    found = differences(bmv2, contract(info))
    assert f"table {info.tables[0].preamble.name}: Tofino only" in found

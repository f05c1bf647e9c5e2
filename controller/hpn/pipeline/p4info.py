"""Load the committed P4Info and check every name pipeline/ uses against it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import finsy as fy

from hpn.pipeline import names

REPO_ROOT = Path(__file__).resolve().parents[3]
BMV2_OUT = REPO_ROOT / "p4src" / "out" / "bmv2"
P4INFO_PATH = BMV2_OUT / "hpn.p4info.txtpb"
BMV2_JSON_PATH = BMV2_OUT / "hpn.json"


class PipelineMismatch(RuntimeError):
    """The P4Info does not have a table, action, field or counter we rely on."""


def check_schema(schema: fy.P4Schema, source: str = "P4Info") -> None:
    """Raise PipelineMismatch listing every name missing from the schema."""
    problems: list[str] = []
    for table in names.ALL_TABLES:
        t = schema.tables.get(table.name)
        if t is None:
            problems.append(f"table {table.name} is missing")
            continue
        fields = [f.name for f in t.match_fields]
        if tuple(fields) != table.match_fields:
            expected = list(table.match_fields)
            problems.append(f"table {table.name}: match fields are {fields}, expected {expected}")
        table_actions = {a.alias for a in t.actions} | {a.name for a in t.actions}
        for action, params in table.actions.items():
            if action not in table_actions:
                problems.append(f"table {table.name}: action {action} is missing")
                continue
            got = tuple(p.name for p in schema.actions[action].params)
            if got != params:
                problems.append(f"action {action}: params are {list(got)}, expected {list(params)}")
    for counter in names.ALL_COUNTERS:
        if schema.counters.get(counter) is None:
            problems.append(f"counter {counter} is missing")
    if problems:
        raise PipelineMismatch(f"{source} does not match hpn.pipeline:\n  " + "\n  ".join(problems))


@lru_cache(maxsize=4)
def load_schema(p4info: Path = P4INFO_PATH, p4blob: Path | None = BMV2_JSON_PATH) -> fy.P4Schema:
    """The P4Schema of the compiled program, checked against pipeline names."""
    if not p4info.exists():
        raise PipelineMismatch(f"{p4info} not found: run `make p4` to compile the P4 program")
    schema = fy.P4Schema(p4info, p4blob if p4blob is not None and p4blob.exists() else None)
    check_schema(schema, str(p4info))
    return schema

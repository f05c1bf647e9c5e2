"""Load a target's compiled P4Info and check every name pipeline/ uses against it.

The compiled programs live in ``p4src/out/<target>/`` of the repository. An installed
copy of the package finds them through the environment variable ``HPN_P4_OUT`` (the
folder that holds ``bmv2/`` and ``tofino/``); a checkout finds them next to the package.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import finsy as fy

from hpn.pipeline import names
from hpn.pipeline.targets import Target

P4_OUT_ENV = "HPN_P4_OUT"


def _find_p4_out() -> Path:
    configured = os.environ.get(P4_OUT_ENV)
    if configured:
        return Path(configured)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "p4src" / "out"
        if candidate.is_dir():
            return candidate
    # Not found: the paths below name where it was looked for; load_schema says what to do.
    return Path.cwd() / "p4src" / "out"


P4_OUT = _find_p4_out()
REPO_ROOT = P4_OUT.parent.parent
BMV2_OUT = P4_OUT / "bmv2"
TOFINO_OUT = P4_OUT / "tofino"
P4INFO_PATH = BMV2_OUT / "hpn.p4info.txtpb"
BMV2_JSON_PATH = BMV2_OUT / "hpn.json"
TOFINO_P4INFO_PATH = TOFINO_OUT / "hpn.p4info.txtpb"


def p4info_path(target: Target) -> Path:
    return P4INFO_PATH if target is Target.BMV2 else TOFINO_P4INFO_PATH


class PipelineMismatch(RuntimeError):
    """The P4Info does not have a table, action, field or counter we rely on."""


def _check_table(schema: fy.P4Schema, table: names.TableName, target: Target) -> list[str]:
    name = target.qualify(table.name)
    t = schema.tables.get(name)
    if t is None:
        return [f"table {name} is missing"]
    problems: list[str] = []
    fields = [f.name for f in t.match_fields]
    if tuple(fields) != table.match_fields:
        problems.append(f"table {name}: match fields are {fields}, expected {list(table.match_fields)}")
    table_actions = {a.alias for a in t.actions} | {a.name for a in t.actions}
    for action, params in table.actions.items():
        qualified = target.qualify(action)
        if qualified not in table_actions:
            problems.append(f"table {name}: action {qualified} is missing")
            continue
        got = tuple(p.name for p in schema.actions[qualified].params)
        if got != params:
            problems.append(f"action {qualified}: params are {list(got)}, expected {list(params)}")
    if table.action_profile is not None:
        profile = target.qualify(table.action_profile)
        if t.action_profile is None or t.action_profile.name != profile:
            problems.append(f"table {name}: is not implemented by action selector {profile}")
    return problems


def check_schema(schema: fy.P4Schema, source: str = "P4Info", target: Target = Target.BMV2) -> None:
    """Raise PipelineMismatch listing every name missing from the schema."""
    problems: list[str] = []
    for table in target.tables:
        problems += _check_table(schema, table, target)
    if target.has_sentinel and schema.actions.get(target.qualify(names.NO_LIVE_MEMBER)) is None:
        problems.append(f"action {target.qualify(names.NO_LIVE_MEMBER)} is missing")
    for counter in target.counters:
        if schema.counters.get(target.qualify(counter)) is None:
            problems.append(f"counter {target.qualify(counter)} is missing")
    if problems:
        raise PipelineMismatch(f"{source} does not match hpn.pipeline:\n  " + "\n  ".join(problems))


@lru_cache(maxsize=8)
def load_schema(
    p4info: Path = P4INFO_PATH, p4blob: Path | None = BMV2_JSON_PATH, target: Target = Target.BMV2
) -> fy.P4Schema:
    """The P4Schema of the compiled program, checked against pipeline names."""
    if not p4info.exists():
        hint = "make p4" if target is Target.BMV2 else "make p4-tna"
        raise PipelineMismatch(
            f"{p4info} not found: run `{hint}` in the repository, or point {P4_OUT_ENV} at the "
            "folder holding the compiled bmv2/ and tofino/ outputs"
        )
    schema = fy.P4Schema(p4info, p4blob if p4blob is not None and p4blob.exists() else None)
    check_schema(schema, str(p4info), target)
    return schema


def load_target_schema(target: Target) -> fy.P4Schema:
    """`load_schema` of a target's committed output (no device config for Tofino)."""
    if target is Target.BMV2:
        return load_schema(P4INFO_PATH, BMV2_JSON_PATH, target)
    return load_schema(TOFINO_P4INFO_PATH, None, target)

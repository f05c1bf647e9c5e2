"""Load a target's compiled P4Info and check every name pipeline/ uses against it.

The compiled programs (``bmv2/`` and ``tofino/``) are looked up, first found wins:

1. the folder the environment variable ``HPN_P4_OUT`` names (another build);
2. ``p4src/out/`` of the source checkout the package is imported from
   (``<checkout>/controller/hpn``), so the output of ``make p4`` is what runs;
3. ``hpn/p4out/`` inside an installed package: the wheel carries a copy of
   ``p4src/out`` (setup.py), so an installed ``hpnctl`` works from any directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import finsy as fy

from hpn.pipeline import names
from hpn.pipeline.targets import Target

P4_OUT_ENV = "HPN_P4_OUT"
PACKAGED_P4_OUT = "p4out"
"""Folder of the installed package (next to this package's ``pipeline/``) holding the copy."""

_PACKAGE = Path(__file__).resolve().parent.parent


def find_p4_out(environ: Mapping[str, str], package: Path) -> Path:
    """Where the compiled outputs are, for the package at `package` (the ``hpn`` folder).

    When none of the three places exists, the packaged one: the error then names it.
    """
    configured = environ.get(P4_OUT_ENV)
    if configured:
        return Path(configured)
    if package.parent.name == "controller":
        checkout = package.parent.parent / "p4src" / "out"
        if checkout.is_dir():
            return checkout
    return package / PACKAGED_P4_OUT


P4_OUT = find_p4_out(os.environ, _PACKAGE)
BMV2_OUT = P4_OUT / "bmv2"
TOFINO_OUT = P4_OUT / "tofino"
P4INFO_PATH = BMV2_OUT / "hpn.p4info.txtpb"
BMV2_JSON_PATH = BMV2_OUT / "hpn.json"
TOFINO_P4INFO_PATH = TOFINO_OUT / "hpn.p4info.txtpb"


def not_found(path: Path, target: Target) -> str:
    """What to do about a compiled output that is not where it was looked for."""
    hint = "make p4" if target is Target.BMV2 else "make p4-tna"
    return (
        f"{path} not found: run `{hint}` in the source checkout, reinstall hpn-p4, or point "
        f"{P4_OUT_ENV} at the folder holding the compiled bmv2/ and tofino/ outputs"
    )


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
        raise PipelineMismatch(not_found(p4info, target))
    schema = fy.P4Schema(p4info, p4blob if p4blob is not None and p4blob.exists() else None)
    check_schema(schema, str(p4info), target)
    return schema


def load_target_schema(target: Target) -> fy.P4Schema:
    """`load_schema` of a target's committed output (no device config for Tofino)."""
    if target is Target.BMV2:
        return load_schema(P4INFO_PATH, BMV2_JSON_PATH, target)
    return load_schema(TOFINO_P4INFO_PATH, None, target)

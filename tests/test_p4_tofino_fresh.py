"""The committed Tofino output is what bf-p4c makes of the committed TNA source, and the
program fits Tofino's 12 stages per gress."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from hpn.pipeline.p4info import TOFINO_OUT

REPO_ROOT = Path(__file__).resolve().parents[1]


def tofino_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tofino_build", REPO_ROOT / "tools" / "tofino_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tofino_build"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.needs_bf_p4c
def test_committed_tofino_output_is_fresh_and_fits(tmp_path: Path) -> None:
    tool = tofino_build()
    outputs = tool.build_outputs(tmp_path)  # raises BuildError when it does not compile or fit
    summary = json.loads(outputs["resources.json"])
    for gress in ("ingress", "egress"):
        assert 0 < summary["stages"][gress] <= 12, summary["stages"]
    assert (tmp_path / "pipe" / "tofino.bin").stat().st_size > 0, "bf-p4c wrote no binary"
    stale = tool.stale_files(outputs, TOFINO_OUT)
    assert stale == [], f"stale in p4src/out/tofino: {stale} (run `make p4-tna`)"


def test_stage_count_is_read_from_the_last_allocation_round() -> None:
    log = (
        "Number of stages for ingress table allocation: 14\n"
        "Number of stages for egress table allocation: 11\n"
        "Table allocation done 2 time(s)\n"
        "Number of stages for ingress table allocation: 12\n"
        "Number of stages for egress table allocation: 11\n"
    )
    assert tofino_build().stages_per_gress(log) == {"ingress": 12, "egress": 11}


def test_docs_give_the_committed_resource_summary() -> None:
    """docs/tofino.md's "How it fits" numbers are those of p4src/out/tofino/resources.json."""
    summary = json.loads((TOFINO_OUT / "resources.json").read_text())
    doc = (REPO_ROOT / "docs" / "tofino.md").read_text()
    expected = {
        "ingress stages": (summary["stages"]["ingress"], 12),
        "egress stages": (summary["stages"]["egress"], 12),
        "SRAM blocks": (summary["memories"]["srams"]["used"], summary["memories"]["srams"]["of"]),
        "TCAM blocks": (summary["memories"]["tcams"]["used"], summary["memories"]["tcams"]["of"]),
        "map RAMs": (summary["memories"]["map_rams"]["used"], summary["memories"]["map_rams"]["of"]),
    }
    for row, (used, of) in expected.items():
        assert f"| {row} | {used} | {of} |" in doc, f"docs/tofino.md: row {row!r} should read {used} of {of}"
    cycles = summary["latency_cycles"]
    assert f"| latency, cycles | ingress {cycles['ingress']}, egress {cycles['egress']} |" in doc


def _build_schema() -> dict[str, object]:
    """A bfrt.json as bf-p4c writes it: the committed tables and the SDE's snapshot tables."""
    schema = json.loads((TOFINO_OUT / "bfrt.json").read_text())
    ids = [t["id"] for t in schema["tables"]]
    snapshot = [
        {"name": f"pipe.snapshot.{n}", "id": 2444639217 + i, "depends_on": [ids[0], ids[1]] if i == 0 else []}
        for i, n in enumerate(("cfg", "ingress_trigger", "egress_data", "egress_trigger"))
    ]
    schema["tables"] = schema["tables"][:3] + snapshot[:2] + schema["tables"][3:] + snapshot[2:]
    return schema


def test_bfrt_json_is_written_the_same_whatever_bf_p4c_does_with_its_snapshot_tables() -> None:
    """Two runs of bf-p4c on one source differ in the snapshot tables (pipe.snapshot.*, a
    debugging aid of the SDE): their order, the order of the ids that depend on them, and
    their ids themselves (pipe.snapshot.cfg was 2444639217 in one run, 2447300103 in the
    next). What `make p4-tna` writes must not differ: it leaves them out."""
    tool = tofino_build()
    schema = _build_schema()
    tables = schema["tables"]
    assert isinstance(tables, list)
    one = tool.normalised_bfrt(json.dumps(schema))
    snapshot = [i for i, t in enumerate(tables) if t["name"].startswith("pipe.snapshot.")]
    a, b = snapshot[1], snapshot[-1]
    tables[a], tables[b] = tables[b], tables[a]  # ingress_trigger and egress_trigger trade places
    tables[snapshot[0]]["id"] = 2447300103
    for table in tables:
        if len(table.get("depends_on", [])) > 1:
            table["depends_on"].reverse()
    other = tool.normalised_bfrt(json.dumps(schema))
    assert other == one
    kept = [t["name"] for t in json.loads(one)["tables"]]
    assert kept == [t["name"] for t in tables if not t["name"].startswith("pipe.snapshot.")], "a table lost"
    assert tool.normalised_bfrt(one) == one, "normalising twice changes nothing"


def test_a_changed_table_makes_the_committed_bfrt_json_stale() -> None:
    tool = tofino_build()
    schema = json.loads((TOFINO_OUT / "bfrt.json").read_text())
    written = tool.normalised_bfrt(json.dumps(schema))
    assert tool.stale_files({"bfrt.json": written}, TOFINO_OUT) == []
    schema["tables"][0]["id"] += 1
    changed = tool.normalised_bfrt(json.dumps(schema))
    assert tool.stale_files({"bfrt.json": changed}, TOFINO_OUT) == ["bfrt.json"]

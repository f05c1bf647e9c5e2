"""The committed bmv2 output is what p4c makes of the committed P4 source."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hpn.pipeline.p4info import BMV2_JSON_PATH, P4INFO_PATH

REPO_ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.needs_p4c


def test_committed_output_is_fresh(tmp_path: Path) -> None:
    out_json = tmp_path / "hpn.json"
    out_p4info = tmp_path / "hpn.p4info.txtpb"
    # Same relative paths as `make p4`, so source references in the JSON match.
    proc = subprocess.run(
        [
            "p4c-bm2-ss",
            "--arch",
            "v1model",
            "--std",
            "p4-16",
            "-o",
            str(out_json),
            "--p4runtime-files",
            str(out_p4info),
            "p4src/v1model/hpn.p4",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"p4c failed:\n{proc.stderr}"
    assert out_p4info.read_text() == P4INFO_PATH.read_text(), "hpn.p4info.txtpb is stale: run `make p4`"
    assert out_json.read_text() == BMV2_JSON_PATH.read_text(), "hpn.json is stale: run `make p4`"

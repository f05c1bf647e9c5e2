"""Compile p4src/tna/hpn.p4 with bf-p4c and keep what the controller and reviewers need.

    python tools/tofino_build.py            # compile, write p4src/out/tofino/
    python tools/tofino_build.py --check    # compile, compare with p4src/out/tofino/

Kept in p4src/out/tofino/ (committed): the P4Info the controller encodes against, the
BF Runtime schema, and resources.json, a summary of the compiler's resource logs (stages
per gress, memories, PHV, latency) without its build date and run id, so that the file only
changes when the program's fit does. The binary (tofino.bin, context.json) a switch loads
is left in the build folder (--keep DIR), as it is rebuilt for each SDE.
Exit 0: done / fresh; 1: stale (--check); 2: bf-p4c missing or the program does not compile.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SOURCE = "p4src/tna/hpn.p4"  # relative to REPO, as `make p4-tna` passes it
OUT = REPO / "p4src/out/tofino"
KEPT = ("hpn.p4info.txtpb", "bfrt.json", "resources.json")
STAGES_PER_GRESS = 12  # Tofino 1
# Tofino 1 memories per stage, to say how full the program is.
PER_STAGE = {"srams": 80, "tcams": 24, "map_rams": 48}


class BuildError(Exception):
    pass


def compile_program(build: Path) -> None:
    if shutil.which("bf-p4c") is None:
        raise BuildError("bf-p4c not on PATH: install p4c's Tofino backend (Intel's open P4 Studio)")
    cmd = [
        "bf-p4c",
        "--target",
        "tofino",
        "--arch",
        "tna",
        "-g",
        "-o",
        str(build),
        "--p4runtime-files",
        str(build / "hpn.p4info.txtpb"),
        # standard P4Info (counters, action profiles, registers), as Tofino's
        # P4Runtime servers (Stratum, the SDE's) take it, not Barefoot's externs
        "--p4runtime-force-std-externs",
        SOURCE,
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
        raise BuildError(
            f"bf-p4c failed (exit {proc.returncode}):\n" + "\n".join(errors or [proc.stderr[-2000:]])
        )


def stages_per_gress(table_summary: str) -> dict[str, int]:
    """Stages of the final table allocation, per gress (the log repeats each round)."""
    found: dict[str, int] = {}
    for gress, count in re.findall(r"Number of stages for (\w+) table allocation: (\d+)", table_summary):
        found[gress] = int(count)  # the last round wins
    if set(found) != {"ingress", "egress"}:
        raise BuildError(f"table_summary.log gives no stage count per gress (found {found})")
    return found


def resource_summary(build: Path) -> dict[str, Any]:
    logs = build / "pipe" / "logs"
    metrics = json.loads((logs / "metrics.json").read_text())
    stages = stages_per_gress((logs / "table_summary.log").read_text())
    mau = metrics["mau"]
    return {
        "compiler_version": metrics["compiler_version"],
        "target": metrics["target"],
        "stages": {**stages, "limit_per_gress": STAGES_PER_GRESS},
        "memories": {
            name: {"used": mau[name], "of": per_stage * STAGES_PER_GRESS}
            for name, per_stage in PER_STAGE.items()
        },
        "logical_tables": mau["logical_tables"],
        "latency_cycles": {entry["gress"]: entry["cycles"] for entry in mau["latency"]},
        "phv_containers": {
            kind: {str(c["bit_width"]): c["containers_occupied"] for c in containers}
            for kind, containers in metrics["phv"].items()
        },
        "parser_tcam_rows": {gress: v["tcam_rows"] for gress, v in metrics["parser"].items()},
    }


def build_outputs(build: Path) -> dict[str, str]:
    """Compile into `build`; the kept files' contents by name."""
    compile_program(build)
    summary = resource_summary(build)
    for gress in ("ingress", "egress"):
        if summary["stages"][gress] > STAGES_PER_GRESS:
            raise BuildError(
                f"{gress} needs {summary['stages'][gress]} stages, Tofino has {STAGES_PER_GRESS}"
            )
    return {
        "hpn.p4info.txtpb": (build / "hpn.p4info.txtpb").read_text(),
        "bfrt.json": normalised_bfrt((build / "bfrt.json").read_text()),
        "resources.json": json.dumps(summary, indent=2, sort_keys=True) + "\n",
    }


def _is_snapshot(table: dict[str, Any]) -> bool:
    return str(table["name"]).startswith("pipe.snapshot.")


def normalised_bfrt(text: str) -> str:
    """bfrt.json as the same source always gives it. bf-p4c writes its snapshot tables (a
    debugging aid of the SDE, pipe.snapshot.*) in an order, and with ids, that change from
    run to run, and every `depends_on` in the order of those ids: the committed schema
    leaves the snapshot tables out and lists every `depends_on` in id order. Nothing else
    is renamed or renumbered; a switch takes the whole bfrt.json of its own build
    (`make p4-tna TOFINO_BUILD=DIR`)."""
    schema = json.loads(text)
    tables = [t for t in schema["tables"] if not _is_snapshot(t)]
    for table in tables:
        if "depends_on" in table:
            table["depends_on"] = sorted(table["depends_on"])
    schema["tables"] = tables
    return json.dumps(schema, indent=2) + "\n"


def stale_files(outputs: dict[str, str], out: Path) -> list[str]:
    return [
        name
        for name, text in outputs.items()
        if not (out / name).is_file() or (out / name).read_text() != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with p4src/out/tofino/ instead of writing it"
    )
    parser.add_argument(
        "--out", type=Path, default=OUT, help="where the kept files go (default: %(default)s)"
    )
    parser.add_argument("--keep", type=Path, help="build folder to keep (tofino.bin, context.json, logs)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hpn-tofino-") as tmp:
        build = args.keep or Path(tmp)
        build.mkdir(parents=True, exist_ok=True)
        try:
            outputs = build_outputs(build.resolve())
        except BuildError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    stages = json.loads(outputs["resources.json"])["stages"]
    print(f"fits Tofino: ingress {stages['ingress']}, egress {stages['egress']} of {STAGES_PER_GRESS} stages")
    if args.check:
        stale = stale_files(outputs, args.out)
        if stale:
            print(f"stale in {args.out}: {', '.join(stale)} (run `make p4-tna`)", file=sys.stderr)
            return 1
        print(f"{args.out} is fresh")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in outputs.items():
        (args.out / name).write_text(text)
    print(f"wrote {', '.join(KEPT)} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Run the PTF suites against one bmv2 in a private network namespace.

Creates the namespace and its veths, starts simple_switch_grpc, runs `ptf`
inside the namespace (so no test packet can reach the machine's interfaces),
and always removes exactly what it created. Prints a closing
'ptf: N passed, N failed, N skipped' line when it ran; when the toolchain or
root is missing it prints why the suite was skipped and exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "controller"))

from hpn.netlab.bmv2 import bmv2_missing  # noqa: E402
from hpn.netlab.netns import require_tools  # noqa: E402
from hpn.netlab.rig import SwitchRig, unique_prefix  # noqa: E402
from hpn.pipeline.p4info import BMV2_JSON_PATH, P4INFO_PATH  # noqa: E402

NPORTS = 8


# PTF keeps the newest `qlen` frames per port and drops the older ones (its default is 100);
# test_int reads a burst of 1000 frames after sending it.
PTF_QLEN = 2000


def missing() -> list[str]:
    reasons = [r for r in (bmv2_missing(), *require_tools()) if r]
    ptf = Path(sys.executable).parent / "ptf"
    if not ptf.exists():
        reasons.append(f"ptf not installed next to {sys.executable} (make setup)")
    if not BMV2_JSON_PATH.exists():
        reasons.append(f"{BMV2_JSON_PATH} missing (make p4)")
    return reasons


def summarize(output: str, rc: int) -> tuple[int, int, int]:
    """(passed, failed, skipped) from unittest's closing lines."""
    ran = re.search(r"^Ran (\d+) tests?", output, re.M)
    total = int(ran.group(1)) if ran else 0
    failed = sum(int(n) for n in re.findall(r"(?:failures|errors)=(\d+)", output))
    skipped_m = re.search(r"skipped=(\d+)", output)
    skipped = int(skipped_m.group(1)) if skipped_m else 0
    if rc != 0 and failed == 0:
        failed = max(1, total - skipped)
    return total - failed - skipped, failed, skipped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests", nargs="*", help="test names or files (default: all suites)")
    parser.add_argument("--log-level", default="warn", help="bmv2 log level (debug shows every packet)")
    parser.add_argument("--keep-logs", type=Path, help="copy switch and ptf logs to this folder")
    args = parser.parse_args()

    reasons = missing()
    if reasons:
        print("ptf: SKIPPED:", "; ".join(reasons))
        return 0

    ptf = str(Path(sys.executable).parent / "ptf")
    with SwitchRig(unique_prefix("p"), nports=NPORTS, log_level=args.log_level) as rig:
        assert rig.run_dir is not None
        params = ";".join(
            [
                f"grpc_addr='{rig.switch.grpc_address}'",
                f"p4info='{P4INFO_PATH}'",
                f"bmv2_json='{BMV2_JSON_PATH}'",
                f"thrift_port={rig.switch.thrift_port}",
                f"nports={NPORTS}",
            ]
        )
        argv = rig.netns.exec_argv(
            [
                ptf,
                "--test-dir",
                str(HERE),
                "--pypath",
                str(ROOT / "controller"),
                "--pypath",
                str(HERE),
                *rig.ptf_interface_args(),
                "--test-params",
                params,
                "--log-file",
                str(rig.run_dir / "ptf.log"),
                "--disable-ipv6",
                "--qlen",
                str(PTF_QLEN),
                *args.tests,
            ]
        )
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=rig.run_dir)
        sys.stdout.write(proc.stdout)
        sys.stdout.write(proc.stderr)
        if args.keep_logs:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            for f in rig.run_dir.iterdir():
                if f.is_file():
                    (args.keep_logs / f.name).write_bytes(f.read_bytes())
        results = rig.run_dir / "ptf-results.jsonl"
        if results.exists():
            print("measured:")
            for line in results.read_text().splitlines():
                row = json.loads(line)
                print(f"  {row['test']}: {row['key']} = {row['value']}")
        if proc.returncode != 0:
            print(f"switch log tail ({rig.switch.log_path}):\n{rig.switch.log_tail(40)}")
    passed, failed, skipped = summarize(proc.stdout + proc.stderr, proc.returncode)
    print(f"ptf: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

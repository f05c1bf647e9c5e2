"""pyproject.toml, constraints.txt and the wheel: what `make setup` and `pip install .` install."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from hpn.pipeline.p4info import P4_OUT_ENV, P4INFO_PATH, find_p4_out

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not name==version"
            pins[_name(name)] = version
    return pins


def test_license_is_an_spdx_expression() -> None:
    assert PROJECT["license"] == "Apache-2.0"


def test_matplotlib_is_only_the_plot_extra() -> None:
    assert "matplotlib" not in {_name(r) for r in PROJECT["dependencies"]}
    assert {_name(r) for r in PROJECT["optional-dependencies"]["plot"]} == {"matplotlib"}


def test_every_dependency_is_pinned_in_the_constraints() -> None:
    wanted = {_name(r) for r in PROJECT["dependencies"]}
    for extra in PROJECT["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    missing = sorted(wanted - set(_pins()))
    assert not missing, f"constraints.txt pins no version of {missing} (make constraints)"


# -- the compiled P4 programs: checkout, HPN_P4_OUT, or the installed package ----------------


def _tree(root: Path, *folders: str) -> None:
    for folder in folders:
        (root / folder).mkdir(parents=True)


def test_hpn_p4_out_names_another_build(tmp_path: Path) -> None:
    _tree(tmp_path, "controller/hpn", "p4src/out")
    found = find_p4_out({P4_OUT_ENV: str(tmp_path / "other")}, tmp_path / "controller" / "hpn")
    assert found == tmp_path / "other"


def test_a_checkout_uses_its_own_p4src_out(tmp_path: Path) -> None:
    _tree(tmp_path, "controller/hpn/p4out", "p4src/out")
    assert find_p4_out({}, tmp_path / "controller" / "hpn") == tmp_path / "p4src" / "out"
    assert find_p4_out({P4_OUT_ENV: ""}, tmp_path / "controller" / "hpn") == tmp_path / "p4src" / "out"


def test_an_installed_package_uses_its_copy_wherever_it_runs(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "site-packages"
    _tree(tmp_path, "lib/site-packages/hpn/p4out", "lib/p4src/out", "p4src/out")  # decoys above it
    assert find_p4_out({}, site / "hpn") == site / "hpn" / "p4out"


def test_this_checkout_runs_its_committed_output() -> None:
    if os.environ.get(P4_OUT_ENV):
        pytest.skip(f"{P4_OUT_ENV} is set: the tests run another build")
    assert P4INFO_PATH == ROOT / "p4src" / "out" / "bmv2" / "hpn.p4info.txtpb"


BUILD_OFFLINE = (
    "Could not find a version that satisfies the requirement",
    "No matching distribution found",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
)
"""pip's words when the build requirements cannot be fetched (no index, no network)."""


def _build_requirements_here() -> bool:
    """Whether this environment has what [build-system] requires (then no isolation, offline)."""
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    for requirement in build["requires"]:
        name, _, minimum = requirement.partition(">=")
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return False
        if minimum and tuple(map(int, have.split(".")[:2])) < tuple(map(int, minimum.split(".")[:2])):
            return False
    return True


def _source_copy(dest: Path) -> Path:
    """What a build reads, copied: the build writes build/ and *.egg-info next to its source."""
    dest.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "controller", dest / "controller", ignore=ignore)
    shutil.copytree(ROOT / "p4src" / "out", dest / "p4src" / "out")
    return dest


def _build_wheel(tmp_path: Path) -> Path:
    source = _source_copy(tmp_path / "source")
    isolation = ["--no-build-isolation"] if _build_requirements_here() else []
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            *isolation,
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0 and any(words in built.stdout + built.stderr for words in BUILD_OFFLINE):
        pytest.skip("cannot build the wheel: pip could not fetch the build requirements (offline?)")
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("hpn_p4-*.whl")
    return wheel


def test_the_wheel_carries_the_compiled_programs_and_an_installed_hpnctl_finds_them(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for target in ("bmv2", "tofino"):
        for compiled in (ROOT / "p4src" / "out" / target).iterdir():
            assert f"hpn/p4out/{target}/{compiled.name}" in names, (
                f"{wheel.name} lacks {target}/{compiled.name}"
            )

    # A fresh venv with the wheel; its dependencies are this environment's (no index needed).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # After the install, so pip does not take this environment's hpn-p4 for the one to replace.
    (Path(site) / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in (P4_OUT_ENV, "PYTHONPATH")}
    where = subprocess.run(
        [str(python), "-c", "from hpn.pipeline.p4info import P4_OUT; print(P4_OUT)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()) == Path(site) / "hpn" / "p4out"
    plan = subprocess.run(
        [
            str(venv / "bin" / "hpnctl"),
            "plan",
            str(ROOT / "topologies" / "hpn-mini.yaml"),
            "--entries",
            "p4rt",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert plan.returncode == 0, plan.stderr
    entries = json.loads(plan.stdout)
    assert set(entries) >= {"tor-s0-r0-p0", "agg-p1-a1"} and all(entries.values())

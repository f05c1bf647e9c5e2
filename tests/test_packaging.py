"""pyproject.toml and constraints.txt: what a fresh `make setup` installs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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

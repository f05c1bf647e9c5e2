"""Markers that skip, with the reason printed, where the toolchain is absent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from toolchain import bf_p4c_missing, bmv2_rig_missing, mininet_missing, p4c_missing

_SKIPS = {
    "integration": bmv2_rig_missing,
    "emulation": mininet_missing,
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons = {mark: check() for mark, check in _SKIPS.items()}
    for item in items:
        for mark, reason in reasons.items():
            if reason and mark in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"{mark} suite skipped: {reason}"))
        if "needs_p4c" in item.keywords:
            why = p4c_missing()
            if why:
                item.add_marker(pytest.mark.skip(reason=f"p4c check skipped: {why}"))
        if "needs_bf_p4c" in item.keywords:
            why = bf_p4c_missing()
            if why:
                item.add_marker(pytest.mark.skip(reason=f"Tofino compile skipped: {why}"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per suite saying whether it ran here and, if not, why."""
    lines = {
        "unit": None,
        "p4c (compiled output is fresh)": p4c_missing(),
        "bf-p4c (Tofino output is fresh and fits)": bf_p4c_missing(),
        "integration (bmv2 in a namespace)": bmv2_rig_missing(),
        "emulation (Mininet fabric)": mininet_missing(),
    }
    terminalreporter.section("suites")
    for suite, reason in lines.items():
        terminalreporter.write_line(f"{suite}: {'RAN' if reason is None else 'SKIPPED: ' + reason}")

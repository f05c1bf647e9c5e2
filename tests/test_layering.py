"""Imports run one way: topology/ below routing/, shared types in leaf modules."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _hpn_modules_after_import(module: str) -> set[str]:
    """The hpn modules a fresh interpreter has loaded after importing `module`."""
    code = f"import sys, {module}; print('\\n'.join(m for m in sys.modules if m.startswith('hpn')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_topology_imports_nothing_of_routing() -> None:
    loaded = _hpn_modules_after_import("hpn.topology")
    assert not {m for m in loaded if m.startswith("hpn.routing")}, sorted(loaded)


@pytest.mark.parametrize("leaf", ["hpn.params", "hpn.bulk"])
def test_leaf_modules_import_no_other_hpn_module(leaf: str) -> None:
    assert _hpn_modules_after_import(leaf) == {"hpn", leaf}


def test_shared_types_are_still_importable_from_routing_state() -> None:
    from hpn import params
    from hpn.routing import state

    shared = (params.LbMode, params.LinkRate, params.EcnConfig)
    assert (state.LbMode, state.LinkRate, state.EcnConfig) == shared

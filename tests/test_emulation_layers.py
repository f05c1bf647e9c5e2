"""The emulation's three layers: hpn.netlab below hpn.emulation below hpn.experiments.

hpn.netlab (namespaces, bmv2, the one-switch rig) is what the PTF suites, the benchmarks
and the integration tests stand on; it must not pull in Mininet or the emulated fabric.
hpn.emulation (the Mininet fabric, traffic, checks) knows nothing of the experiments run
on it. The PTF suites and the benchmarks use hpn.netlab only, but for the benchmark of an
experiment, which runs it.

Imports are read statically (`ast`, every import statement, also inside functions), and
the netlab's modules are also imported in a fresh interpreter to see what they load.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HPN = ROOT / "controller" / "hpn"
NETLAB, EMULATION, EXPERIMENTS = "hpn.netlab", "hpn.emulation", "hpn.experiments"
LAYERS = (NETLAB, EMULATION, EXPERIMENTS)
EXPERIMENT_BENCHMARKS = {"bench/bench_hpcc.py", "bench/bench_collectives.py", "bench/bench_recovery.py"}
"""Benchmarks of an experiment: they bring up the emulation and run the experiment on it."""


def imported_names(source: str, package: tuple[str, ...] = ()) -> set[str]:
    """Every module named by an import statement in `source`, relative ones resolved in `package`."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names}
    return names


def imported(path: Path) -> set[str]:
    inside = path.is_relative_to(HPN)
    return imported_names(path.read_text(), path.relative_to(HPN.parent).parent.parts if inside else ())


def layers_named(names: set[str]) -> set[str]:
    return {layer for layer in LAYERS for n in names if n == layer or n.startswith(layer + ".")}


def package_files(package: str) -> list[Path]:
    return sorted((HPN.parent / package.replace(".", "/")).rglob("*.py"))


def test_the_layers_exist() -> None:
    assert all(package_files(layer) for layer in LAYERS)


def test_netlab_imports_nothing_of_the_layers_above_nor_mininet() -> None:
    found = {}
    for path in package_files(NETLAB):
        names = imported(path)
        above = layers_named(names) - {NETLAB} | {n for n in names if n.split(".")[0] == "mininet"}
        if above:
            found[str(path.relative_to(ROOT))] = sorted(above)
    assert found == {}


def test_emulation_imports_nothing_of_the_experiments() -> None:
    found = {str(p.relative_to(ROOT)): layers_named(imported(p)) for p in package_files(EMULATION)}
    assert {f: v for f, v in found.items() if EXPERIMENTS in v} == {}


def test_importing_all_of_netlab_loads_no_emulation_experiment_or_mininet() -> None:
    modules = [
        ".".join(p.relative_to(HPN.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in package_files(NETLAB)
    ]
    code = (
        f"import importlib, sys\nfor m in {modules!r}:\n    importlib.import_module(m)\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT / "controller"
    ).stdout.split()
    assert set(modules) <= set(loaded)
    assert [m for m in loaded if layers_named({m}) - {NETLAB} or m.startswith("mininet")] == []


@pytest.mark.parametrize(
    "path",
    sorted(
        str(p.relative_to(ROOT)) for folder in ("ptf_tests", "bench") for p in (ROOT / folder).glob("*.py")
    ),
)
def test_ptf_suites_and_benchmarks_use_only_netlab(path: str) -> None:
    used = layers_named(imported(ROOT / path))
    if path in EXPERIMENT_BENCHMARKS:
        assert EXPERIMENTS in used, f"{path} is listed as an experiment's benchmark but runs none"
    else:
        assert used <= {NETLAB}, f"{path} uses {sorted(used - {NETLAB})}"


def test_the_check_names_relative_function_level_and_absolute_imports() -> None:
    source = "def f():\n    from ..emulation import traffic\nimport mininet.net\n"
    names = imported_names(source, ("hpn", "netlab"))
    assert {"hpn.emulation", "hpn.emulation.traffic", "mininet.net"} <= names
    assert layers_named(names) == {EMULATION}
    assert layers_named(imported_names("from hpn.experiments.incast import compare\n")) == {EXPERIMENTS}
    assert layers_named(imported_names("import hpn.netlabish\n")) == set()

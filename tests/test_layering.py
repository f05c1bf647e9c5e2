"""Imports run one way: each part of hpn imports only the layers below its own.

The layers, lowest first, are what the modules' imports say the design is: the leaves
(shared parameters, the INT codec, the generic P4Runtime client) import no other part;
the topology model sits on them, routing computes per-switch state from the topology,
pipeline turns that state into P4 entities, and desired is the one path from a fabric to
those entities. The applications sit on top: the HPCC host agent, the emulation and its
network lab (reorganised freely among themselves), and the command line above them all.
The check is static: it parses every module under controller/hpn with `ast`, so an
import inside a function or under TYPE_CHECKING counts as much as one at the top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

HPN = Path(__file__).resolve().parents[1] / "controller" / "hpn"

APPLICATIONS = ("hpn.hpcc", "hpn.emulation", "hpn.netlab", "hpn.experiments", "hpn.operations")
"""The one layer whose parts may import each other: the emulation is being split into parts."""
LAYERS: tuple[tuple[str, ...], ...] = (
    ("hpn", "hpn.params", "hpn.bulk", "hpn.telemetry", "hpn.runtime"),
    ("hpn.topology",),
    ("hpn.routing",),
    ("hpn.pipeline",),
    ("hpn.desired", "hpn.paths"),
    APPLICATIONS,
    ("hpn.cli",),
)
"""Lowest first. A part may import its own modules and any part of a lower layer; the
parts of one layer import none of each other, except the APPLICATIONS."""


def part(module: str) -> str:
    """hpn.routing.compute -> hpn.routing; hpn.params -> hpn.params; hpn -> hpn."""
    return ".".join(module.split(".")[:2])


def layer_of(module: str) -> int | None:
    return next((i for i, parts in enumerate(LAYERS) if part(module) in parts), None)


def sources() -> dict[str, str]:
    """Every module under controller/hpn, by dotted name."""
    out = {}
    for path in sorted(HPN.rglob("*.py")):
        names = path.relative_to(HPN.parent).with_suffix("").parts
        module = ".".join(names[:-1] if names[-1] == "__init__" else names)
        out[module] = path.read_text()
    return out


def imports(module: str, source: str, known: Mapping[str, str]) -> Iterator[tuple[int, str]]:
    """(line, imported hpn module) of every import statement in `source`."""
    package = module if _is_package(module, known) else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from hpn.x import y` imports the module hpn.x.y when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            if target == "hpn" or target.startswith("hpn."):
                yield node.lineno, target


def _is_package(module: str, known: Mapping[str, str]) -> bool:
    return any(other.startswith(module + ".") for other in known)


def violations(modules: Mapping[str, str]) -> list[str]:
    """Every import of a part of the same or a higher layer, and every module of no layer."""
    out = []
    for module, source in sorted(modules.items()):
        mine = layer_of(module)
        if mine is None:
            out.append(f"{module}: {part(module)} is in no layer of LAYERS (add it where it belongs)")
            continue
        for line, target in imports(module, source, modules):
            theirs = layer_of(target)
            if part(target) == part(module) or (theirs is not None and theirs < mine):
                continue
            if theirs == mine and LAYERS[mine] is APPLICATIONS:
                continue
            where = "no layer" if theirs is None else f"layer {theirs}"
            out.append(f"{module}:{line} imports {target} ({where}; {module} is in layer {mine})")
    return out


def test_no_module_imports_its_own_or_a_higher_layer() -> None:
    assert violations(sources()) == []


def test_every_part_of_the_layers_is_a_real_module_or_one_being_made() -> None:
    found = {part(m) for m in sources()}
    listed = {p for layer in LAYERS for p in layer}
    assert found <= listed
    # the emulation's split may add or remove applications; every other part must exist
    assert {p for layer in LAYERS if layer is not APPLICATIONS for p in layer} <= found


def test_the_check_names_an_upward_a_sideways_and_a_relative_import() -> None:
    modules = {
        "hpn.topology": "",
        "hpn.topology.model": "from hpn.routing import state\nimport hpn.params\n",
        "hpn.routing": "",
        "hpn.routing.state": "def f():\n    from ..pipeline import names\n",
        "hpn.pipeline": "",
        "hpn.pipeline.names": "",
        "hpn.telemetry": "",
        "hpn.telemetry.codec": "from hpn import runtime\n",
        "hpn.runtime": "",
        "hpn.emulation.x": "from hpn.cli import main\nfrom hpn.netlab import rig\nfrom . import y\n",
        "hpn.newpart": "",
    }
    assert violations(modules) == [
        "hpn.emulation.x:1 imports hpn.cli (layer 6; hpn.emulation.x is in layer 5)",
        "hpn.newpart: hpn.newpart is in no layer of LAYERS (add it where it belongs)",
        "hpn.routing.state:2 imports hpn.pipeline.names (layer 3; hpn.routing.state is in layer 2)",
        "hpn.telemetry.codec:1 imports hpn.runtime (layer 0; hpn.telemetry.codec is in layer 0)",
        "hpn.topology.model:1 imports hpn.routing.state (layer 2; hpn.topology.model is in layer 1)",
    ]


def test_shared_types_are_still_importable_from_routing_state() -> None:
    from hpn import params
    from hpn.routing import state

    shared = (params.LbMode, params.LinkRate, params.EcnConfig)
    assert (state.LbMode, state.LinkRate, state.EcnConfig) == shared

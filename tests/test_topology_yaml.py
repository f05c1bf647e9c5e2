"""Topology YAML and file reading: bounds on aliases, each node walked once, same data as PyYAML.

How long the refusals take is measured by bench/bench_bounds.py, not here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hpn.topology import load_fabric, loader, yamldoc
from hpn.topology.errors import TopologyError
from hpn.topology.source import decode_topology, read_topology_text


def _levels(levels: int, fanout: int = 10, leaf: str = "{x: 1, x: 2}") -> str:
    """Anchors a0..a{levels-1}: a0 is `leaf`, each next one a list of `fanout` aliases of the last."""
    lines = [f"a0: &a0 {leaf}"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fanout) + "]")
    return "\n".join(lines) + "\n"


def _count_opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the collection nodes `inspect_nodes` opens (a one-item list, updated in place)."""
    opened = [0]
    real = yamldoc._open

    def counting(*args: Any) -> Any:
        opened[0] += 1
        return real(*args)

    monkeypatch.setattr(yamldoc, "_open", counting)
    return opened


def test_an_aliased_node_is_walked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamldoc, "MAX_ALIAS_EXPANSION", 10**30)
    node = yaml.compose(_levels(12), Loader=yaml.SafeLoader)
    opened = _count_opened(monkeypatch)
    problems = yamldoc.inspect_nodes(node)
    assert opened == [1 + 12]  # the document and a0..a11, not the 10**11 copies the aliases stand for
    assert [(p.path, p.message) for p in problems] == [(("a0", "x"), "duplicate key")]


def test_aliases_may_add_up_to_the_limit_and_not_one_node_more(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamldoc, "MAX_ALIAS_EXPANSION", 100)
    ten = "base: &b [1, 2, 3, 4, 5, 6, 7, 8, 9]\n"  # a sequence of 9: ten nodes
    fits = ten + "uses: [" + ", ".join(["*b"] * 10) + "]\n"
    assert yamldoc.inspect_nodes(yaml.compose(fits, Loader=yaml.SafeLoader)) == []
    over = ten + "uses: [" + ", ".join(["*b"] * 11) + "]\n"
    (problem,) = yamldoc.inspect_nodes(yaml.compose(over, Loader=yaml.SafeLoader))
    assert problem.path == ("uses", 10)
    assert "more than 100 nodes" in problem.message and "line 1" in problem.message


def test_alias_bomb_is_refused_at_once_with_the_path_of_the_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = _count_opened(monkeypatch)
    with pytest.raises(TopologyError) as err:
        yamldoc.parse_yaml(_levels(10, leaf="[x]"), "bomb.yaml")
    assert opened[0] <= 1 + 10  # each anchor at most once: refused before anything is expanded
    (problem,) = err.value.problems
    assert problem.path[0] == "a6" and "aliases expand the document" in problem.message


class _DeepLeaf:
    """A value whose repr must never be asked for: it is 30 levels down."""

    def __repr__(self) -> str:
        raise AssertionError("the repr of the whole value was built")


def test_values_in_messages_are_shortened_without_building_their_repr() -> None:
    value: object = _DeepLeaf()
    for _ in range(30):  # 10**30 leaves if repr walked it all
        value = [value] * 10
    text = loader._shorten(value)
    assert len(text) <= 60 and text.startswith("[[[")


SCALARS = """\
ints: [1, -2, 0x1f, 0o17, 1_000, +3]
floats: [1.5, -0.25, 1e3, .inf, -.Inf, .nan]
bools: [true, false, yes, no, on, off, True]
nulls: [null, ~, Null, '']
strings: ["1", '2.5', "true", abc, 10.0.0.0/8, 02:00:0a:00:00:01, "null"]
stamps: [2024-01-02, 2024-01-02 03:04:05]
again: [1, 1.5, true, null, "1", abc, 1, "1"]
"""


def test_memoized_tags_give_the_data_pyyaml_gives() -> None:
    _, data = yamldoc.parse_yaml(SCALARS, "scalars.yaml")
    expected = yaml.load(SCALARS, Loader=yaml.SafeLoader)
    assert repr(data) == repr(expected)  # repr: nan != nan


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml here")
def test_the_c_parser_is_used_when_pyyaml_has_it() -> None:
    assert issubclass(yamldoc.TopologyLoader, yaml.CSafeLoader)


def test_utf8_with_a_byte_order_mark_is_read() -> None:
    assert decode_topology(b"\xef\xbb\xbfkind: hpn\n", "t.yaml") == "kind: hpn\n"


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hpn.topology import source

    path = tmp_path / "t.yaml"
    path.write_text("kind: hpn\n" * 10)
    monkeypatch.setattr(source, "MAX_FILE_BYTES", 50)
    with pytest.raises(TopologyError, match="larger than"):
        read_topology_text(str(path))


def test_a_20000_host_explicit_topology_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file bench/bench_validate.py times."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_validate import explicit_text

    path = tmp_path / "big.yaml"
    path.write_text(explicit_text(20_000))
    fabric = load_fabric(path)
    assert len(fabric.hosts) == 20_000 and len(fabric.links) == 40_628

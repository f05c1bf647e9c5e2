"""Topology YAML and file reading: bounds on aliases, each node walked once, same data as PyYAML."""

from __future__ import annotations

import time
from pathlib import Path

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


def test_an_aliased_node_is_walked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamldoc, "MAX_ALIAS_EXPANSION", 10**30)
    node = yaml.compose(_levels(12), Loader=yaml.SafeLoader)
    started = time.monotonic()
    problems = yamldoc.inspect_nodes(node)
    assert time.monotonic() - started < 1.0  # 10**11 leaves if walked as copies
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


def test_alias_bomb_is_refused_at_once_with_the_path_of_the_alias() -> None:
    started = time.monotonic()
    with pytest.raises(TopologyError) as err:
        yamldoc.parse_yaml(_levels(10, leaf="[x]"), "bomb.yaml")
    assert time.monotonic() - started < 2.0
    (problem,) = err.value.problems
    assert problem.path[0] == "a6" and "aliases expand the document" in problem.message


def test_values_in_messages_are_shortened_without_building_their_repr() -> None:
    value: object = "x" * 1000
    for _ in range(30):  # 10**30 leaves if repr walked it all
        value = [value] * 10
    started = time.monotonic()
    text = loader._shorten(value)
    assert time.monotonic() - started < 0.1
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


def test_a_20000_host_explicit_topology_validates_in_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bench's file; before the C parser and the paused collector it took 40 s here."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_validate import explicit_text

    path = tmp_path / "big.yaml"
    path.write_text(explicit_text(20_000))
    started = time.monotonic()
    fabric = load_fabric(path)
    seconds = time.monotonic() - started
    assert len(fabric.hosts) == 20_000 and len(fabric.links) == 40_628
    assert seconds < 20.0, f"{seconds:.1f}s"

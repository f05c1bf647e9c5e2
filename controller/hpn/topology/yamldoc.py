"""Topology text -> YAML nodes and plain data, with bounds and line numbers.

The nodes are kept so that problems found later (schema, cross-entry rules) can
name the line of the path they are about. Before any data is built the node
graph is walked once, each node once however often it is aliased: duplicate keys
are refused (PyYAML would keep the last silently), and so are aliases that
refer to a node containing them or that would expand the document beyond
`MAX_ALIAS_EXPANSION` nodes (ten levels of ten aliases make 10**10 nodes out of
a few lines). Nesting is bounded by libyaml (1000 levels) or, for the pure-Python
parser, by the interpreter's recursion limit; both end as one problem.

PyYAML's C parser (libyaml) is used when it is installed: composing a large
explicit file in pure Python takes several times longer. The cycle collector is
paused while nodes and data are built: it would rescan every node built so far
again and again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from hpn.bulk import gc_paused
from hpn.topology.errors import Path, Problem, TopologyError

if TYPE_CHECKING:
    _Base = yaml.SafeLoader
else:  # the C loader when PyYAML was built with libyaml, else the pure-Python one
    _Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_ALIAS_EXPANSION = 1_000_000
"""Most nodes that aliases may add to a document (counted as if every alias were a copy)."""


class TopologyLoader(_Base):
    """PyYAML's safe loader (C when available) that remembers the implicit tag of each
    plain scalar: a large topology repeats a few thousand distinct values (keys,
    numbers, speeds) and PyYAML would match every occurrence against its regular
    expressions again. Safe because the safe loader has no path-dependent resolvers."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._tags: dict[tuple[Any, Any], str] = {}

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's, with the values its constructors refuse (an integer of 5,000 digits,
        2024-13-45) turned into a YAML error at the node's line."""
        try:
            return super().construct_object(node, deep)  # type: ignore[no-untyped-call]
        except (ValueError, TypeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value {node.value!r:.40}: {exc}", node.start_mark
            ) from None

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode:
            return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
        key = (value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
        return tag


def parse_yaml(text: str, file: str) -> tuple[yaml.Node | None, Any]:
    """(root node, data) of one YAML document; TopologyError naming the line otherwise."""
    try:
        with gc_paused():
            loader = TopologyLoader(text)
            try:
                node = loader.get_single_node()
                if node is not None:
                    problems = inspect_nodes(node)
                    if problems:
                        lines = LineIndex(node)
                        raise TopologyError(file, [lines.locate(p) for p in problems])
                data = None if node is None else loader.construct_document(node)
            finally:
                loader.dispose()
    except yaml.reader.ReaderError as exc:
        raise TopologyError(file, [_reader_problem(text, exc)]) from None
    except yaml.YAMLError as exc:
        raise TopologyError(file, [_yaml_problem(exc)]) from None
    except RecursionError:
        raise TopologyError(file, [Problem((), "not valid YAML: nested too deeply")]) from None
    return node, data


def _yaml_problem(exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = None if mark is None else mark.line + 1
    what = getattr(exc, "problem", None) or str(exc)
    if "maximum nesting depth" in what:  # libyaml's words
        what = "nested too deeply"
    return Problem((), f"not valid YAML: {what}", line)


def _reader_problem(text: str, exc: yaml.reader.ReaderError) -> Problem:
    """A character YAML does not allow (control characters): where it is."""
    char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
    offset = text.find(char)
    line = text.count("\n", 0, offset) + 1 if offset >= 0 else None
    return Problem((), f"character {ord(char[:1] or ' '):#x} is not allowed in YAML", line)


_Inner = list[tuple[str | int, yaml.Node]]


def _open(node: yaml.Node, path: Path, problems: list[Problem]) -> tuple[int, _Inner]:
    """(1 + the scalars directly inside `node`, the collections directly inside it with
    their path parts); duplicate keys of a mapping go to `problems`."""
    count = 1
    inner: _Inner = []
    scalar = yaml.ScalarNode
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for i, (key, value) in enumerate(node.value):
            part: str | int = i
            if type(key) is scalar:
                part = key.value
                if part in seen:  # PyYAML would keep the last one silently
                    problems.append(Problem((*path, part), "duplicate key", key.start_mark.line + 1))
                seen.add(key.value)
                count += 1
            else:
                inner.append((part, key))
            if type(value) is scalar:
                count += 1
            else:
                inner.append((part, value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            if type(item) is scalar:
                count += 1
            else:
                inner.append((i, item))
    return count, inner


def inspect_nodes(root: yaml.Node) -> list[Problem]:
    """Duplicate keys of every mapping, each node visited once; or the one problem of an
    alias inside the node it refers to, or of aliases expanding the document by more
    than `MAX_ALIAS_EXPANSION` nodes (the walk stops there)."""
    problems: list[Problem] = []
    sizes: dict[int, int] = {}  # id(collection node) -> nodes it expands to, once walked
    on_path: set[int] = set()
    added = 0
    # Depth-first without recursion: [node, its path, collections inside, next one, nodes so far].
    stack: list[list[Any]] = []

    def enter(node: yaml.Node, path: Path) -> None:
        count, inner = _open(node, path, problems)
        on_path.add(id(node))
        stack.append([node, path, inner, 0, count])

    enter(root, ())
    while stack:
        top = stack[-1]
        node, path, inner, index, count = top
        if index == len(inner):
            stack.pop()
            on_path.discard(id(node))
            sizes[id(node)] = count
            if stack:
                stack[-1][4] += count
            continue
        top[3] = index + 1
        part, child = inner[index]
        if id(child) in on_path:
            return [Problem((*path, part), "an alias of a node that contains it: the document never ends")]
        size = sizes.get(id(child))
        if size is None:
            enter(child, (*path, part))
            continue
        added += size  # an alias: counted as the copy it stands for, not walked again
        top[4] += size
        if added > MAX_ALIAS_EXPANSION:
            anchor = child.start_mark.line + 1
            return [
                Problem(
                    (*path, part),
                    f"aliases expand the document by more than {MAX_ALIAS_EXPANSION:,} nodes "
                    f"(here the {size:,} nodes of line {anchor} once more): refused",
                )
            ]
    return problems


class LineIndex:
    """Maps a path inside the document to the line it starts on."""

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root

    def line_of(self, path: Path) -> int | None:
        node = self._root
        if node is None:
            return None
        for part in path:
            child = self._child(node, part)
            if child is None:
                break
            node = child
        return node.start_mark.line + 1

    @staticmethod
    def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if key.value == part:
                    return value  # type: ignore[no-any-return]
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            return node.value[part]  # type: ignore[no-any-return]
        return None

    def locate(self, problem: Problem) -> Problem:
        if problem.line is not None:
            return problem
        return Problem(problem.path, problem.message, self.line_of(problem.path))

"""What the P4 sources say about constants, header layouts and sizes, read from the text.

Enough of a preprocessor to see one target's program as the compiler does: it follows
``#include "..."`` from the target's hpn.p4 (not ``<...>``), honours ``#define``,
``#undef``, ``#ifdef``, ``#ifndef``, ``#else`` and ``#endif``, and drops comments. Object-like
macros that are no integer (a declaration's type) are expanded; integer ones are kept as
names, and a size or a width that names one is looked up in the constants.

From that text it reads the integer constants (``#define NAME <integer>`` and
``const <type> NAME = <integer>;``), the fields of a header, and the size each table and
each sized extern (register, counter, action profile and selector, Lpf) declares. The
controller keeps its own copies of these values, as an installed hpnctl has no p4src;
tests/test_constants_agree.py binds the two with what this module reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

P4SRC = Path(__file__).resolve().parents[1] / "p4src"
MAIN = {"bmv2": P4SRC / "v1model" / "hpn.p4", "tofino": P4SRC / "tna" / "hpn.p4"}
"""The program each target compiles (Makefile: `make p4`, tools/tofino_build.py)."""

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_DIRECTIVE = re.compile(r"\s*#\s*(\w+)\s*(.*)")
_INT = re.compile(r"(?:\d+[ws])?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*)")
_CONST = re.compile(r"\bconst\s+(bit\s*<\s*\w+\s*>|\w+)\s+(\w+)\s*=\s*([^;]+);")
_TYPEDEF = re.compile(r"\btypedef\s+bit\s*<\s*(\w+)\s*>\s+(\w+)\s*;")
_WIDTH = re.compile(r"bit\s*<\s*(\w+)\s*>")
_ANNOTATIONS = r"((?:@\w+(?:\([^()]*\))?\s*)*)"
_TABLE = re.compile(_ANNOTATIONS + r"\btable\s+(\w+)\s*\{")
_EXTERN = re.compile(
    _ANNOTATIONS
    + r"\b(register|counter|direct_counter|meter|action_profile|action_selector"
    + r"|Register|Counter|Meter|Lpf|ActionProfile|ActionSelector)\s*(?:<[^;(]*>)?\s*\(([^;]*)\)\s*(\w+)\s*;"
)
_SIZE_ARG = {"action_selector": 1, "ActionSelector": 4}
"""Which constructor argument is the size; 0 for every other extern."""


class P4SourceError(ValueError):
    """The sources are not what this reader understands, or contradict themselves."""


def parse_int(literal: str) -> int:
    """A P4 integer literal: 42, 0x2a, 0b101010, 8w42, 32w0x2a, 1_000."""
    m = _INT.fullmatch(literal.strip())
    if not m:
        raise P4SourceError(f"not an integer literal: {literal!r}")
    return int(m.group(1).replace("_", ""), 0)


@dataclass(frozen=True)
class Declared:
    """A table or extern and the sizes its declaration gives."""

    kind: str
    name: str
    size: int
    max_group_size: int | None = None
    profile: str | None = None
    """ActionSelector(profile, ...): the action profile the selector selects from."""


@dataclass
class _Reader:
    read: Callable[[Path], str]
    flags: set[str] = field(default_factory=set)
    constants: dict[str, int] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    macros: dict[str, str] = field(default_factory=dict)
    """Object-like macros that are no integer (a declaration's type, a field list)."""
    out: list[str] = field(default_factory=list)

    def define(self, name: str, value: int, where: str) -> None:
        if name in self.constants and self.constants[name] != value:
            raise P4SourceError(
                f"{name} is {self.constants[name]} ({self.origin[name]}) and {value} ({where})"
            )
        self.constants[name] = value
        self.origin.setdefault(name, where)

    def value(self, text: str, where: str) -> int | None:
        text = text.strip()
        if text in self.constants:
            return self.constants[text]
        try:
            return parse_int(text)
        except P4SourceError:
            return None

    def expand(self, line: str) -> str:
        for _ in range(8):  # a macro may name another; P4 programs nest a few deep at most
            expanded = re.sub(r"\b\w+\b", lambda m: self.macros.get(m.group(0), m.group(0)), line)
            if expanded == line:
                break
            line = expanded
        return line

    def file(self, path: Path) -> None:
        text = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), self.read(path))
        active: list[bool] = []
        for number, line in _logical_lines(text):
            where = f"{path.name}:{number}"
            m = _DIRECTIVE.match(line)
            if not m:
                if all(active):
                    self.out.append(self.expand(line))
                continue
            word, rest = m.groups()
            if word in ("ifdef", "ifndef"):
                active.append((rest.split()[0] in self.flags) == (word == "ifdef"))
            elif word == "else":
                active[-1] = not active[-1]
            elif word == "endif":
                active.pop()
            elif word in ("if", "elif"):
                raise P4SourceError(f"{where}: #{word} is not understood here")
            elif not all(active):
                continue
            elif word == "include" and rest.startswith('"'):
                self.file(path.parent / rest.strip().strip('"'))
            elif word == "define":
                name, _, body = rest.partition(" ") if " " in rest else rest.partition("\t")
                if "(" in name:  # a function-like macro
                    name = name.split("(")[0]
                else:
                    value = self.value(body, where)
                    if value is not None:
                        self.define(name, value, where)
                    elif body.strip():
                        self.macros[name] = body.strip()
                self.flags.add(name)
            elif word == "undef":
                self.flags.discard(rest.strip())
                self.macros.pop(rest.strip(), None)
        if active:
            raise P4SourceError(f"{path.name}: #if without #endif")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, line) with backslash continuations joined."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.split("\n"), 1):
        start, joined = pending if pending else (number, "")
        joined += line
        if line.endswith("\\"):
            pending = (start, joined[:-1] + " ")
            continue
        pending = None
        out.append((start, joined))
    if pending:
        out.append(pending)
    return out


@dataclass(frozen=True)
class P4Program:
    """One target's program as the compiler sees it, and what this module reads from it."""

    text: str
    constants: Mapping[str, int]
    types: Mapping[str, str]
    """The type each `const` is declared with, as written (``bit<2>``, ``drop_reason_t``)."""
    macros: Mapping[str, str]
    """The object-like macros that are no integer, by name: their text (FLOW_KEY_FIELDS)."""

    @classmethod
    def load(cls, main: Path, read: Callable[[Path], str] = Path.read_text) -> P4Program:
        """The program `main` includes, each file read with `read` (a test can alter one)."""
        reader = _Reader(read)
        reader.file(main)
        text = "\n".join(reader.out)
        types: dict[str, str] = {}
        for m in _CONST.finditer(text):
            kind, name, value = m.groups()
            number = reader.value(value, name)
            if number is None:
                raise P4SourceError(f"const {name} = {value.strip()}: not an integer")
            reader.define(name, number, f"const {name}")
            types[name] = re.sub(r"\s+", "", kind)
        return cls(text, dict(reader.constants), types, dict(reader.macros))

    @classmethod
    def of_target(cls, target: str) -> P4Program:
        return cls.load(MAIN[target])

    def resolve(self, text: str) -> int:
        text = text.strip()
        if text in self.constants:
            return self.constants[text]
        return parse_int(text)

    def width(self, type_text: str) -> int:
        """Bits of ``bit<N>`` or of a typedef of one."""
        m = _WIDTH.fullmatch(type_text)
        if m:
            return self.resolve(m.group(1))
        for t in _TYPEDEF.finditer(self.text):
            if t.group(2) == type_text:
                return self.resolve(t.group(1))
        raise P4SourceError(f"no width for type {type_text}")

    def family(self, prefix: str = "", type_text: str | None = None) -> dict[str, int]:
        """The constants named `prefix`..., only `const`s of `type_text` if given."""
        return {
            name: value
            for name, value in self.constants.items()
            if name.startswith(prefix) and (type_text is None or self.types.get(name) == type_text)
        }

    def members(self, name: str) -> list[tuple[str, str]]:
        """(field, type as written) of header or struct `name`: the branch the program compiles."""
        m = re.search(rf"\b(?:header|struct)\s+{name}\s*\{{([^}}]*)\}}", self.text)
        if not m:
            raise P4SourceError(f"no header or struct {name}")
        return [
            (f.group(2), re.sub(r"\s+", "", f.group(1)))
            for f in re.finditer(r"(bit\s*<\s*\w+\s*>|\w+(?:\[\w+\])?)\s+(\w+)\s*;", m.group(1))
        ]

    def header(self, name: str) -> list[tuple[str, int]]:
        """(field, bits) of header `name`, in order."""
        return [(field_name, self.width(kind)) for field_name, kind in self.members(name)]

    def field_width(self, path: str) -> int:
        """Bits of a field as an expression names it: ``hdr.ipv4.src_addr``, ``meta.dest_qp``.

        The field is looked up in the type of the field before it (``ipv4``: ipv4_t), or,
        after a parameter name (``meta``), in every header and struct that has it; all the
        places it is found must give it one width."""
        *path_parts, last = path.split(".")
        containers = re.findall(r"\b(?:header|struct)\s+(\w+)\s*\{", self.text)
        fields = {c: dict(self.members(c)) for c in containers}
        parent = path_parts[-1] if path_parts else None
        owners = {kind for members in fields.values() for f, kind in members.items() if f == parent}
        owners &= set(fields)
        widths = {self.width(fields[c][last]) for c in (owners or fields) if last in fields[c]}
        if len(widths) != 1:
            raise P4SourceError(f"{path}: {len(widths)} widths ({sorted(widths)})")
        return widths.pop()

    def declared(self) -> list[Declared]:
        """Every table that declares a size and every sized extern."""
        out = []
        for m in _TABLE.finditer(self.text):
            body = _braced(self.text, m.end() - 1)
            found = re.search(r"\bsize\s*=\s*([^;]+);", body)
            if found:
                out.append(Declared("table", _name(m.group(1), m.group(2)), self.resolve(found.group(1))))
        for m in _EXTERN.finditer(self.text):
            annotations, kind, args_text, local = m.groups()
            args = _split_args(args_text)
            group = re.search(r"@max_group_size\(([^()]*)\)", annotations)
            max_group = self.resolve(group.group(1)) if group else None
            profile = None
            if kind == "ActionSelector" and len(args) == 5:  # (profile, hash, mode, max group, groups)
                profile, max_group = args[0], self.resolve(args[3])
            size = self.resolve(args[_SIZE_ARG.get(kind, 0)])
            out.append(Declared(kind, _name(annotations, local), size, max_group, profile))
        return out


def _name(annotations: str, local: str) -> str:
    """The declaration's own name: an @name's last component, else its identifier."""
    m = re.search(r'@name\("([^"]+)"\)', annotations)
    return m.group(1).rsplit(".", 1)[-1] if m else local


def _braced(text: str, start: int) -> str:
    """The text between the brace at `start` and the one that closes it."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i]
    raise P4SourceError("unbalanced braces")


def _split_args(text: str) -> list[str]:
    """Constructor arguments, split at the commas outside braces and parentheses."""
    args, depth, current = [], 0, ""
    for ch in text:
        depth += {"(": 1, "{": 1, ")": -1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += ch
    return [*args, current.strip()] if current.strip() else args


def disagreements(python: Mapping[str, int], p4: Mapping[str, int]) -> list[str]:
    """Each Python value, keyed by the name of its P4 counterpart, that P4 lacks or differs from."""
    out = []
    for name, value in sorted(python.items()):
        if name not in p4:
            out.append(f"{name}: Python has {value}, P4 has no such constant")
        elif p4[name] != value:
            out.append(f"{name}: Python has {value}, P4 has {p4[name]}")
    return out


def unmatched(p4_family: Mapping[str, int], python: Mapping[str, int]) -> list[str]:
    """Each P4 constant of a family (drop reasons, LB modes) with no Python counterpart."""
    return [f"{name} = {value}: P4 only" for name, value in sorted(p4_family.items()) if name not in python]

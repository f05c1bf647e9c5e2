"""The names the docs put in backticks, and the text of the code they must be found in.

A doc's inline code spans (fenced blocks aside) are read as Markdown does: a run of N
backticks up to the next run of exactly N, across line breaks. Each span is sorted into
the kind of name it is (a file path, an hpn module, a P4Info object, a make target, an
hpnctl command, a flag, a keyword argument, a script or other command, a YAML key, an
identifier); spans that are expressions, numbers
or prose are no name and are not checked. tests/test_docs_names.py checks each name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = (*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md", ROOT / "p4src" / "tna" / "README.md")
CODE = ("controller", "p4src", "bench", "tools", "ptf_tests", "Makefile")
"""Where a name a doc uses must occur."""
SKIP = {".git", ".venv", ".tools", ".mypy_cache", ".ruff_cache", ".pytest_cache", "run", "out", "__pycache__"}
TEXT = {".py", ".p4", ".md", ".toml", ".txt", ".yaml", ".cfg", ".sh", ""}

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1", re.M | re.S)
_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PLACEHOLDER = re.compile(r"<[^<>]*>|\{[^{}]*\}")
_EXTENSIONS: tuple[str, ...] = (".py", ".p4", ".md", ".yaml", ".json", ".txt", ".toml", ".txtpb")
_EXTENSIONS += (".log", ".sock", ".png", ".bin", ".cc", ".h")
_P4INFO_KINDS = ("action profile", "direct counter", "table", "action", "counter", "register", "meter")


@dataclass(frozen=True)
class Span:
    doc: Path
    line: int
    text: str
    """The span's content, its whitespace runs made one space."""

    def __str__(self) -> str:
        doc = self.doc.relative_to(ROOT) if self.doc.is_relative_to(ROOT) else self.doc.name
        return f"{doc}:{self.line}: `{self.text}`"


def spans(doc: Path, text: str | None = None) -> list[Span]:
    """The inline code spans of a Markdown file, outside fenced blocks."""
    text = doc.read_text() if text is None else text
    text = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return [
        Span(doc, text.count("\n", 0, m.start()) + 1, " ".join(m.group(2).split()))
        for m in _SPAN.finditer(text)
        if m.group(2).strip()
    ]


def kind(text: str) -> str | None:
    """What kind of name a span is, or None for an expression, a number or prose."""
    first = text.split(" ", 1)[0]
    if first == "hpnctl":
        return "hpnctl"
    if first == "make":
        return "make"
    if text.startswith("python -m ") or text.startswith("python3 -m "):
        return "python -m"
    if re.match(r"-[-A-Za-z]", text):
        return "flag"
    if re.fullmatch(rf"{_IDENT}=\S+", text):
        return "keyword"
    if re.fullmatch(r"[\w./-]+\.py .+", text):
        return "script"
    if any(text.startswith(k + " ") for k in _P4INFO_KINDS) and re.fullmatch(r"[\w ]+ [\w.]+", text):
        return "p4info"
    if re.fullmatch(rf"{_IDENT}: \S.*", text):
        return "yaml key"
    bare = _PLACEHOLDER.sub("X", text)
    one_word = " " not in bare and "(" not in bare and "=" not in bare and not re.search(r"\w:\w", bare)
    if one_word and ("/" in bare or bare.endswith(_EXTENSIONS)):
        return "path"
    if re.fullmatch(rf"hpn(\.{_IDENT})+", text):
        return "module"
    if re.fullmatch(r"[A-Za-z](_[a-z])?", text):
        return None  # a symbol of a formula (P, T, u_i)
    if re.fullmatch(rf"{_IDENT}(\.{_IDENT})+(\(.*\))?", text):
        return "dotted"
    if re.fullmatch(rf"{_IDENT}(::{_IDENT})+(\(\))?", text):
        return "c++"
    if re.fullmatch(rf"@?{_IDENT}(\(.*\)( -> {_IDENT})?|\[.*\]|<.*>)?", text):
        return "identifier"
    if re.fullmatch(r"[a-z][\w.-]*( ([\w.|\\-]+|\.\.\.|\[[^]]*\]))+", bare):
        return "command"  # a program and its arguments, placeholders aside
    return None


class CodeTree:
    """The files of the repository, and the text of those under CODE."""

    @cached_property
    def files(self) -> list[Path]:
        return [
            p
            for p in ROOT.rglob("*")
            if not SKIP & set(p.relative_to(ROOT).parts) and not p.name.endswith(".egg-info")
        ]

    @cached_property
    def text(self) -> str:
        parts = []
        for name in CODE:
            path = ROOT / name
            paths = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for p in paths:
                if p.suffix in TEXT and not SKIP & set(p.relative_to(ROOT).parts):
                    parts.append(self.read(p))
        return "\n".join(parts)

    @cached_property
    def words(self) -> frozenset[str]:
        return frozenset(re.findall(_IDENT, self.text))

    def read(self, path: Path) -> str:
        """A file's text; "" for one gone since the listing (others are moving files)."""
        try:
            return path.read_text(errors="replace")
        except (FileNotFoundError, IsADirectoryError):
            return ""

    @cached_property
    def tails(self) -> frozenset[tuple[str, ...]]:
        """Every ending of every file's and folder's path: ("plan.py",), ("routing", "plan.py"), ..."""
        out = set()
        for p in self.files:
            parts = p.relative_to(ROOT).parts
            out |= {parts[i:] for i in range(len(parts))}
        return frozenset(out)

    @cached_property
    def definitions(self) -> dict[str, list[Path]]:
        """The Python and P4 files that define a class, function or control of each name."""
        out: dict[str, list[Path]] = {}
        for p in self.files:
            if p.suffix in (".py", ".p4"):
                for name in re.findall(r"\b(?:class|control|def)\s+(\w+)", self.read(p)):
                    out.setdefault(name, []).append(p)
        return out

    def has_path(self, path: str, doc: Path) -> bool:
        """A file or folder at `path` from the root or the doc, or one whose path ends so."""
        clean = path.rstrip("/")
        if (ROOT / clean).exists() or (doc.parent / clean).exists():
            return True
        return tuple(Path(clean).parts) in self.tails

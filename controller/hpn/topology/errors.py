"""Topology errors: every problem names the file, the path inside it and what is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """('links', 3, 'b') -> 'links[3].b'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    line: int | None = None  # 1-based line in the file, when known

    def render(self, file: str) -> str:
        line = f" (line {self.line})" if self.line is not None else ""
        where = f"{file}: {format_path(self.path)}" if self.path else file
        return f"{where}: {self.message}{line}"


class TopologyError(ValueError):
    """A topology file could not be turned into a valid fabric.

    `str(err)` has one line per problem: `file: path: what is wrong (line n)`.
    """

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        self.file = file
        self.problems = tuple(problems)
        super().__init__("\n".join(p.render(file) for p in self.problems))

"""The docs point at things that exist, inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", ".tools", ".mypy_cache", ".ruff_cache", ".pytest_cache", "run", "out"}
TEXT = {".md", ".py", ".toml", ".txt", ".yaml", ".p4", ""}


def _repo_files() -> list[Path]:
    return [
        p
        for p in ROOT.rglob("*")
        if p.is_file() and not SKIP & set(p.relative_to(ROOT).parts) and p.suffix in TEXT
    ]


def test_no_file_refers_to_design_notes_outside_the_repository() -> None:
    outside = "DESIGN" + ".md"  # spelled apart so this file does not match itself
    found = [str(p.relative_to(ROOT)) for p in _repo_files() if outside in p.read_text(errors="replace")]
    assert not found


def test_every_doc_and_path_the_readme_names_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    docs = set(re.findall(r"`(docs/[\w.-]+\.md)`", readme))
    assert docs and all((ROOT / d).is_file() for d in docs), sorted(
        d for d in docs if not (ROOT / d).exists()
    )
    layout = readme.split("## Layout", 1)[1].split("##", 1)[0]
    parts = layout.split("the `hpn` package:", 1)[1].splitlines()[0].split()
    for name in parts:  # e.g. "topology/" (a package) or "x.py" (a module)
        path = ROOT / "controller" / "hpn" / name
        assert path.is_dir() if name.endswith("/") else path.is_file(), name

"""The docs point at things that exist, inside the repository."""

from __future__ import annotations

from pathlib import Path

from doc_names import ROOT, SKIP

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


def test_the_readme_layout_names_every_part_of_the_package_as_it_is() -> None:
    """Each name of the README's package line is a package or module (test_docs_names.py
    checks the names in backticks)."""
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("##", 1)[0]
    parts = layout.split("the `hpn` package:", 1)[1].splitlines()[0].split()
    for name in parts:  # e.g. "topology/" (a package) or "x.py" (a module)
        path = ROOT / "controller" / "hpn" / name
        assert path.is_dir() if name.endswith("/") else path.is_file(), name

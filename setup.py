"""Build hook: the wheel carries the compiled P4 programs as package data.

`p4src/out/bmv2/` and `p4src/out/tofino/` are copied to `hpn/p4out/` in the
build, so an installed `hpnctl` finds them wherever it runs
(`hpn.pipeline.p4info` says in which order it looks). Git keeps one copy, in
p4src/out; everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
P4_OUT = ROOT / "p4src" / "out"
TARGETS = ("bmv2", "tofino")
PACKAGED = Path("hpn", "p4out")  # hpn.pipeline.p4info.PACKAGED_P4_OUT, inside the package


def compiled_files() -> list[Path]:
    """Every file of the compiled outputs, or SystemExit naming the folder that is missing."""
    files: list[Path] = []
    for target in TARGETS:
        folder = P4_OUT / target
        found = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        if not found:
            raise SystemExit(f"{folder}: no compiled P4 output to package (run `make p4` / `make p4-tna`)")
        files += found
    return files


class BuildPyWithP4(build_py):
    """build_py that also copies the compiled outputs into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads p4src/out of the checkout itself
            return
        for source in compiled_files():
            target = Path(self.build_lib, PACKAGED, source.relative_to(P4_OUT))
            self.mkpath(str(target.parent))
            self.copy_file(str(source), str(target))


setup(cmdclass={"build_py": BuildPyWithP4})

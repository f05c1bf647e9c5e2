"""Time how fast bounded topology inputs are refused: alias bombs, deep nesting, huge files.

    python bench/bench_bounds.py [--repeat 5]

Each case is one input the loader must refuse without doing the work it describes
(10**10 aliased nodes, 5,000 nesting levels, a 200 MB file, a FIFO that never
ends), plus the two walks that must stay proportional to the text: every node of
a document of twelve levels of ten aliases visited once, and a 10**30-leaf value
shortened for a message. The tests check that each is refused, with which message;
here the best time of `--repeat` runs is printed, not judged.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from hpn.topology import TopologyError, load_fabric, load_fabric_text, loader, yamldoc

HEADER = "kind: hpn\nname: x\nsegments: 2\nhosts_per_segment: 2\nrails: 2\naggs_per_plane: 2\n"


def alias_levels(levels: int, leaf: str = "[x, x, x, x, x, x, x, x, x, x]") -> str:
    """Anchors a0..a{levels-1} under `junk`: each a list of ten aliases of the one before."""
    lines = [f"  a0: &a0 {leaf}"]
    for i in range(1, levels):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "junk:\n" + "\n".join(lines) + "\n"


def _refused(load: Callable[[], object], words: str) -> Callable[[], None]:
    """Runs `load`, which must fail with a TopologyError saying `words`."""

    def run() -> None:
        try:
            load()
        except TopologyError as exc:
            if words in str(exc):
                return
            raise SystemExit(f"refused for another reason than {words!r}: {exc}") from None
        raise SystemExit(f"a bounded input was accepted (expected {words!r})")

    return run


def _walk_aliases(levels: int) -> Callable[[], None]:
    node = yaml.compose(alias_levels(levels), Loader=yaml.SafeLoader)

    def run() -> None:
        limit = yamldoc.MAX_ALIAS_EXPANSION
        yamldoc.MAX_ALIAS_EXPANSION = 10**30  # let the walk count them all
        try:
            yamldoc.inspect_nodes(node)
        finally:
            yamldoc.MAX_ALIAS_EXPANSION = limit

    return run


def _shorten_huge() -> None:
    value: object = "x" * 1000
    for _ in range(30):
        value = [value] * 10
    loader._shorten(value)


def cases(folder: Path) -> dict[str, Callable[[], None]]:
    fifo = folder / "fifo.yaml"
    os.mkfifo(fifo)
    huge = folder / "huge.yaml"
    with open(huge, "wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: nothing is written
    merge_bomb = "junk:\n  m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 0}\n" + "".join(
        f"  m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 10)}]}}\n" for i in range(1, 10)
    )
    return {
        "alias bomb (10**10 nodes)": _refused(
            lambda: load_fabric_text(HEADER + alias_levels(10), "t.yaml"), "aliases expand"
        ),
        "merge-key bomb": _refused(lambda: load_fabric_text(HEADER + merge_bomb, "t.yaml"), "aliases expand"),
        "5,000 nested lists": _refused(
            lambda: load_fabric_text(HEADER + "junk: " + "[" * 5000 + "]" * 5000 + "\n", "t.yaml"),
            "nested too deeply",
        ),
        "200 MB file": _refused(lambda: load_fabric(huge), "larger than"),
        "FIFO": _refused(lambda: load_fabric(fifo), "not a regular file"),
        "walk 12 alias levels": _walk_aliases(12),
        "shorten 10**30 leaves": _shorten_huge,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        runs = cases(Path(tmp))
        print(f"best of {args.repeat}:")
        for name, run in runs.items():
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            print(f"  {name:26} {min(times) * 1000:9.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

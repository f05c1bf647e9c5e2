"""hpnctl on bad input: one row per case, with the exit code and the words the message must hold.

Every row also requires: no traceback, an answer within seconds, and (where a row says
so) nothing written. Switch addresses that must not answer are Unix sockets that do not
exist, so nothing leaves this machine.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpn.cli import app

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 10.0
"""Every case answers well within this, on a loaded machine too."""
HANG_SECONDS = 30.0

Patch = Callable[[pytest.MonkeyPatch, Path], None]
Check = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One command on one bad input. `{dir}` in argv and files is the case's directory."""

    name: str
    argv: tuple[str, ...]
    code: int
    words: tuple[str, ...]
    files: dict[str, bytes | str] = field(default_factory=dict)
    absent: tuple[str, ...] = ()  # must not appear anywhere in the output
    once: tuple[str, ...] = ()  # must appear exactly once
    patch: Patch | None = None  # e.g. a FIFO, or another P4Info
    after: Check | None = None  # what must (not) exist afterwards

    def __str__(self) -> str:
        return self.name


def _hpn(**params: object) -> str:
    base: dict[str, object] = {"segments": 2, "hosts_per_segment": 2, "rails": 2, "aggs_per_plane": 2}
    base.update(params)
    return "kind: hpn\nname: x\n" + "".join(f"{k}: {v}\n" for k, v in base.items())


def _alias_bomb(levels: int = 10, where: str = "junk") -> str:
    """`levels` anchors, each a list of ten aliases of the one before: 10**levels leaves."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    anchors = "\n".join("  " + line for line in lines)
    return f"{where}:\n{anchors}\n"


def _fifo(_mp: pytest.MonkeyPatch, d: Path) -> None:
    os.mkfifo(d / "fifo.yaml")


def _sparse_huge(_mp: pytest.MonkeyPatch, d: Path) -> None:
    with open(d / "huge.yaml", "wb") as f:
        f.truncate(200 * 1024 * 1024)


TOPOLOGY_BYTES = [
    Case(
        "non-utf8",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "not UTF-8", "line 2"),
        {"t.yaml": b"kind: hpn\nname: caf\xe9\n"},
    ),
    Case(
        "nul-byte",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "NUL", "line 1"),
        {"t.yaml": b"kind: hpn\x00\nname: x\n"},
    ),
    Case(
        "utf16-bom",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "UTF-16", "UTF-8"),
        {"t.yaml": _hpn().encode("utf-16")},
    ),
    Case(
        "utf16-no-bom",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "NUL"),
        {"t.yaml": _hpn().encode("utf-16-le")},
    ),
    Case(
        "control-char",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "line 2", "0x7"),
        {"t.yaml": "kind: hpn\nname: a\x07b\n"},
    ),
    Case(
        "deep-lists",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "nested too deeply", "line 3"),
        {"t.yaml": "kind: hpn\nname: x\njunk: " + "[" * 5000 + "]" * 5000 + "\n"},
    ),
    Case(
        "deep-maps",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "nested too deeply"),
        {"t.yaml": "kind: hpn\nname: x\njunk: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"},
    ),
    Case(
        "deep-blocks",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "nested too deeply"),
        {"t.yaml": "kind: hpn\nname: x\njunk:\n" + "".join(" " * (i + 1) + "-\n" for i in range(3000))},
    ),
    Case(
        "fifo", ("validate", "{dir}/fifo.yaml"), 2, ("fifo.yaml", "not a regular file", "FIFO"), patch=_fifo
    ),
    Case("dev-zero", ("validate", "/dev/zero"), 2, ("/dev/zero", "not a regular file")),
    Case("directory", ("validate", "{dir}"), 2, ("directory",)),
    Case(
        "huge-file",
        ("validate", "{dir}/huge.yaml"),
        2,
        ("huge.yaml", "MB", "larger than"),
        patch=_sparse_huge,
    ),
]

YAML_ALIASES = [
    Case(
        "bomb-under-unknown-key",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "aliases", "expand"),
        {"t.yaml": _hpn() + _alias_bomb()},
    ),
    Case(
        "bomb-in-a-list",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "aliases", "expand"),
        {"t.yaml": _alias_bomb(where="bombs") + "kind: explicit\nname: x\nswitches: [*a9, *a9]\n"},
    ),
    Case(
        "bomb-by-merge-keys",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "aliases", "expand"),
        {
            "t.yaml": _hpn()
            + "junk:\n  m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 0}\n"
            + "".join(f"  m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 10)}]}}\n" for i in range(1, 10))
        },
    ),
    Case(
        "recursive-alias",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "alias", "contains it", "line 3"),
        {"t.yaml": "kind: hpn\nname: x\njunk: &loop [1, *loop]\n"},
    ),
    Case(
        "aliases-that-fit",
        ("validate", "{dir}/t.yaml"),
        0,
        ("ok: 12",),
        {
            "t.yaml": "kind: hpn\nname: x\nsegments: &two 2\nhosts_per_segment: *two\nrails: *two\n"
            "aggs_per_plane: *two\nspeeds: &s {host_gbps: 200, fabric_gbps: 400}\n"
        },
    ),
]

COUNTS = [
    Case(
        "huge-rails",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml: rails:", "1000000000"),
        {"t.yaml": _hpn(rails=10**9)},
        absent=("segments:", "/-"),
    ),
    Case(
        "huge-segments",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml: segments:", "1000000000"),
        {"t.yaml": _hpn(segments=10**9)},
        absent=("/-",),
    ),
    Case(
        "rails-beyond-addressing",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml: rails:", "256"),
        {"t.yaml": _hpn(segments=1, rails=300)},
        absent=("segments:",),
    ),
    Case(
        "huge-hosts",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml: hosts_per_segment:", "128"),
        {"t.yaml": _hpn(hosts_per_segment=10**9)},
    ),
    Case(
        "huge-aggs",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml: aggs_per_plane:", "uplinks"),
        {"t.yaml": _hpn(aggs_per_plane=10**9)},
    ),
    Case(
        "base-too-small",
        ("validate", "{dir}/t.yaml"),
        2,
        ("addressing.base", "/15 or shorter"),
        {"t.yaml": _hpn(segments=2, addressing="{base: 10.0.0.0/24}")},
        absent=("/-",),
    ),
]

CASES = [*TOPOLOGY_BYTES, *YAML_ALIASES, *COUNTS]


class Hung(Exception):
    """Raised in the test's thread by SIGALRM: the command did not answer in time."""


def _hung(_signum: int, _frame: object) -> None:
    raise Hung(f"no answer within {HANG_SECONDS:g}s")


@pytest.fixture
def case_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("HPN_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("COLUMNS", raising=False)
    previous = signal.signal(signal.SIGALRM, _hung)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)  # a hang fails the case instead of the run
    try:
        yield tmp_path
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case: Case, case_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, content in case.files.items():
        path = case_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content if isinstance(content, bytes) else content.replace("{dir}", str(case_dir)).encode()
        path.write_bytes(data)
    if case.patch is not None:
        case.patch(monkeypatch, case_dir)
    argv = [arg.replace("{dir}", str(case_dir)) for arg in case.argv]
    started = time.monotonic()
    result = CliRunner().invoke(app, argv)
    seconds = time.monotonic() - started
    out = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), out
    assert "Traceback" not in out
    assert result.exit_code == case.code, out
    for word in case.words:
        assert word in out, f"{word!r} missing from:\n{out}"
    for word in case.absent:
        assert word not in out, f"{word!r} should not be in:\n{out}"
    for word in case.once:
        assert out.count(word) == 1, f"{word!r} should appear once in:\n{out}"
    assert seconds < SECONDS, f"took {seconds:.1f}s"
    if case.after is not None:
        case.after(case_dir)

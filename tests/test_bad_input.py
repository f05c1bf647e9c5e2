"""hpnctl on bad input: one row per case, with the exit code and the words the message must hold.

Every row also requires: no traceback, an answer at all (a hang fails the row after
HANG_SECONDS instead of stalling the run), and (where a row says so) nothing written.
Switch addresses that must not answer are Unix sockets that do not exist, so nothing
leaves this machine. How long the bounded inputs take to be refused is measured by
bench/bench_bounds.py, not here.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpn.cli import app
from hpn.pipeline import P4INFO_PATH

ROOT = Path(__file__).resolve().parents[1]
RIG = (ROOT / "topologies" / "rig-4.yaml").read_text()
MINI = (ROOT / "topologies" / "hpn-mini.yaml").read_text()
FOREIGN_P4INFO = ROOT / "tests" / "data" / "encoding_fixture.p4info.txtpb"
HANG_SECONDS = 30.0
"""A case that has not answered by then hangs (a watchdog, not a speed limit)."""

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


def _p4info(path: Path) -> Patch:
    def patch(mp: pytest.MonkeyPatch, _d: Path) -> None:
        mp.setattr("hpn.cli.common.P4INFO_PATH", path)

    return patch


def _no_failure_file(d: Path) -> None:
    assert not (d / "run" / "rig-4" / "failures.json").exists()


def _nothing_in_run_dir(d: Path) -> None:
    assert not (d / "run").exists() or not any((d / "run").rglob("*.json"))


NOWHERE = "unix:{dir}/nobody-listens.sock"
ALL_NOWHERE = json.dumps({n: NOWHERE for n in ("tor0", "tor1", "agg0", "agg1")})
FAILURES = "run/rig-4/failures.json"
QUICK = ("--connect-timeout", "1")

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
        ("ok: 12 switches",),
        {
            "t.yaml": "kind: hpn\nname: x\nsegments: &two 2\nhosts_per_segment: *two\nrails: *two\n"
            "aggs_per_plane: *two\nspeeds: &s {host_gbps: 200, fabric_gbps: 400}\n"
        },
    ),
    Case(
        "integer-of-5000-digits",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "cannot read the value", "line 3"),
        {"t.yaml": _hpn().replace("segments: 2", "segments: " + "9" * 5000)},
    ),
    Case(
        "impossible-date",
        ("validate", "{dir}/t.yaml"),
        2,
        ("t.yaml", "month must be in 1..12", "line 7"),
        {"t.yaml": _hpn() + "when: 2024-13-45\n"},
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

TARGETS = [
    Case(
        "targets-not-a-port",
        ("push", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("t.json", "tor0", "'host:notaport'", "host:port"),
        {"t.yaml": RIG, "t.json": json.dumps({"tor0": "host:notaport"})},
    ),
    Case(
        "targets-unix-no-path",
        ("diff", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("t.json", "tor0", "'unix:'"),
        {"t.yaml": RIG, "t.json": json.dumps({"tor0": "unix:"})},
    ),
    Case(
        "targets-number",
        ("status", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("t.json", "tor0", "a string"),
        {"t.yaml": RIG, "t.json": json.dumps({"tor0": 5})},
    ),
    Case(
        "targets-port-too-big",
        ("push", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("t.json", "tor0", "70000"),
        {"t.yaml": RIG, "t.json": json.dumps({"tor0": "127.0.0.1:70000"})},
    ),
    Case(
        "targets-unknown-switch",
        ("push", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("t.json", "unknown switch", "tor9"),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE[:-1] + ', "tor9": "127.0.0.1:1"}'},
    ),
    Case(
        "targets-missing-switch",
        ("push", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("t.json", "no address", "agg1"),
        {"t.yaml": RIG, "t.json": json.dumps({"tor0": NOWHERE, "tor1": NOWHERE, "agg0": NOWHERE})},
        absent=("127.0.0.1",),
    ),
    Case(
        "targets-not-json",
        ("push", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("t.json", "not JSON", "line 2"),
        {"t.yaml": RIG, "t.json": '{"tor0":\n  nope}'},
    ),
    Case(
        "targets-a-list",
        ("push", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("t.json", "object"),
        {"t.yaml": RIG, "t.json": "[]"},
    ),
    Case(
        "targets-no-such-file",
        ("push", "{dir}/t.yaml", "--targets", "{dir}/nope.json"),
        2,
        ("nope.json", "no such targets file"),
        {"t.yaml": RIG},
    ),
    Case(
        "host-and-targets",
        ("push", "{dir}/t.yaml", "--host", "127.0.0.1", "--targets", "{dir}/t.json"),
        2,
        ("--host", "--targets"),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE},
        absent=("no such targets file",),
    ),
    Case(
        "host-with-port",
        ("push", "{dir}/t.yaml", "--host", "127.0.0.1:50001"),
        2,
        ("--host", "127.0.0.1:50001", "port"),
        {"t.yaml": RIG},
    ),
    Case(
        "host-bad-name",
        ("status", "{dir}/t.yaml", "--host", "not a host!"),
        2,
        ("--host", "'not a host!'"),
        {"t.yaml": RIG},
    ),
    Case(
        "host-ipv6-bracketed",
        ("status", "{dir}/t.yaml", "--host", "::1", "--switch", "tor0", *QUICK),
        3,
        ("[::1]:50001",),
        {"t.yaml": RIG},
        absent=("::1:50001",),
    ),
]

SWITCH_SELECTION = [
    Case(
        "push-no-such-switch",
        ("push", "{dir}/t.yaml", "--switch", "nosuch", "--targets", "{dir}/t.json"),
        2,
        ("no such switch", "nosuch"),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE},
    ),
    Case(
        "diff-no-such-switch",
        ("diff", "{dir}/t.yaml", "--switch", "nosuch", "--targets", "{dir}/t.json"),
        2,
        ("no such switch", "nosuch"),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE},
    ),
    Case(
        "push-switch-that-is-down",
        ("push", "{dir}/t.yaml", "--switch", "agg0", "--failed-switch", "agg0", "--targets", "{dir}/t.json"),
        2,
        ("agg0", "down"),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE},
    ),
    Case(
        "plan-one-switch",
        ("plan", "{dir}/t.yaml", "--switch", "tor1"),
        0,
        ("tor1",),
        {"t.yaml": RIG},
        absent=("tor0", "agg0", "agg1"),
    ),
]

OUTPUT = [
    Case(
        "diff-p4info-missing",
        ("diff", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("nope.p4info.txtpb", "make p4"),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE},
        patch=lambda mp, d: mp.setattr("hpn.cli.common.P4INFO_PATH", d / "nope.p4info.txtpb"),
    ),
    Case(
        "diff-p4info-mismatch",
        ("diff", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("does not match",),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE},
        patch=_p4info(FOREIGN_P4INFO),
    ),
    Case(
        "push-p4info-mismatch",
        ("push", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("does not match",),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE},
        patch=_p4info(FOREIGN_P4INFO),
    ),
    Case(
        "push-unreachable-said-once",
        ("push", "{dir}/t.yaml", "--targets", "{dir}/t.json", *QUICK),
        3,
        ("unreachable",),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE},
        absent=("retrying", "kept", "Traceback"),
        once=("tor0 (unix:",),
    ),
    Case(
        "status-unreachable",
        ("status", "{dir}/t.yaml", "--targets", "{dir}/t.json", *QUICK),
        3,
        ("unreachable",),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE},
        absent=("retrying", " 0 "),
        once=("tor0 (unix:",),
    ),
    Case(
        "diff-unreachable",
        ("diff", "{dir}/t.yaml", "--targets", "{dir}/t.json", *QUICK),
        3,
        ("unreachable",),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE},
        absent=("retrying",),
        once=("tor0 (unix:",),
    ),
    Case(
        "connect-timeout-nan",
        ("push", "{dir}/t.yaml", "--targets", "{dir}/t.json", "--connect-timeout", "nan"),
        2,
        ("--connect-timeout", "nan"),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE},
    ),
]

FAILURE_STATE = [
    Case(
        "link-down-nothing-reachable",
        ("link", "down", "{dir}/t.yaml", "tor0:129", "--targets", "{dir}/t.json", *QUICK),
        3,
        ("no switch", "reachable", "not recorded"),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE},
        after=_no_failure_file,
    ),
    Case(
        "plan-says-it-applies-failures",
        ("plan", "{dir}/t.yaml"),
        0,
        ("failures.json", "link tor0:129--agg0:1 down"),
        {"t.yaml": RIG, FAILURES: json.dumps({"links": ["tor0:129"], "switches": []})},
    ),
    Case(
        "push-says-it-applies-failures",
        ("push", "{dir}/t.yaml", "--targets", "{dir}/t.json", *QUICK),
        3,
        ("failures.json", "switch agg1 down"),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE, FAILURES: json.dumps({"links": [], "switches": ["agg1"]})},
    ),
    Case(
        "failures-not-json",
        ("plan", "{dir}/t.yaml"),
        2,
        ("failures.json", "not JSON"),
        {"t.yaml": RIG, FAILURES: "{links: "},
    ),
    Case(
        "failures-wrong-type",
        ("plan", "{dir}/t.yaml"),
        2,
        ("failures.json", "links", "list"),
        {"t.yaml": RIG, FAILURES: json.dumps({"links": 5})},
    ),
    Case(
        "failures-not-strings",
        ("diff", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("failures.json", "links", "string"),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE, FAILURES: json.dumps({"links": [1]})},
    ),
    Case(
        "failures-a-list",
        ("plan", "{dir}/t.yaml"),
        2,
        ("failures.json", "object"),
        {"t.yaml": RIG, FAILURES: "[]"},
    ),
    Case(
        "failures-stale-link",
        ("plan", "{dir}/t.yaml"),
        2,
        ("failures.json", "tor0:77", "hpnctl link up"),
        {"t.yaml": RIG, FAILURES: json.dumps({"links": ["tor0:77"], "switches": []})},
    ),
    Case(
        "failures-stale-switch",
        ("push", "{dir}/t.yaml", "--targets", "{dir}/t.json"),
        2,
        ("failures.json", "nosuch"),
        {"t.yaml": RIG, "t.json": ALL_NOWHERE, FAILURES: json.dumps({"links": [], "switches": ["nosuch"]})},
    ),
    Case(
        "link-unknown-link-writes-nothing",
        ("link", "down", "{dir}/t.yaml", "tor0:77", "--no-apply"),
        2,
        ("tor0:77",),
        {"t.yaml": RIG},
        after=_nothing_in_run_dir,
    ),
    Case(
        "run-dir-is-a-file",
        ("link", "down", "{dir}/t.yaml", "tor0:129", "--no-apply"),
        2,
        ("failures.json", "cannot", "Not a directory"),
        {"t.yaml": RIG, "run": "not a directory"},
    ),
]

CASES = [*TOPOLOGY_BYTES, *YAML_ALIASES, *COUNTS, *TARGETS, *SWITCH_SELECTION, *OUTPUT, *FAILURE_STATE]


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
    result = CliRunner().invoke(app, argv)
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
    if case.after is not None:
        case.after(case_dir)


def test_plan_json_with_check_prints_only_json_on_stdout(case_dir: Path) -> None:
    (case_dir / "t.yaml").write_text(MINI)
    result = CliRunner().invoke(app, ["plan", str(case_dir / "t.yaml"), "--entries", "json", "--check"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) >= {"tor-s0-r0-p0", "agg-p1-a1"}
    assert "reachability:" in result.stderr


def test_messages_and_tables_are_not_wrapped_when_piped(case_dir: Path) -> None:
    deep = case_dir / ("a-directory-with-a-long-name-" * 3)
    deep.mkdir()
    (deep / "rig.yaml").write_text(RIG)
    result = CliRunner().invoke(app, ["validate", str(deep / "rig.yaml")])
    assert result.exit_code == 0, result.output
    line = f"{deep / 'rig.yaml'}: ok: 4 switches (2 ToRs, 2 aggs), 2 hosts, 2 NICs, planes [0]"
    assert len(line) > 100 and line in result.stdout.splitlines()


def test_the_real_p4info_is_the_default() -> None:
    from hpn.cli import common

    assert common.P4INFO_PATH == P4INFO_PATH

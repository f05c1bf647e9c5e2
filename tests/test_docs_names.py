"""Every name a doc puts in backticks exists in the code (tests/doc_names.py reads them).

File paths exist (or, for files made at run time, the code names them); hpn module paths
import; P4Info objects are in a committed P4Info; make targets are Makefile targets;
hpnctl commands and their options are hpnctl's; flags, YAML keys and identifiers occur
in the code (controller/, p4src/, bench/, tools/, ptf_tests/, the Makefile). The few
names that are no code of this repository are listed in NOT_CODE, each with the reason.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import typer.main

from doc_names import DOCS, ROOT, CodeTree, Span, kind, spans
from hpn.cli import app

_HPCC_REFERENCE = (
    "a name in the HPCC reference simulator's C++, which docs/hpcc.md and docs/int.md compare with"
)
NOT_CODE = {
    "p4lang/behavioral-model": "a GitHub repository (bmv2), where the README says to get it",
    "p4lang/p4c": "a GitHub repository (p4c), where the README says to get it",
    "-DENABLE_TOFINO=ON": "a CMake option of p4c's build, which docs/tofino.md says how to make",
    "-p0": "the suffix of a generated ToR name (tor-s{s}-r{r}-p{p}), not an option",
    "-p1": "the suffix of a generated ToR name (tor-s{s}-r{r}-p{p}), not an option",
    "-- --cpu-port 510": "bmv2's command line, a trap docs/traps.md describes (hpn.netlab.bmv2 builds it)",
    "pibmv2::GroupSelection::GroupInfo::get_from_hash": "the bmv2 PI function that crashes (bmv2's code)",
    "fixLimits": "Mininet's machine-wide tuning, which the emulation does not run",
    "preexec_fn": "the subprocess argument the code avoids (docs/traps.md says why)",
    "Resv8a": "the IBTA name of the BTH byte the INT bits live in",
    "c_uint64": "the ctypes type tests/test_int_codec.py models the reference's bit-fields with",
    "uint16_t nhop": "a C declaration of the reference's IntHeader",
    "uint32_t": "a C type of the reference's structs",
    "uint64_t": "a C type of the reference's structs",
    "simulation/mix/config.txt": _HPCC_REFERENCE,
    "simulation/src/network/utils/int-header.h": _HPCC_REFERENCE,
    "int-header.cc": _HPCC_REFERENCE,
    "switch-node.cc": _HPCC_REFERENCE,
    "IntHeader::Serialize": _HPCC_REFERENCE,
    "WriteU32": _HPCC_REFERENCE,
    "SwitchNotifyDequeue": _HPCC_REFERENCE,
    "Simulator::Now()": _HPCC_REFERENCE,
    "m_txBytes": _HPCC_REFERENCE,
    "incStage": _HPCC_REFERENCE,
    "INT_MULTI": _HPCC_REFERENCE,
}
"""Names in backticks that are not this repository's code, with why a doc names them."""

TREE = CodeTree()


def _modules(text: str) -> str | None:
    """None when the dotted path imports (a module, then attributes), else the problem."""
    parts = text.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return f"{'.'.join(parts[:i])} has no {'.'.join(parts[i:])}"
            obj = getattr(obj, attr)
        return None
    return "does not import"


def check_path(span: Span) -> str | None:
    if re.search(r"<[^<>]*>|\{[^{}]*\}", span.text):  # a pattern: its fixed words must be the code's
        literal = re.sub(r"<[^<>]*>|\{[^{}]*\}", " ", span.text)
        missing = [w for w in re.findall(r"[A-Za-z_][\w-]+", literal) if w not in TREE.text]
        return f"no code mentions {missing}" if missing else None
    if TREE.has_path(span.text, span.doc) or Path(span.text).name in TREE.text:
        return None  # a file of the tree, or one the code makes at run time
    return "no such file, and no code names it"


def check_module(span: Span) -> str | None:
    return _modules(span.text)


def check_dotted(span: Span) -> str | None:
    """`module.name` or `Class.attribute`: the name is in that module's or class's file."""
    head, *rest = span.text.split("(", 1)[0].split(".")
    spec = importlib.util.find_spec(head)
    if spec is not None and spec.origin and not Path(spec.origin).is_relative_to(ROOT):
        return _modules(span.text.split("(", 1)[0])  # a library's: the attribute must exist
    homes = [p for p in TREE.files if p.suffix == ".py" and p.stem == head]
    homes += TREE.definitions.get(head, [])
    if homes:
        found = any(rest[0] in re.findall(r"\w+", TREE.read(p)) for p in homes)
        return None if found else f"{rest[0]} is in no file of {head}"
    missing = [w for w in (head, *rest) if w not in TREE.words]
    return f"no code has {missing}" if missing else None


def check_words(span: Span) -> str | None:
    """An identifier (with call arguments, an index or type parameters) or a C++ name."""
    names = re.findall(r"[A-Za-z_]\w*", re.split(r"[(\[<]", span.text, maxsplit=1)[0])
    missing = [n for n in names if n not in TREE.words]
    return f"no code has {missing}" if missing else None


def check_yaml_key(span: Span) -> str | None:
    key = span.text.split(":", 1)[0]
    return None if key in TREE.words else f"no code has the key {key}"


def hpnctl_options() -> set[str]:
    """Every option of every hpnctl command (typer makes them from parameter names)."""
    out: set[str] = set()
    todo = [typer.main.get_command(app)]
    while todo:
        command = todo.pop()
        out |= {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        todo += getattr(command, "commands", {}).values()
    return out


def check_flag(span: Span) -> str | None:
    flags = [w.split("=", 1)[0] for w in span.text.split() if re.match(r"-[-A-Za-z]", w)]
    missing = [f for f in flags if f not in TREE.text and f not in hpnctl_options()]
    return f"no code passes {missing}" if missing else None


def check_keyword(span: Span) -> str | None:
    name = span.text.split("=", 1)[0]
    return None if name in TREE.words else f"no code has {name}"


def check_script(span: Span) -> str | None:
    script, *args = span.text.split()
    if not (ROOT / script).is_file():
        return f"no script {script}"
    missing = [a for a in args if a.startswith("-") and a not in TREE.read(ROOT / script)]
    return f"{script} takes no {missing}" if missing else None


def check_command(span: Span) -> str | None:
    """A program (a word or quoted name the code uses), its options and any hpn module in it."""
    program, *args = span.text.replace("\\|", "|").split()
    if program not in (TREE.words if re.fullmatch(r"\w+", program) else TREE.text):
        return f"no code runs {program}"
    for arg in args:
        if re.fullmatch(r"--?[A-Za-z][\w-]*", arg) and arg not in TREE.text and arg not in hpnctl_options():
            return f"no code passes {arg}"
        if re.fullmatch(r"hpn(\.\w+)+", arg) and _modules(arg):
            return f"{arg}: {_modules(arg)}"
    return None


def check_p4info(span: Span) -> str | None:
    """`table HpnIngress.control.name`: the controls are the code's, the name a P4 declaration's."""
    *controls, name = span.text.rsplit(" ", 1)[1].split(".")
    p4 = "\n".join(TREE.read(p) for p in TREE.files if p.suffix == ".p4" and "p4src" in p.parts)
    missing = [c for c in controls if c not in TREE.words]
    if not re.search(rf"\b{name}\s*(;|\{{|\()", p4):
        missing.append(name)
    return f"no P4 declares {missing}" if missing else None


def check_make(span: Span) -> str | None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w.-]+):", makefile, re.M))
    problems = []
    for word in span.text.split()[1:]:
        if "=" in word:
            if word.split("=", 1)[0] not in makefile:
                problems.append(f"the Makefile has no variable {word.split('=', 1)[0]}")
        elif word not in targets:
            problems.append(f"the Makefile has no target {word}")
    return "; ".join(problems) or None


def check_hpnctl(span: Span) -> str | None:
    command = typer.main.get_command(app)
    path = "hpnctl"
    for word in span.text.replace("\\|", "|").split()[1:]:
        subcommands: dict[str, typer.core.TyperCommand] | None = getattr(command, "commands", None)
        if word.startswith("-"):
            options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            if word.split("=", 1)[0] not in options:
                return f"{path} has no option {word}"
        elif subcommands is not None:
            missing = [w for w in word.split("|") if w not in subcommands]
            if missing:
                return f"{path} has no command {missing}"
            if "|" in word:
                return None  # alternatives: each exists, and what follows is theirs
            command = subcommands[word]
            path += f" {word}"
    return None


def check_python_m(span: Span) -> str | None:
    words = span.text.replace("\\|", "|").split()
    module = words[2]
    if _modules(module):
        return f"{module} does not import"
    for word in words[3:]:
        if word.startswith("-"):
            if word not in TREE.text:
                return f"no code has the option {word}"
        elif re.fullmatch(r"[a-z][\w|]*", word):
            missing = [w for w in word.split("|") if f'"{w}"' not in TREE.text]
            if missing:
                return f"{module} has no command {missing}"
    return None


CHECKS: dict[str, Callable[[Span], str | None]] = {
    "path": check_path,
    "module": check_module,
    "dotted": check_dotted,
    "c++": check_words,
    "identifier": check_words,
    "yaml key": check_yaml_key,
    "flag": check_flag,
    "p4info": check_p4info,
    "make": check_make,
    "hpnctl": check_hpnctl,
    "python -m": check_python_m,
    "keyword": check_keyword,
    "script": check_script,
    "command": check_command,
}


def stale(docs: tuple[Path, ...] = DOCS) -> list[str]:
    out = []
    for doc in docs:
        for span in spans(doc):
            what = kind(span.text)
            if what is None or span.text in NOT_CODE:
                continue
            problem = CHECKS[what](span)
            if problem:
                out.append(f"{span} ({what}): {problem}")
    return out


def test_every_name_in_the_docs_exists_in_the_code() -> None:
    assert stale() == []


def test_every_not_code_entry_is_still_used() -> None:
    used = {span.text for doc in DOCS for span in spans(doc)}
    assert sorted(set(NOT_CODE) - used) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("controller/hpn/no_such.py", "(path): no such file, and no code names it"),
        ("hpn.pipeline.no_such", "(module): hpn.pipeline has no no_such"),
        ("hpn.no_such_part.x", "(module): hpn has no no_such_part.x"),
        ("plan.no_such_function", "(dotted): no_such_function is in no file of plan"),
        ("port_liveness", "(identifier): no code has ['port_liveness']"),
        ("make no-such-target", "(make): the Makefile has no target no-such-target"),
        ("hpnctl push --no-such-option", "(hpnctl): hpnctl push has no option --no-such-option"),
        ("hpnctl emulate up\\|sideways", "(hpnctl): hpnctl emulate has no command ['sideways']"),
        ("table HpnIngress.no_such", "(p4info): no P4 declares ['no_such']"),
        ("--no-such-flag", "(flag): no code passes ['--no-such-flag']"),
        ("no_such_argument=1", "(keyword): no code has no_such_argument"),
        ("bench/bench_push.py --no-such-flag", "(script): bench/bench_push.py takes no ['--no-such-flag']"),
        ("ip netns exec X python -m hpn.no_such", "(command): hpn.no_such: hpn has no no_such"),
    ],
)
def test_a_stale_name_is_named(tmp_path: Path, text: str, expected: str) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"Intro.\n\nSee `{text}` and\n`hpn.pipeline.buckets` (which exists).\n")
    assert [s.split(": ", 1)[1] for s in stale((doc,))] == [f"`{text}` {expected}"]


def test_spans_are_read_as_markdown_reads_them(tmp_path: Path) -> None:
    text = "a `one\ntwo` b ``x ` y`` c\n\n```\n`not a span`\n```\n`three`\n"
    assert [(s.line, s.text) for s in spans(tmp_path / "d.md", text)] == [
        (1, "one two"),
        (2, "x ` y"),
        (7, "three"),
    ]

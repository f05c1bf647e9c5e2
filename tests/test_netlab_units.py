"""hpn.netlab on its own: stopping processes, and a switch's start seen on its socket.

The switch tests need root (a namespace) but no bmv2: a stand-in simple_switch_grpc
listens on its gRPC Unix socket, or exits at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpn.netlab.bmv2 import Bmv2Error, Bmv2Switch
from hpn.netlab.netns import Netns, existing_namespaces, require_tools
from hpn.netlab.processes import terminate, wait_gone

IGNORES_TERM = (
    "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); signal.pause()"
)
STOPS_ON_TERM = "import signal; print('ready', flush=True); signal.pause()"


def started(code: str) -> subprocess.Popen[str]:
    """A Python child that has run `code` up to its 'ready' line."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def test_terminate_stops_on_term_and_kills_what_ignores_it() -> None:
    polite, stubborn = started(STOPS_ON_TERM), started(IGNORES_TERM)
    killed = terminate([polite.pid, stubborn.pid], timeout=1.0)
    assert killed == [stubborn.pid]
    assert polite.poll() is not None and stubborn.poll() is not None
    assert wait_gone([polite.pid, stubborn.pid], 0.0) == [], "both reaped: nothing left to wait for"


def test_wait_gone_returns_what_still_runs() -> None:
    proc = started(STOPS_ON_TERM)
    try:
        assert wait_gone([proc.pid], 0.0) == [proc.pid]
    finally:
        terminate([proc.pid])
    assert proc.wait() is not None


STAND_IN = {
    "listens": textwrap.dedent(
        """\
        #!/usr/bin/env python3
        import signal, socket, sys
        addr = sys.argv[sys.argv.index("--grpc-server-addr") + 1].removeprefix("unix:")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(addr)
        sock.listen(8)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            sock.accept()[0].close()
        """
    ),
    "exits": "#!/bin/sh\necho 'no such interface' >&2\nexit 1\n",
}
needs_root = pytest.mark.skipif(bool(require_tools()), reason="; ".join(require_tools()) or "ok")


@pytest.fixture
def netns() -> Iterator[Netns]:
    ns = Netns(f"hpnl{os.getpid() % 100000}")
    assert not ns.exists()
    ns.create()
    try:
        yield ns
    finally:
        ns.delete()
        assert ns.name not in existing_namespaces()


def stand_in_switch(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, netns: Netns) -> Bmv2Switch:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "simple_switch_grpc").write_text(STAND_IN[kind])
    (bin_dir / "simple_switch_grpc").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return Bmv2Switch("sw", netns, {}, tmp_path / "run")


@needs_root
def test_a_switch_is_ready_once_its_socket_accepts_and_stops_on_term(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, netns: Netns
) -> None:
    switch = stand_in_switch("listens", tmp_path, monkeypatch, netns)
    switch.start(timeout=30.0)
    try:
        assert switch.listening() and switch.alive()
    finally:
        switch.stop()
    assert switch.pid is None and not switch.listening()


@needs_root
def test_a_switch_that_exits_during_start_says_so_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, netns: Netns
) -> None:
    switch = stand_in_switch("exits", tmp_path, monkeypatch, netns)
    with pytest.raises(Bmv2Error, match=r"exited during start(.|\n)*no such interface"):
        switch.start(timeout=30.0)
    switch.stop()

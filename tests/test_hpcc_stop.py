"""An agent told to stop at any moment still ends with a summary on stdout."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from hpn.hpcc.cli import main
from hpn.hpcc.stopping import StopSignals, stop_signals_blocked

AGENT = [sys.executable, "-m", "hpn.hpcc"]
SEND = ["send", "--ip", "127.0.0.3", "--to", "127.0.0.2", "--sport", "0"]
DEADLINE_S = 60.0
"""Upper bound on the agent's exit (a failure, not a synchronisation)."""


def test_a_sender_stopped_as_it_starts_writes_a_summary() -> None:
    # SIGTERM as soon as the process exists: long before it could have imported anything.
    # Its --duration only bounds a sender that ignored the stop.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.2", 0))
        send = [*AGENT, *SEND, "--port", str(sink.getsockname()[1]), "--duration", str(DEADLINE_S / 2)]
        with stop_signals_blocked():
            proc = subprocess.Popen(send, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["role"] == "send"
    assert summary["stopped_by"] == "SIGTERM"


def test_a_stop_before_the_agent_starts_is_said_in_its_summary(capsys: pytest.CaptureFixture[str]) -> None:
    stop = StopSignals()
    stop.event.set()
    stop.signal = "SIGTERM"
    assert main([*SEND, "--port", "4791"], stop=stop) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"role": "send", "started": False, "stopped_by": "SIGTERM"}
    assert err == ""  # no socket was bound, so it never said it was ready


def test_the_stop_signals_are_blocked_only_inside() -> None:
    with stop_signals_blocked():
        assert signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])

"""The emulation process's control socket: one JSON request, one JSON answer, per connection.

Requests are `{"op": ..., ...}` lines; answers are `{"ok": true, ...}` or
`{"ok": false, "error": "..."}`. Operations (served by hpn.emulation.daemon):

| op | arguments | does |
| --- | --- | --- |
| `status` | | phase, switch processes, failure view, unplugged cables |
| `failures` | `links`, `switches`; `cables`, `hosts` | cables to match (unplug/plug), then hosts' routes |
| `kill` | `switch` | SIGKILL that switch's bmv2 (a crash) |
| `start` | `switch` | start that switch's bmv2 again; answers once it listens |
| `stop` | | stop everything it started and exit |

`cables` and `hosts` (both true by default) select what `failures` changes.

Plain sockets only: safe to use from a process that holds gRPC channels.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CONTROL_SOCKET = "emulation.sock"
DEFAULT_TIMEOUT = 30.0
MAX_MESSAGE = 1 << 20


class ControlError(RuntimeError):
    """The emulation process could not be reached, or refused the request."""


def _recv_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_MESSAGE:
            raise ControlError("control message too long")
    return data


def request(path: Path, op: str, timeout: float = DEFAULT_TIMEOUT, **args: Any) -> dict[str, Any]:
    """Send one request to the control socket at `path` and return the answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            sock.sendall(json.dumps({"op": op, **args}).encode() + b"\n")
            raw = _recv_line(sock)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise ControlError(f"no emulation process listens on {path} ({exc.strerror})") from None
        except TimeoutError:
            raise ControlError(f"{op}: no answer from the emulation process within {timeout}s") from None
        except OSError as exc:
            raise ControlError(f"{op}: {exc}") from None
    try:
        answer = json.loads(raw)
    except ValueError:
        raise ControlError(f"{op}: the emulation process closed the connection without an answer") from None
    if not isinstance(answer, dict):
        raise ControlError(f"{op}: malformed answer {raw[:200]!r}")
    if not answer.get("ok"):
        raise ControlError(f"{op}: {answer.get('error', 'refused')}")
    return answer


def running(run_dir: Path) -> bool:
    """Whether an emulation process answers in `run_dir`."""
    try:
        request(run_dir / CONTROL_SOCKET, "status", timeout=5.0)
    except ControlError:
        return False
    return True


def apply_failures(
    run_dir: Path, links: Sequence[str], switches: Sequence[str], cables: bool = True, hosts: bool = True
) -> list[str] | None:
    """Make a running emulation's cables and/or host routes follow a failure view.

    Returns what changed (readable lines), or None when no emulation runs in
    `run_dir`. Used by `hpnctl link down|up`: going down, both at once before
    the push; coming back, cables before the push and hosts after it.
    """
    path = run_dir / CONTROL_SOCKET
    if not path.exists():
        return None
    try:
        answer = request(
            path, "failures", links=list(links), switches=list(switches), cables=cables, hosts=hosts
        )
    except ControlError:
        if not running(run_dir):
            return None
        raise
    return [str(line) for line in answer.get("changes", [])]


def serve_one(conn: socket.socket, handle: Any) -> bool:
    """Answer one request on an accepted connection; False when the op was `stop`."""
    conn.settimeout(10.0)
    try:
        raw = _recv_line(conn)
        req = json.loads(raw)
        op = str(req.pop("op"))
    except (ValueError, KeyError, TypeError, AttributeError, OSError, ControlError) as exc:
        _answer(conn, {"ok": False, "error": f"bad request: {exc}"})
        return True
    try:
        answer = handle(op, req)
        answer.setdefault("ok", True)
    except Exception as exc:  # every failure goes back to the caller, readable
        answer = {"ok": False, "error": str(exc) or type(exc).__name__}
    _answer(conn, answer)
    return op != "stop"


def _answer(conn: socket.socket, answer: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # the caller went away: nothing to tell
        conn.sendall(json.dumps(answer).encode() + b"\n")

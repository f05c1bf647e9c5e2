"""Start a program in its own session with its output appended to a log file.

posix_spawn, not fork: the caller may already hold gRPC channels, and gRPC's
threads + fork() deadlock (docs/traps.md).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path


def spawn_logged(argv: Sequence[str], log_path: Path, pass_fds: Sequence[tuple[int, int]] = ()) -> int:
    """Spawn argv with stdin from /dev/null, stdout+stderr appended to log_path.

    pass_fds: (our fd, fd number in the child) pairs. The child gets its own
    session, so a Ctrl-C at the terminal reaches the caller, which stops it.
    """
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        return os.posix_spawn(
            shutil.which(argv[0]) or argv[0],
            list(argv),
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
                *((os.POSIX_SPAWN_DUP2, ours, theirs) for ours, theirs in pass_fds),
            ],
            setsid=True,
        )
    finally:
        os.close(log_fd)

"""Reading a topology file: a regular file of bounded size, decoded as UTF-8.

Each refusal is a `Problem` naming the line where that can be told: a FIFO would
block the reader forever and /dev/zero never ends, so only regular files are
read; UTF-16 files and files holding NUL bytes are named as such rather than
failing somewhere inside the YAML parser.
"""

from __future__ import annotations

import codecs
import os
import stat

from hpn.topology.errors import Problem, TopologyError

MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest topology file read (an explicit file of a full pod is about 30 MB)."""

_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_topology_text(file: str) -> str:
    """The text of the topology file at `file` (TopologyError naming what is wrong)."""
    return decode_topology(_read_bytes(file), file)


def _fail(file: str, message: str, line: int | None = None) -> TopologyError:
    return TopologyError(file, [Problem((), message, line)])


def _read_bytes(file: str) -> bytes:
    try:
        # Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise _fail(file, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
            raise _fail(file, f"not a regular file ({kind}): a topology is read from a file")
        if info.st_size > MAX_FILE_BYTES:
            raise _too_big(file)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _fail(file, f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:  # it grew while being read
        raise _too_big(file)
    return data


def _too_big(file: str) -> TopologyError:
    return _fail(file, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: not a topology file")


def decode_topology(data: bytes, file: str) -> str:
    """`data` as text: UTF-8 (a UTF-8 byte-order mark is allowed), no NUL bytes."""
    for bom, name in _WIDE_BOMS:
        if data.startswith(bom):
            raise _fail(file, f"the file is {name} text; topologies are UTF-8 (save it as UTF-8)")
    nul = data.find(b"\x00")
    if nul >= 0:
        line, column = _position(data, nul)
        raise _fail(
            file,
            f"NUL byte at column {column}: not UTF-8 text "
            "(a binary file, or UTF-16 without a byte-order mark?)",
            line,
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        raise _fail(file, f"not UTF-8 text: byte {data[exc.start]:#04x} at column {column}", line) from None


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based (line, column in bytes) of byte `offset`."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1

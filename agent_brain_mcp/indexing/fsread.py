"""Reading files of a tree that may change under us or be built to hurt.

Every file is opened one folder at a time from the indexed root with ``O_NOFOLLOW`` (a file or a
folder swapped for a symlink after the walk is refused, so nothing outside the root is read) and
``O_NONBLOCK`` (a FIFO cannot block the open); the opened descriptor must be a regular file
(``fstat``), and no read goes past the size limit. File names that are not valid UTF-8 get a
printable, lossless spelling for paths shown and stored.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | _CLOEXEC
_READ_CHUNK = 1 << 20


class Unreadable(Exception):
    """The file cannot (or must not) be read; the message is the reason shown to the user."""


class TooLarge(Unreadable):
    """The file holds more than the limit."""


def read_beneath(root: Path, rel_parts: tuple[str, ...], max_bytes: int) -> bytes:
    """The bytes of the regular file ``root/rel_parts``, at most ``max_bytes`` of them.

    No symlink is followed below ``root``; FIFOs, sockets and devices are refused without
    blocking. Raises ``TooLarge`` past ``max_bytes`` and ``Unreadable`` with a reason otherwise.
    """
    if not rel_parts:
        raise Unreadable("is a folder")
    fd = _open_file_beneath(root, rel_parts)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise Unreadable("is a folder")
        if not stat.S_ISREG(st.st_mode):
            raise Unreadable("not a regular file (FIFO, socket or device)")
        return _read_bounded(fd, max_bytes)
    except OSError as exc:
        raise Unreadable(_reason(exc)) from None
    finally:
        os.close(fd)


def _open_file_beneath(root: Path, rel_parts: tuple[str, ...]) -> int:
    try:
        folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    except OSError as exc:
        raise Unreadable(_reason(exc)) from None
    try:
        for part in rel_parts[:-1]:
            child = os.open(part, _DIR_FLAGS, dir_fd=folder)
            os.close(folder)
            folder = child
        return os.open(rel_parts[-1], _FILE_FLAGS, dir_fd=folder)
    except OSError as exc:
        raise Unreadable(_reason(exc)) from None
    finally:
        os.close(folder)


def _read_bounded(fd: int, max_bytes: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got <= max_bytes:
        block = os.read(fd, min(_READ_CHUNK, max_bytes + 1 - got))
        if not block:
            break
        parts.append(block)
        got += len(block)
    if got > max_bytes:
        raise TooLarge(f"too large (> {max_bytes} bytes)")
    return b"".join(parts)


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return "symlink (the file or a folder above it was replaced by a symlink since the walk)"
    if exc.errno == errno.ENOENT:
        return "disappeared while indexing"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EISDIR:
        return "is a folder"
    return f"unreadable ({exc.strerror or exc})"


def printable_path(rel: str) -> str:
    """``rel`` itself when it is valid UTF-8; else its bytes with ``\\xNN`` for each byte that is not
    UTF-8 and ``\\\\`` for a backslash, so that the original bytes can be recovered."""
    if is_unicode(rel):
        return rel
    try:
        raw = rel.encode("utf-8", "surrogateescape")  # the name's bytes, as os.fsencode gives them
    except UnicodeEncodeError:  # a surrogate no file system produced: show it escaped
        return rel.encode("utf-8", "backslashreplace").decode("ascii")
    return raw.replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")


def is_unicode(text: str) -> bool:
    """False for a string holding lone surrogates (undecodable bytes of a name or argv, a JSON escape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

"""Read a file as text: detect binary content, survive any encoding, normalise line endings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from agent_brain_mcp.indexing.fsread import TooLarge, Unreadable, read_beneath

_SNIFF_BYTES = 8192


class SkipFile(Exception):
    """The file is not indexable; the message is the reason shown to the user."""


@dataclass(frozen=True)
class FileText:
    text: str
    sha256: str
    encoding: str


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def looks_binary(head: bytes) -> bool:
    """NUL bytes, or mostly control characters, in the first block."""
    if not head:
        return False
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return control / len(head) > 0.3


def decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding used: UTF-8 (with or without BOM), UTF-16 with BOM, else Latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        # Latin-1 maps every byte, so legacy files are still searchable rather than dropped.
        return data.decode("latin-1"), "latin-1"


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(path: Path, max_bytes: int, root: Path | None = None) -> FileText:
    """The file's text and content hash; raises ``SkipFile`` with a reason.

    With ``root``, no symlink below it is followed (see ``fsread``); without, only the file
    itself must not be a symlink. FIFOs and devices are refused without blocking.
    """
    base, parts = (root, path.relative_to(root).parts) if root is not None else (path.parent, (path.name,))
    try:
        data = read_beneath(base, parts, max_bytes)
    except TooLarge:
        raise SkipFile(f"too large (> indexing.max_file_bytes={max_bytes})") from None
    except Unreadable as exc:
        raise SkipFile(str(exc)) from None
    is_utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not is_utf16 and looks_binary(data[:_SNIFF_BYTES]):
        raise SkipFile("binary")
    text, encoding = decode(data)
    return FileText(normalise_newlines(text), content_hash(data), encoding)

"""Jupyter notebooks: index the source of code and Markdown cells, at the lines it occupies in the file.

A notebook is JSON: the text an agent wants is each cell's ``source`` (a string or, as Jupyter writes
it, a list of one string per line); outputs and metadata are left out. The file is scanned once with
the positions of the source strings kept, so every chunk's ``start_line``/``end_line`` are the lines
of the ``.ipynb`` as stored on disk that hold that part of the cell. Code cells take the kernel's
language from the notebook metadata; the symbol names the cell (``cell 3``, then any definition).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent_brain_mcp.indexing.languages import MARKDOWN, detect_language

NOTEBOOK = "jupyter"
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


class NotANotebook(ValueError):
    """The text is not notebook JSON (nbformat 4: an object with a ``cells`` list)."""


@dataclass(frozen=True)
class Cell:
    number: int  # 1-based position among all the notebook's cells
    kind: str  # 'code' or 'markdown'
    lines: list[str]  # the cell's source, one item per line
    file_lines: list[int]  # the 1-based line of the .ipynb holding each source line


@dataclass(frozen=True)
class Notebook:
    language: str  # of the code cells
    cells: list[Cell]


class _Scanner:
    """Walks the JSON text along the path to each cell's source; skips everything else in C."""

    def __init__(self, text: str) -> None:
        self.s = text
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    def line_of(self, pos: int) -> int:
        return bisect_right(self._newlines, pos) + 1

    def ws(self, i: int) -> int:
        match = _WS.match(self.s, i)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def expect(self, i: int, char: str) -> int:
        i = self.ws(i)
        if self.s[i : i + 1] != char:
            raise NotANotebook(f"expected {char!r} at offset {i}")
        return i + 1

    def value(self, i: int) -> tuple[Any, int]:
        try:
            return _DECODER.raw_decode(self.s, self.ws(i))
        except json.JSONDecodeError as exc:
            raise NotANotebook(str(exc)) from None

    def members(self, i: int, on_member: Callable[[str, int], int]) -> int:
        """Calls ``on_member(key, value_start)`` (which returns the value's end) for each member."""
        i = self.expect(i, "{")
        if self.s[self.ws(i) : self.ws(i) + 1] == "}":
            return self.ws(i) + 1
        while True:
            i = self.expect(i, '"')
            key, i = _scanstring(self.s, i)
            i = on_member(key, self.ws(self.expect(i, ":")))
            i = self.ws(i)
            if self.s[i : i + 1] != ",":
                return self.expect(i, "}")
            i += 1

    def items(self, i: int, on_item: Callable[[int], int]) -> int:
        """Calls ``on_item(value_start)`` (which returns the value's end) for each array item."""
        i = self.expect(i, "[")
        if self.s[self.ws(i) : self.ws(i) + 1] == "]":
            return self.ws(i) + 1
        while True:
            i = self.ws(on_item(self.ws(i)))
            if self.s[i : i + 1] != ",":
                return self.expect(i, "]")
            i += 1

    def source(self, i: int, into: list[tuple[str, int]]) -> int:
        """Collects (string, line) for a source given as a string or a list of strings."""
        if self.s[i : i + 1] == "[":
            return self.items(i, lambda j: self.source(j, into))
        value, end = self.value(i)
        if not isinstance(value, str):
            raise NotANotebook(f"a cell source at offset {i} is not text")
        into.append((value, self.line_of(i)))
        return end


def parse(text: str) -> Notebook:
    """The notebook's code and Markdown cells with their file lines; raises ``NotANotebook``."""
    scan = _Scanner(text)
    found: list[tuple[dict[str, Any], list[tuple[str, int]]]] = []
    metadata: dict[str, Any] = {}
    has_cells = False

    def cell_member(fields: dict[str, Any], pieces: list[tuple[str, int]]) -> Callable[[str, int], int]:
        def on_member(key: str, i: int) -> int:
            if key == "source":
                return scan.source(i, pieces)
            value, end = scan.value(i)
            if key == "cell_type":
                fields[key] = value
            return end

        return on_member

    def on_cell(i: int) -> int:
        fields: dict[str, Any] = {}
        pieces: list[tuple[str, int]] = []
        end = scan.members(i, cell_member(fields, pieces))
        found.append((fields, pieces))
        return end

    def on_top(key: str, i: int) -> int:
        nonlocal has_cells
        if key == "cells":
            has_cells = True
            return scan.items(i, on_cell)
        value, end = scan.value(i)
        if key == "metadata" and isinstance(value, dict):
            metadata.update(value)
        return end

    try:
        scan.members(0, on_top)
    except (IndexError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotANotebook(str(exc)) from None
    if not has_cells:  # nbformat 3 keeps cells under worksheets: read such a file as plain text
        raise NotANotebook("no top-level 'cells' list")
    cells = [
        Cell(n, fields["cell_type"], *_source_lines(pieces))
        for n, (fields, pieces) in enumerate(found, start=1)
        if fields.get("cell_type") in ("code", "markdown") and "".join(p for p, _ in pieces).strip()
    ]
    return Notebook(kernel_language(metadata), cells)


def _source_lines(pieces: list[tuple[str, int]]) -> tuple[list[str], list[int]]:
    """Split the source strings into lines; each line is placed where its first character is stored."""
    lines: list[str] = []
    where: list[int] = []
    open_line = False  # the last line has not ended yet: the next piece continues it
    for piece, line in pieces:
        parts = piece.split("\n")
        if open_line:
            if not lines[-1]:
                where[-1] = line
            lines[-1] += parts[0]
        else:
            lines.append(parts[0])
            where.append(line)
        for part in parts[1:]:
            lines.append(part)
            where.append(line)
        open_line = True
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
        where.pop()
    return lines, where


def kernel_language(metadata: dict[str, Any]) -> str:
    """The code cells' language: from ``language_info`` or ``kernelspec``; Python when unstated."""
    info = metadata.get("language_info")
    info = info if isinstance(info, dict) else {}
    ext = info.get("file_extension")
    if isinstance(ext, str) and ext.startswith("."):
        by_ext = detect_language("cell" + ext)
        if by_ext != "text":
            return by_ext
    spec = metadata.get("kernelspec")
    spec = spec if isinstance(spec, dict) else {}
    for name in (info.get("name"), spec.get("language")):
        if isinstance(name, str) and name.strip():
            return {"python3": "python", "c++": "cpp", "bash": "shell"}.get(name.lower(), name.lower())
    return "python"


def cell_language(notebook: Notebook, cell: Cell) -> str:
    return MARKDOWN if cell.kind == "markdown" else notebook.language


def relocate(chunk_start: int, chunk_end: int, cell: Cell) -> tuple[int, int]:
    """A chunk's 1-based lines within the cell source -> the lines of the .ipynb file."""
    return cell.file_lines[chunk_start - 1], cell.file_lines[chunk_end - 1]

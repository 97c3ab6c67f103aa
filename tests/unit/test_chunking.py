"""Chunking: exact 1-based line spans, full coverage, size limits, natural boundaries, markdown sections."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_brain_mcp.indexing.chunking import Chunk, ChunkLimits, chunk_text, embedding_text, split_long_line

SMALL = ChunkLimits(max_lines=12, overlap_lines=3, max_chars=400)


def _source_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _assert_spans_exact(text: str, chunks: list[Chunk], limits: ChunkLimits) -> None:
    """Every chunk's text is exactly its source lines; a too-long line may be cut into ordered pieces."""
    lines = _source_lines(text)
    pieces: dict[int, list[str]] = {}
    for chunk in chunks:
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines), chunk
        if chunk.start_line == chunk.end_line and len(lines[chunk.start_line - 1]) > limits.max_chars:
            pieces.setdefault(chunk.start_line, []).append(chunk.text)
            continue
        assert chunk.text == "\n".join(lines[chunk.start_line - 1 : chunk.end_line]), chunk
    for line_no, parts in pieces.items():
        expected = split_long_line(lines[line_no - 1], limits.max_chars)
        assert parts == [p for p in expected if p.strip()], f"line {line_no} is not cut into its pieces in order"
        assert all(len(p) <= limits.max_chars for p in expected) and "".join(expected) == lines[line_no - 1]


def _assert_covers_every_non_blank_line(text: str, chunks: list[Chunk]) -> None:
    lines = _source_lines(text)
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start_line, chunk.end_line + 1))
    missing = [i for i, line in enumerate(lines, start=1) if line.strip() and i not in covered]
    assert not missing, f"lines {missing} are in no chunk"


def _assert_within_limits(chunks: list[Chunk], limits: ChunkLimits) -> None:
    for chunk in chunks:
        assert chunk.end_line - chunk.start_line + 1 <= limits.max_lines, chunk
        assert len(chunk.text) <= limits.max_chars, chunk


PYTHON_MODULE = '''"""A module."""

import os
import sys


def load(path):
    with open(path) as fh:
        return fh.read()


class Store:
    def __init__(self):
        self.items = []

    def add(self, item):
        if item:
            self.items.append(item)
        else:
            raise ValueError("empty")

    def __len__(self):
        return len(self.items)


def main():
    store = Store()
    for arg in sys.argv[1:]:
        store.add(load(arg))
    print(len(store))


if __name__ == "__main__":
    main()
'''


def _numbered(n: int, width: int = 10) -> str:
    return "".join(f"    line_{i:04d} = {'x' * width}\n" for i in range(1, n + 1))


SAMPLES = {
    "python_module": PYTHON_MODULE,
    "indented_block": _numbered(200),
    "no_trailing_newline": "alpha\nbeta\ngamma",
    "blank_runs": "a\n\n\n\nb\n\n\n\n\nc\n",
    "long_lines": "".join(("y" * 90) + "\n" for _ in range(40)),
    "mixed_top_level": "".join(f"stmt_{i} = {i}\n" if i % 7 else f"def f{i}():\n    pass\n" for i in range(80)),
    "minified_in_middle": "start()\n" + ("q" * 1500) + "\nend()\n",
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("language", ["python", "text", "markdown"])
def test_chunk_text_equals_the_joined_source_lines_of_its_span(name: str, language: str) -> None:
    text = SAMPLES[name]
    chunks = chunk_text(text, language, SMALL)
    assert chunks
    _assert_spans_exact(text, chunks, SMALL)


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("language", ["python", "markdown"])
def test_every_non_blank_source_line_is_in_some_chunk(name: str, language: str) -> None:
    text = SAMPLES[name]
    _assert_covers_every_non_blank_line(text, chunk_text(text, language, SMALL))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_windows_never_exceed_max_lines_or_max_chars(name: str) -> None:
    _assert_within_limits(chunk_text(SAMPLES[name], "python", SMALL), SMALL)


def test_default_limits_keep_a_small_module_in_one_chunk_spanning_all_its_lines() -> None:
    chunks = chunk_text(PYTHON_MODULE, "python", ChunkLimits())
    assert len(chunks) == 1
    assert (chunks[0].start_line, chunks[0].end_line) == (1, PYTHON_MODULE.count("\n"))
    assert chunks[0].text == PYTHON_MODULE.rstrip("\n")
    assert chunks[0].symbol == "def load, class Store, def main"  # code: the definitions merged into it


def test_a_trailing_newline_does_not_add_an_empty_last_line() -> None:
    chunks = chunk_text("one\ntwo\n", "python", SMALL)
    assert [(c.start_line, c.end_line, c.text) for c in chunks] == [(1, 2, "one\ntwo")]


def test_empty_text_gives_no_chunks() -> None:
    assert chunk_text("", "python", SMALL) == []
    assert chunk_text("", "markdown", SMALL) == []


@pytest.mark.parametrize("text", ["\n", "\n\n\n", "   \n\t\n  ", " " * 5000, "\n" + "\t" * 3000 + "\n\n"])
@pytest.mark.parametrize("language", ["python", "markdown"])
def test_whitespace_only_text_gives_no_chunks(text: str, language: str) -> None:
    assert chunk_text(text, language, SMALL) == []


# The line windows themselves, on plain text: code is cut along its syntax first (test_code_chunker.py).


def test_a_window_covers_at_most_max_lines_and_consecutive_windows_overlap() -> None:
    limits = ChunkLimits(max_lines=10, overlap_lines=3, max_chars=10_000)
    text = _numbered(50)  # every line indented: no natural boundary anywhere
    chunks = chunk_text(text, "text", limits)
    spans = [(c.start_line, c.end_line) for c in chunks]
    assert spans[0] == (1, 10)
    for (_, prev_end), (start, _) in itertools.pairwise(spans):
        assert start == prev_end - 3 + 1, spans  # exactly overlap_lines lines shared
    assert spans[-1][1] == 50


def test_overlap_zero_gives_back_to_back_windows() -> None:
    limits = ChunkLimits(max_lines=10, overlap_lines=0, max_chars=10_000)
    chunks = chunk_text(_numbered(35), "text", limits)
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 10), (11, 20), (21, 30), (31, 35)]


def test_max_chars_cuts_a_window_before_max_lines() -> None:
    limits = ChunkLimits(max_lines=100, overlap_lines=0, max_chars=100)
    text = "".join("    " + ("z" * 15) + "\n" for _ in range(20))  # 20 chars per line with the newline
    chunks = chunk_text(text, "text", limits)
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 5), (6, 10), (11, 15), (16, 20)]
    assert all(len(c.text) <= 100 for c in chunks)


def test_a_window_prefers_to_end_at_a_blank_line() -> None:
    limits = ChunkLimits(max_lines=10, overlap_lines=2, max_chars=10_000)
    lines = [f"    body_{i}" for i in range(1, 21)]
    lines[7] = ""  # line 8 is blank, inside the second half of the first window
    chunks = chunk_text("\n".join(lines) + "\n", "text", limits)
    assert (chunks[0].start_line, chunks[0].end_line) == (1, 8)
    assert chunks[0].text.endswith("\n")  # the blank line closes the window


def test_a_window_prefers_to_end_just_before_a_top_level_statement() -> None:
    limits = ChunkLimits(max_lines=10, overlap_lines=2, max_chars=10_000)
    lines = [f"    body_{i}" for i in range(1, 21)]
    lines[7] = "def second():"  # line 8 starts a new top-level statement
    chunks = chunk_text("\n".join(lines) + "\n", "text", limits)
    assert (chunks[0].start_line, chunks[0].end_line) == (1, 7)
    # No overlap back into the previous statement when the next window starts at a top-level line.
    assert chunks[1].start_line == 8
    assert chunks[1].text.startswith("def second():")


def test_a_boundary_in_the_first_half_of_the_window_is_not_used() -> None:
    limits = ChunkLimits(max_lines=10, overlap_lines=0, max_chars=10_000)
    lines = [f"    body_{i}" for i in range(1, 21)]
    lines[2] = ""  # line 3: too early to end a 10-line window there
    chunks = chunk_text("\n".join(lines) + "\n", "text", limits)
    assert (chunks[0].start_line, chunks[0].end_line) == (1, 10)


@pytest.mark.parametrize("closer", [")", "]", "}", "else:", "elif x:"])
def test_closing_brackets_and_else_branches_are_not_treated_as_new_statements(closer: str) -> None:
    limits = ChunkLimits(max_lines=10, overlap_lines=0, max_chars=10_000)
    lines = [f"    body_{i}" for i in range(1, 21)]
    lines[7] = closer
    chunks = chunk_text("\n".join(lines) + "\n", "text", limits)
    assert (chunks[0].start_line, chunks[0].end_line) == (1, 10)


def test_a_100k_char_minified_line_is_split_into_pieces_that_all_carry_its_line_number() -> None:
    limits = ChunkLimits(max_lines=60, overlap_lines=10, max_chars=2400)
    minified = "".join(chr(ord("a") + i % 26) for i in range(100_000))
    text = f"// header\n{minified}\n// footer\n"
    chunks = chunk_text(text, "javascript", limits)
    pieces = [c for c in chunks if c.start_line == 2]
    assert all(c.end_line == 2 for c in pieces)
    assert all(len(c.text) <= 2400 for c in pieces)
    assert len(pieces) == -(-100_000 // 2400)
    assert "".join(c.text for c in pieces) == minified
    assert [c.text for c in chunks if c.start_line == 1] == ["// header"]
    assert [c.text for c in chunks if c.start_line == 3] == ["// footer"]


def test_windows_next_to_a_minified_line_never_swallow_it() -> None:
    limits = ChunkLimits(max_lines=20, overlap_lines=5, max_chars=200)
    text = "".join(f"    a_{i}\n" for i in range(8)) + "m" * 1000 + "\n" + "".join(f"    b_{i}\n" for i in range(8))
    chunks = chunk_text(text, "python", limits)
    _assert_spans_exact(text, chunks, limits)
    _assert_within_limits(chunks, limits)
    assert sum(1 for c in chunks if c.start_line == c.end_line == 9) == 5  # 1000 chars / 200


def test_blank_parts_of_a_long_line_do_not_become_chunks() -> None:
    limits = ChunkLimits(max_lines=20, overlap_lines=5, max_chars=200)
    chunks = chunk_text("code()" + " " * 2000 + "\n", "python", limits)
    assert len(chunks) == 1
    assert chunks[0].text.startswith("code()")


def test_no_chunk_merely_repeats_part_of_the_chunk_before_it() -> None:
    limits = ChunkLimits(max_lines=20, overlap_lines=5, max_chars=300)
    # Long indented lines with blank lines: the shape that used to yield windows nested in their predecessor.
    lines = []
    for i in range(60):
        lines.append("" if i % 6 == 5 else "    " + "w" * (20 + (i * 37) % 70))
    text = "\n".join(lines) + "\n"
    chunks = chunk_text(text, "python", limits)
    for prev, cur in itertools.pairwise(chunks):
        assert cur.end_line > prev.end_line, (prev.start_line, prev.end_line, cur.start_line, cur.end_line)


_LINE = st.one_of(
    st.just(""),
    st.just("    "),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=80),
    st.builds(lambda s: "    " + s, st.text(alphabet="abc xyz()=:", max_size=60)),
    st.sampled_from(["def f():", "class A:", "}", ")", "else:", "# Title", "## Sub", "```", "~~~"]),
    st.integers(min_value=150, max_value=700).map(lambda n: "k" * n),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(_LINE, max_size=120),
    trailing_newline=st.booleans(),
    language=st.sampled_from(["python", "markdown", "text"]),
    max_lines=st.integers(min_value=2, max_value=30),
    overlap=st.integers(min_value=0, max_value=29),
    max_chars=st.integers(min_value=40, max_value=600),
)
def test_any_text_chunks_into_exact_covering_spans_within_limits(
    lines: list[str], trailing_newline: bool, language: str, max_lines: int, overlap: int, max_chars: int
) -> None:
    limits = ChunkLimits(max_lines=max_lines, overlap_lines=min(overlap, max_lines - 1), max_chars=max_chars)
    text = "\n".join(lines) + ("\n" if trailing_newline and lines else "")
    chunks = chunk_text(text, language, limits)
    _assert_spans_exact(text, chunks, limits)
    _assert_covers_every_non_blank_line(text, chunks)
    _assert_within_limits(chunks, limits)
    assert all(c.text.strip() for c in chunks)
    assert [c.start_line for c in chunks] == sorted(c.start_line for c in chunks)
    for prev, cur in itertools.pairwise(chunks):
        same_long_line = prev.start_line == prev.end_line == cur.start_line == cur.end_line
        assert same_long_line or cur.end_line > prev.end_line, "a chunk only repeats part of the one before it"


# --- markdown ---------------------------------------------------------------------------------

_BIG = ChunkLimits(max_lines=60, overlap_lines=10, max_chars=2400)


def _paragraph(words: int) -> str:
    return " ".join(f"word{i}" for i in range(words))


def _md_section(heading: str, paragraphs: int = 4) -> str:
    return heading + "\n\n" + "\n\n".join(_paragraph(60) for _ in range(paragraphs)) + "\n\n"


def test_markdown_splits_at_headings_with_the_heading_trail_as_symbol() -> None:
    text = (
        _md_section("# Guide")
        + _md_section("## Install")
        + _md_section("### From source")
        + _md_section("## Usage")
        + _md_section("# Reference")
    )
    chunks = chunk_text(text, "markdown", _BIG)
    _assert_spans_exact(text, chunks, _BIG)
    by_symbol = {c.symbol: c for c in chunks}
    assert list(by_symbol) == [
        "Guide",
        "Guide / Install",
        "Guide / Install / From source",
        "Guide / Usage",
        "Reference",
    ]
    assert by_symbol["Guide / Install"].text.startswith("## Install\n")
    assert by_symbol["Guide / Usage"].text.startswith("## Usage\n")
    assert by_symbol["Reference"].text.startswith("# Reference\n")


def test_markdown_text_before_the_first_heading_has_no_symbol() -> None:
    text = _paragraph(300) + "\n\n" + _md_section("# Title")
    chunks = chunk_text(text, "markdown", _BIG)
    assert chunks[0].symbol is None
    assert chunks[0].start_line == 1
    assert chunks[-1].symbol == "Title"


@pytest.mark.parametrize(
    ("heading", "title"),
    [("## Install ##", "Install"), ("##   Spaced   ", "Spaced"), ("## C#", "C#"), ("### F# and C# ###", "F# and C#")],
)
def test_markdown_heading_titles_drop_closing_hashes_but_keep_a_trailing_sharp(heading: str, title: str) -> None:
    text = _md_section("# Top") + _md_section(heading)
    chunks = chunk_text(text, "markdown", _BIG)
    assert chunks[-1].symbol == f"Top / {title}"


@pytest.mark.parametrize("fence", ["```", "~~~", "  ```python"])
def test_markdown_headings_inside_code_fences_do_not_split(fence: str) -> None:
    closer = fence.strip()[:3]
    code = "\n".join(f"# comment {i}\nvalue_{i} = {i}" for i in range(40))
    text = _md_section("# Setup") + f"{fence}\n{code}\n{closer}\n\nAfter the code.\n\n" + _md_section("# Next")
    chunks = chunk_text(text, "markdown", _BIG)
    symbols = {c.symbol for c in chunks}
    assert symbols == {"Setup", "Next"}
    assert not any("comment" in (c.symbol or "") for c in chunks)
    _assert_spans_exact(text, chunks, _BIG)


def test_a_different_fence_marker_does_not_close_an_open_fence() -> None:
    body = "\n".join(_paragraph(40) for _ in range(6))
    text = _md_section("# A") + f"```\n~~~\n# Not a heading\n{body}\n```\n" + _md_section("# B")
    chunks = chunk_text(text, "markdown", _BIG)
    assert {c.symbol for c in chunks} == {"A", "B"}


def test_hash_without_a_space_is_not_a_heading() -> None:
    text = _md_section("# Real") + "#hashtag\n\n" + _paragraph(400) + "\n"
    assert {c.symbol for c in chunk_text(text, "markdown", _BIG)} == {"Real"}


def test_tiny_markdown_sections_merge_with_their_neighbours() -> None:
    text = "# Guide\n\nIntro.\n\n## Install\n\nRun pip.\n\n## Usage\n\nCall it.\n"
    chunks = chunk_text(text, "markdown", _BIG)
    assert len(chunks) == 1
    assert chunks[0].symbol == "Guide"  # the first section names the merged chunk
    assert (chunks[0].start_line, chunks[0].end_line) == (1, 11)
    assert chunks[0].text == text.rstrip("\n")


def test_a_tiny_section_after_a_big_one_stays_separate_once_the_merge_would_be_too_big() -> None:
    text = _md_section("# Big", paragraphs=3) + "## Small\n\nTiny.\n"
    chunks = chunk_text(text, "markdown", _BIG)
    assert [c.symbol for c in chunks][-1] == "Big / Small"
    assert chunks[-1].text == "## Small\n\nTiny."


def test_a_huge_markdown_section_is_windowed_and_every_window_keeps_the_heading_trail() -> None:
    limits = ChunkLimits(max_lines=20, overlap_lines=4, max_chars=800)
    text = "# Manual\n\n## Options\n\n" + "\n".join(f"- option {i}: {_paragraph(8)}" for i in range(200)) + "\n"
    chunks = chunk_text(text, "markdown", limits)
    options = [c for c in chunks if c.symbol == "Manual / Options"]
    assert len(options) > 5
    _assert_spans_exact(text, chunks, limits)
    _assert_covers_every_non_blank_line(text, chunks)
    _assert_within_limits(chunks, limits)


def test_markdown_line_numbers_are_absolute_not_relative_to_the_section() -> None:
    text = _md_section("# One") + _md_section("# Two")
    lines = text.split("\n")
    two = next(c for c in chunk_text(text, "markdown", _BIG) if c.symbol == "Two")
    assert lines[two.start_line - 1] == "# Two"


def test_non_markdown_languages_ignore_markdown_headings() -> None:
    text = _md_section("# Guide") + _md_section("## Install")
    assert all(c.symbol is None for c in chunk_text(text, "python", _BIG))


# --- embedding_text ---------------------------------------------------------------------------


def test_embedding_text_puts_path_and_symbol_before_the_chunk_text() -> None:
    chunk = Chunk("pip install agent-brain", 5, 5, "Guide / Install")
    assert embedding_text("docs/guide.md", chunk) == "docs/guide.md > Guide / Install\npip install agent-brain"


def test_embedding_text_without_a_symbol_starts_with_the_path() -> None:
    chunk = Chunk("def f():\n    pass", 1, 2)
    assert embedding_text("src/app.py", chunk) == "src/app.py\ndef f():\n    pass"


def test_a_long_prose_line_is_cut_after_a_space_not_mid_word() -> None:
    paragraph = " ".join(f"word{i}" for i in range(600))
    pieces = split_long_line(paragraph, 1000)
    assert "".join(pieces) == paragraph
    assert all(len(p) <= 1000 for p in pieces)
    assert all(p.endswith(" ") for p in pieces[:-1])

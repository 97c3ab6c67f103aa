from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_brain_mcp import query_terms
from agent_brain_mcp.query_terms import (
    MAX_QUERY_CHARS,
    MAX_WINDOWS,
    WINDOW_CHARS,
    analyse,
    focused_text,
    keyword_text,
    vector_windows,
)


def test_identifiers_are_recognised_by_their_spelling() -> None:
    terms = analyse("why does Session.merge_environment_settings drop proxies when LoadHTMLGlob runs")
    assert terms.identifiers == {"merge_environment_settings", "LoadHTMLGlob"}
    assert terms.qualified == {"Session"}


def test_a_one_word_query_is_an_identifier_and_prose_words_are_not() -> None:
    assert analyse("Router").identifiers == {"Router"}
    assert analyse("how are routers built").identifiers == frozenset()


def test_calls_and_backquoted_names_are_identifiers_but_file_names_are_not() -> None:
    terms = analyse("calling render() in `views.py` fails, see forms/models.py")
    assert "render" in terms.identifiers
    assert "py" not in terms.identifiers
    assert "forms/models.py" in terms.paths


def test_quoted_text_exception_messages_and_a_short_sentence_are_phrases() -> None:
    report = 'It says "Incorrect type. Expected pk value" here.\nTraceback:\nValueError: Cannot assign None to field'
    assert analyse(report).phrases == ("Incorrect type. Expected pk value", "Cannot assign None to field")
    assert analyse("Authentication credentials were not provided.").phrases == (
        "Authentication credentials were not provided.",
    )


def test_traceback_frames_give_paths() -> None:
    report = 'Traceback (most recent call last):\n  File "/venv/site-packages/django/db/models/query.py", line 3\n'
    assert "venv/site-packages/django/db/models/query.py" in {p.lstrip("/") for p in analyse(report).paths}


def test_a_short_query_reaches_both_sides_unchanged() -> None:
    terms = analyse("  retry with backoff  ")
    assert keyword_text(terms) == "retry with backoff"
    assert vector_windows(terms) == ["retry with backoff"]
    assert focused_text(terms) == "retry with backoff"


def test_a_long_query_reaches_the_keyword_side_whole_with_each_word_once() -> None:
    query = ("frame line\n" * 1000) + "the_last_identifier"
    text = keyword_text(analyse(query))
    assert text.split() == ["frame", "line", "the_last_identifier"]


def test_a_long_query_is_embedded_in_windows_spread_over_all_of_it() -> None:
    lines = [f"paragraph {i} " + "word " * 40 for i in range(80)]
    windows = vector_windows(analyse("\n".join(lines)))
    assert len(windows) == MAX_WINDOWS
    assert all(len(w) <= WINDOW_CHARS for w in windows)
    assert windows[0].startswith("paragraph 0 ") and "paragraph 79 " in windows[-1]


def test_queries_are_bounded() -> None:
    assert len(analyse("x" * (MAX_QUERY_CHARS + 50)).text) == MAX_QUERY_CHARS


# The patterns as first written: correct, but they try every start inside a run (quadratic time).
_EVERY_START_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\(")
_EVERY_START_PATH = re.compile(r"(?:[\w.-]+/)*[\w.-]+\.[A-Za-z]{1,5}\b")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab_Z19./-( #", max_size=40))
def test_calls_and_paths_are_found_as_if_every_start_were_tried(text: str) -> None:
    assert [m.group(1) for m in query_terms._CALL.finditer(text)] == _EVERY_START_CALL.findall(text)
    assert [m.group(0) for m in query_terms._PATH.finditer(text)] == _EVERY_START_PATH.findall(text)


def test_a_query_of_one_20_kb_run_of_path_characters_is_analysed_at_once() -> None:
    for run in ("x" * MAX_QUERY_CHARS, "a/" * (MAX_QUERY_CHARS // 2), "x1(" * (MAX_QUERY_CHARS // 3)):
        started = time.perf_counter()
        analyse(run)
        assert time.perf_counter() - started < 5  # minutes when every start inside the run was tried

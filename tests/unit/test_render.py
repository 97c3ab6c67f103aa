"""The Markdown text agents read for a search result."""

from __future__ import annotations

import json

from agent_brain_mcp.models import SearchHit, SearchResult
from agent_brain_mcp.render import fence, render_search, tool_result


def _hit(path: str = "src/app.py", text: str = 'print("hi")\n', root: str = "/repo", **kw: object) -> SearchHit:
    fields: dict[str, object] = {
        "file_path": path,
        "root": root,
        "start_line": 3,
        "end_line": 4,
        "language": "python",
        "symbol": "def main",
        "score": 0.0312,
        "vector_rank": 1,
        "keyword_rank": 4,
        "text": text,
    }
    return SearchHit.model_validate(fields | kw)


def _search_result(*hits: SearchHit, truncated: bool = False) -> SearchResult:
    return SearchResult(query="q", mode="hybrid", hits=list(hits), chunks_in_index=120, truncated=truncated)


def test_a_fence_is_longer_than_any_backtick_run_in_the_text() -> None:
    assert fence("x = 1", "python") == "```python\nx = 1\n```"
    text = "Use:\n````\n```py\ncode\n```\n````"
    fenced = fence(text, "markdown")
    assert fenced.startswith("`````markdown\n") and fenced.endswith("\n`````")
    assert fenced[len("`````markdown\n") : -len("\n`````")] == text


def test_each_hit_has_one_header_line_then_its_code_unescaped() -> None:
    code = 'def main():\n    print("tab\\t and \\n stay as written")'
    text = render_search(_search_result(_hit(text=code)))
    lines = text.split("\n")
    assert lines[0] == "hybrid search: 1 hit of 120 indexed chunks, paths relative to /repo."
    assert "src/app.py:3-4  def main  (vector #1, keyword #4)" in lines
    assert f"```python\n{code}\n```" in text
    assert '\\"' not in text and "{" not in lines[0]


def test_the_root_is_said_once_for_one_root_and_hits_carry_it_for_several() -> None:
    one = render_search(_search_result(_hit(), _hit(path="src/b.py")))
    assert one.count("/repo") == 1
    two = render_search(_search_result(_hit(), _hit(path="lib/c.py", root="/other")))
    assert "relative to" not in two.split("\n")[0]
    assert "\n/repo/src/app.py:3-4  " in two and "\n/other/lib/c.py:3-4  " in two


def test_a_hit_found_by_one_side_names_only_that_side_and_no_symbol_means_no_gap() -> None:
    text = render_search(_search_result(_hit(vector_rank=None, keyword_rank=2, symbol=None, start_line=7, end_line=7)))
    assert "\nsrc/app.py:7  (keyword #2)\n" in text


def test_semantic_hits_carry_their_similarity_which_their_rank_alone_does_not_say() -> None:
    result = _search_result(_hit(vector_rank=1, keyword_rank=None, score=0.6123)).model_copy(update={"mode": "vector"})
    assert "\nsrc/app.py:3-4  def main  (vector #1, score 0.612)\n" in render_search(result)


def test_truncation_and_no_hits_are_said_in_the_first_lines() -> None:
    assert "Truncated by max_chars" in render_search(_search_result(_hit(), truncated=True)).split("\n")[0]
    empty = render_search(_search_result())
    assert empty.startswith("hybrid search: 0 hits of 120 indexed chunks.\n\nNo hits")


def test_the_tool_result_carries_the_model_as_structured_content_unchanged() -> None:
    result = _search_result(_hit())
    call = tool_result(result, render_search(result))
    assert call.structured_content == json.loads(result.model_dump_json())
    assert call.content[0].type == "text" and call.content[0].text == render_search(result)


def test_a_file_mode_result_reads_as_one_heading_per_file_with_its_chunks_fenced() -> None:
    from agent_brain_mcp.models import FileHit

    chunk = SearchHit(
        file_path="pkg/relations.py",
        root="/repo",
        start_line=10,
        end_line=12,
        language="python",
        symbol="class PrimaryKeyRelatedField",
        score=0.5,
        vector_rank=3,
        keyword_rank=1,
        text='raise ValidationError("Incorrect type. Expected pk value")',
    )
    file = FileHit(
        file_path="pkg/relations.py",
        root="/repo",
        language="python",
        score=0.9,
        vector_rank=3,
        keyword_rank=1,
        defines=True,
        hits=[chunk],
    )
    result = SearchResult(query="q", mode="hybrid", hits=[], chunks_in_index=40, files=[file])
    text = render_search(result)
    assert text.splitlines()[0] == "hybrid search by file: 1 file of 40 indexed chunks, paths relative to /repo."
    assert "## pkg/relations.py  (vector #3, keyword #1)  defines it" in text
    assert 'lines 10-12  class PrimaryKeyRelatedField\n```python\nraise ValidationError("Incorrect type.' in text
    assert "\\n" not in text and "/repo/pkg" not in text

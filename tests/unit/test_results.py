"""Shaping hits: neighbours from one file are merged; a character budget cuts at line ends."""

from __future__ import annotations

from agent_brain_mcp.backends.base import ScoredChunk
from agent_brain_mcp.fusion import rrf_score
from agent_brain_mcp.results import fit_budget, merge_adjacent, rescore_fused


def hit(
    path: str, start: int, end: int, score: float, vrank: int | None = None, krank: int | None = None
) -> ScoredChunk:
    text = "\n".join(f"{path}:{n}" for n in range(start, end + 1))
    return ScoredChunk(f"{path}-{start}", "/r", path, start, end, "python", None, text, score, vrank, krank)


def test_overlapping_chunks_of_one_file_become_one_hit_spanning_both() -> None:
    [merged] = merge_adjacent([hit("a.py", 10, 20, 0.9, vrank=1), hit("a.py", 16, 30, 0.5, vrank=4, krank=2)])
    assert (merged.start_line, merged.end_line, merged.score) == (10, 30, 0.9)
    assert merged.text.split("\n") == [f"a.py:{n}" for n in range(10, 31)]
    assert (merged.vector_rank, merged.keyword_rank) == (1, 2)


def test_adjacent_chunks_merge_but_a_gap_keeps_them_apart() -> None:
    touching = merge_adjacent([hit("a.py", 1, 5, 0.9), hit("a.py", 6, 9, 0.8)])
    apart = merge_adjacent([hit("a.py", 1, 5, 0.9), hit("a.py", 7, 9, 0.8)])
    assert [(h.start_line, h.end_line) for h in touching] == [(1, 9)]
    assert [(h.start_line, h.end_line) for h in apart] == [(1, 5), (7, 9)]


def test_chunks_of_different_files_or_roots_never_merge() -> None:
    other_root = hit("a.py", 1, 5, 0.7)
    other_root.root = "/other"
    hits = merge_adjacent([hit("a.py", 1, 5, 0.9), hit("b.py", 1, 5, 0.8), other_root])
    assert [(h.root, h.rel_path) for h in hits] == [("/r", "a.py"), ("/r", "b.py"), ("/other", "a.py")]


def test_the_merged_hit_keeps_the_better_hits_place() -> None:
    hits = merge_adjacent([hit("b.py", 1, 3, 0.95), hit("a.py", 20, 30, 0.9), hit("a.py", 5, 19, 0.4)])
    assert [(h.rel_path, h.start_line, h.end_line) for h in hits] == [("b.py", 1, 3), ("a.py", 5, 30)]


def test_a_merge_that_bridges_two_kept_hits_folds_them_together() -> None:
    hits = merge_adjacent([hit("a.py", 1, 5, 0.9), hit("a.py", 11, 15, 0.8), hit("a.py", 6, 10, 0.7)])
    assert [(h.start_line, h.end_line, h.score) for h in hits] == [(1, 15, 0.9)]


def test_a_passage_found_by_each_side_in_a_different_chunk_outranks_one_found_by_both_at_rank_two() -> None:
    # Chunk-level fusion (k=5, alpha=0.7) ranks b.py first; a.py's two neighbouring chunks were each
    # found by one side only. Once merged, the passage holds the best rank of each side.
    chunk_level = [
        hit("b.py", 1, 9, rrf_score(2, 2, 0.7, 5), vrank=2, krank=2),
        hit("a.py", 1, 5, rrf_score(1, None, 0.7, 5), vrank=1),
        hit("a.py", 6, 9, rrf_score(None, 1, 0.7, 5), krank=1),
    ]
    hits = rescore_fused(merge_adjacent(chunk_level), alpha=0.7, k=5)
    assert [(h.rel_path, h.vector_rank, h.keyword_rank) for h in hits] == [("a.py", 1, 1), ("b.py", 2, 2)]
    assert hits[0].score == rrf_score(1, 1, 0.7, 5) > hits[1].score


def test_rescoring_unmerged_hits_keeps_the_fused_order() -> None:
    hits = [hit(p, 1, 3, 0.0, vrank=v, krank=kr) for p, v, kr in [("a", 1, 3), ("b", None, 1), ("c", 2, None)]]
    assert [h.rel_path for h in rescore_fused(hits, alpha=0.5, k=60)] == ["a", "b", "c"]


def test_the_budget_keeps_whole_hits_and_cuts_the_last_at_a_line_end() -> None:
    hits = [hit("a.py", 1, 3, 0.9), hit("b.py", 1, 10, 0.8), hit("c.py", 1, 2, 0.7)]
    first = len(hits[0].text)
    kept, cut = fit_budget(hits, first + 19)
    assert cut
    assert [h.rel_path for h in kept] == ["a.py", "b.py"]
    assert kept[1].text == "b.py:1\nb.py:2"  # 13 characters fit in 19; a third line would make 20
    assert (kept[1].start_line, kept[1].end_line) == (1, 2)
    assert sum(len(h.text) for h in kept) <= first + 19


def test_a_budget_that_fits_everything_cuts_nothing() -> None:
    hits = [hit("a.py", 1, 3, 0.9), hit("b.py", 1, 3, 0.8)]
    kept, cut = fit_budget(hits, 10_000)
    assert kept == hits and not cut


def test_a_hit_whose_first_line_does_not_fit_is_left_out() -> None:
    hits = [hit("a.py", 1, 1, 0.9), hit("bbbbbbbbbbbbbbbb.py", 1, 5, 0.8)]
    kept, cut = fit_budget(hits, len(hits[0].text) + 3)
    assert [h.rel_path for h in kept] == ["a.py"] and cut


def test_chunks_whose_text_has_more_lines_than_their_span_are_never_merged_or_mangled() -> None:
    """A notebook cell stored as one JSON string: all its chunks sit on one line of the .ipynb."""
    cell_a = ScoredChunk("n-0", "/r", "nb.ipynb", 7, 7, "python", "cell 1", "x = 1\ny = 2", 0.9, 1, None)
    cell_b = ScoredChunk("n-1", "/r", "nb.ipynb", 7, 7, "python", "cell 1", "z = 3\nw = 4", 0.8, 2, None)
    assert [h.text for h in merge_adjacent([cell_a, cell_b])] == ["x = 1\ny = 2", "z = 3\nw = 4"]
    [cut], truncated = fit_budget([cell_a], 6)
    assert truncated and (cut.text, cut.start_line, cut.end_line) == ("x = 1", 7, 7)

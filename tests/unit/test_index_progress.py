"""The pipeline's typed progress event: one rendering, a progress value that only grows, coverage."""

from __future__ import annotations

from agent_brain_mcp.backends.base import RootStats
from agent_brain_mcp.indexing.progress import DONE, KEYWORDS, VECTORS, IndexProgress
from agent_brain_mcp.service import vector_coverage

# A run over 10 files making 40 chunks, 5 of them with vectors from the vector store.
RUN = [
    IndexProgress("walk", 0, 10),
    IndexProgress("keywords", 4, 10, chunks_keyword_indexed=16, chunks_embedded=5, vectors_pending=11),
    IndexProgress("keywords", 10, 10, chunks_keyword_indexed=40, chunks_embedded=5, vectors_pending=35),
    IndexProgress("vectors", 10, 10, chunks_keyword_indexed=40, chunks_embedded=21, vectors_pending=19),
    IndexProgress("vectors", 10, 10, chunks_keyword_indexed=40, chunks_embedded=40, vectors_pending=0),
    IndexProgress("done", 10, 10, chunks_keyword_indexed=40, chunks_embedded=40),
]


def test_the_progress_value_only_grows_across_both_phases_and_ends_at_its_total() -> None:
    values = [event.fraction for event in RUN]
    done = [d for d, _ in values]
    assert done == sorted(done) and values[0] == (0.0, 10.0)
    assert values[-1] == (50.0, 50.0)  # 10 files checked + 40 vectors stored
    assert all(total is not None and d <= total for d, total in values)


def test_the_message_says_what_is_searchable_by_keyword_and_what_still_waits_for_vectors() -> None:
    assert RUN[0].message() == "found 10 files to check"
    assert RUN[3].message() == ("10/10 files, 40 chunks searchable by keyword, 21 chunks embedded, 19 vectors pending")
    assert "pending" not in RUN[4].message() and RUN[-1].message() == "done"


def test_coverage_is_the_share_of_chunks_with_a_vector_and_never_rounds_up_to_whole() -> None:
    def root(chunks: int, pending: int) -> RootStats:
        return RootStats("/r", 1, chunks, None, vectors_pending=pending)

    assert vector_coverage([]) == 1.0
    assert vector_coverage([root(100, 63)]) == 0.37
    assert vector_coverage([root(100, 63), root(100, 0)]) == 0.685
    assert vector_coverage([root(100_000, 1)]) == 0.999  # one vector missing is not "all"
    assert vector_coverage([root(10, 10)]) == 0.0


def test_the_bar_counts_files_while_reading_and_vectors_while_they_fill_in() -> None:
    reading = IndexProgress(KEYWORDS, files_done=3, files_total=9, chunks_keyword_indexed=20)
    filling = IndexProgress(VECTORS, files_done=9, files_total=9, chunks_embedded=5, vectors_pending=15)
    done = IndexProgress(DONE, files_done=9, files_total=9, chunks_embedded=20)
    assert reading.phase_count == (3, 9, "files")
    assert filling.phase_count == (5, 20, "vectors")
    assert done.phase_count == (9, 9, "files")

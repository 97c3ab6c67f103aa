"""The file-level evaluation (benchmarks/eval_files.py and its modules) on hand-made inputs."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from code_queries import definitions, generate, is_test_path, literals
from eval_modes import ModeSpec, builtin_modes, file_paths, parse_mode
from file_bm25 import FILTERS, WholeFileBM25, prep
from file_metrics import acc_at_k, distinct_in_top, first_gold_rank, mrr_at_k, rank_files, summarize

# -- metrics -----------------------------------------------------------------------------------------


def test_a_file_ranking_keeps_each_file_once_at_its_best_hit() -> None:
    hits = ["a.py", "a.py", "b.py", "a.py", "c.py", "b.py"]
    assert rank_files(hits) == ["a.py", "b.py", "c.py"]


def test_the_gold_rank_counts_files_not_chunks() -> None:
    hits = ["a.py", "a.py", "a.py", "b.py", "gold.py"]
    assert first_gold_rank(hits, {"gold.py"}) == 3
    assert first_gold_rank(hits, {"other.py", "b.py"}) == 2
    assert first_gold_rank(hits, {"missing.py"}) is None


def test_acc_and_mrr_at_k_use_the_first_gold_rank() -> None:
    assert [acc_at_k(3, k) for k in (1, 5, 10)] == [0.0, 1.0, 1.0]
    assert acc_at_k(None, 10) == 0.0
    assert mrr_at_k(4, 10) == 0.25
    assert mrr_at_k(11, 10) == 0.0
    assert mrr_at_k(None) == 0.0
    with pytest.raises(ValueError):
        acc_at_k(1, 0)


def test_distinct_files_are_counted_in_the_first_five_hits_only() -> None:
    assert distinct_in_top(["a", "a", "b", "a", "a", "c", "d"], 5) == 2
    assert distinct_in_top(["a"], 5) == 1


def test_summaries_average_over_queries_and_leave_distinct_out_when_unknown() -> None:
    rows: list[dict[str, Any]] = [
        {"rank": 1, "distinct5": 5},
        {"rank": 4, "distinct5": 3},
        {"rank": None, "distinct5": 1},
        {"rank": 12, "distinct5": 2},
    ]
    s = summarize(rows)
    assert s["queries"] == 4
    assert (s["acc@1"], s["acc@5"], s["acc@10"]) == (0.25, 0.5, 0.5)
    assert s["mrr@10"] == pytest.approx((1 + 0.25) / 4)
    assert s["distinct5"] == pytest.approx(11 / 4)
    assert summarize([{"rank": 2, "distinct5": None}])["distinct5"] is None


# -- modes -------------------------------------------------------------------------------------------


def test_a_mode_spec_names_a_method_and_json_arguments() -> None:
    mode = parse_mode("files_code=hybrid_search:group_by=file,alpha=0.3,kind=code,strict=true")
    assert mode == ModeSpec(
        "files_code", "hybrid_search", {"group_by": "file", "alpha": 0.3, "kind": "code", "strict": True}
    )
    assert parse_mode("keyword_search") == ModeSpec("keyword_search", "keyword_search", {})
    assert parse_mode("hybrid_search:alpha=0.5").label == "hybrid_search:alpha=0.5"
    with pytest.raises(SystemExit):
        parse_mode("x=hybrid_search:alpha")


class OldService:
    async def search(self, query: str, top_k: int = 10) -> None: ...
    async def hybrid_search(self, query: str, top_k: int = 10, alpha: float | None = None) -> None: ...
    async def keyword_search(self, query: str, top_k: int = 10) -> None: ...


class GroupingService(OldService):
    async def hybrid_search(  # type: ignore[override]
        self, query: str, top_k: int = 10, alpha: float | None = None, group_by: str = "chunk"
    ) -> None: ...


def test_the_file_mode_is_asked_only_of_a_service_with_group_by() -> None:
    assert [m.label for m in builtin_modes(OldService())] == ["search", "hybrid_search", "keyword"]
    assert [m.label for m in builtin_modes(GroupingService())] == ["search", "hybrid_search", "keyword", "files"]
    assert [m.label for m in builtin_modes(GroupingService(), ["files", "keyword"])] == ["files", "keyword"]


def test_file_paths_come_from_hits_or_from_a_files_list_and_skip_other_roots() -> None:
    hit = lambda path, root="/r": SimpleNamespace(file_path=path, root=root)  # noqa: E731
    result = SimpleNamespace(hits=[hit("a.py"), hit("b.py", "/other"), hit("a.py")])
    assert file_paths(result, "/r") == (["a.py", "a.py"], 1)
    grouped = SimpleNamespace(hits=[hit("x.py")], files=[{"path": "b.py", "root": "/r"}, {"path": "c.py"}])
    assert file_paths(grouped, "/r") == (["b.py", "c.py"], 0)


# -- whole-file BM25 -----------------------------------------------------------------------------------


def test_bm25_text_splits_identifiers_like_the_sets_baseline() -> None:
    assert prep("getHTTPResponse build_relational_field(x)") == "get http response build relational field x"


def test_whole_file_bm25_ranks_the_file_with_the_words_first_and_filters_files(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "relations.py").write_text("def build_relational_field(model):\n    return model\n")
    (tmp_path / "pkg" / "views.py").write_text("def render(request):\n    return request\n")
    (tmp_path / "README.md").write_text("relational fields are built here, relational relational\n")
    everything = WholeFileBM25(tmp_path)
    assert everything.paths == ["README.md", "pkg/relations.py", "pkg/views.py"]
    assert everything.search(["render request"])[0][0] == "pkg/views.py"
    py = WholeFileBM25(tmp_path, FILTERS["py"])
    assert py.paths == ["pkg/relations.py", "pkg/views.py"]
    assert py.search(["buildRelationalField"], k=10)[0][0] == "pkg/relations.py"


# -- generated queries -----------------------------------------------------------------------------------

PY_SOURCE = b"""
import logging
log = logging.getLogger(__name__)

class TokenStore:
    def rotate_tokens(self, now):
        if now < 0:
            raise ValueError("Token rotation needs a positive clock value")
        log.warning("Rotating tokens for every active session")
        raise KeyError(f"no token {now} here at all")

def load_config_file(path):
    logger.error("Config file %s could not be read", path)
"""

JS_SOURCE = b"""
function parseHeaders(raw) {
  if (!raw) throw new Error('Headers must be a non-empty string');
  console.error(`bad header ${raw} found here`);
}
class Router {
  handleRequest(req) { return req; }
}
const buildUrl = (base) => base;
const VERSION = '1.0';
"""


def test_definitions_are_found_in_python_and_javascript() -> None:
    assert definitions(PY_SOURCE, "python") == {"TokenStore", "rotate_tokens", "load_config_file"}
    assert definitions(JS_SOURCE, "javascript") == {"parseHeaders", "Router", "handleRequest", "buildUrl"}


def test_literals_are_plain_raise_throw_and_log_messages() -> None:
    assert literals(PY_SOURCE, "python") == {
        "Token rotation needs a positive clock value",
        "Rotating tokens for every active session",
        "Config file %s could not be read",
    }
    assert literals(JS_SOURCE, "javascript") == {"Headers must be a non-empty string"}


def test_test_folders_and_files_are_recognised() -> None:
    assert is_test_path("tests/test_api.py") and is_test_path("lib/__tests__/a.js") and is_test_path("a.spec.js")
    assert not is_test_path("src/attestation.py")


def _tiny_tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "store.py").write_bytes(PY_SOURCE)
    (root / "pkg" / "http.js").write_bytes(JS_SOURCE)
    (root / "tests" / "test_store.py").write_bytes(b"def rotate_tokens():\n    pass\ndef only_in_tests():\n    pass\n")
    for i in range(4):  # defined in 4 files: too generic, never asked
        (root / "pkg" / f"m{i}.py").write_bytes(b"def common_helper():\n    pass\n")
    return root


def test_generated_queries_have_every_defining_file_as_gold_and_skip_generic_names(tmp_path: Path) -> None:
    tree = _tiny_tree(tmp_path / "t")
    sets = generate({"t-1.0": tree}, n_definitions=50, n_literals=50, seed=1)
    defs = {q.text: q.gold for q in sets["definitions"]}
    assert set(defs) == {
        "TokenStore",
        "rotate_tokens",
        "load_config_file",
        "parseHeaders",
        "Router",
        "handleRequest",
        "buildUrl",
    }
    assert defs["rotate_tokens"] == {"pkg/store.py", "tests/test_store.py"}
    lits = {q.text: q.gold for q in sets["literals"]}
    assert lits["Headers must be a non-empty string"] == {"pkg/http.js"}
    assert len(lits) == 4


def test_generated_queries_are_the_same_for_the_same_seed_and_respect_the_indexed_files(tmp_path: Path) -> None:
    tree = _tiny_tree(tmp_path / "t")
    first = generate({"t-1.0": tree}, n_definitions=3, n_literals=2, seed=7)
    again = generate({"t-1.0": tree}, n_definitions=3, n_literals=2, seed=7)
    assert first == again and len(first["definitions"]) == 3 and len(first["literals"]) == 2
    only_py = generate({"t-1.0": tree}, n_definitions=50, n_literals=0, seed=7, allowed={"t-1.0": {"pkg/store.py"}})
    assert {q.text for q in only_py["definitions"]} == {"TokenStore", "rotate_tokens", "load_config_file"}
    assert all(q.gold == {"pkg/store.py"} for q in only_py["definitions"])


def test_bm25_rankings_are_read_back_on_a_rerun_over_the_same_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import eval_files

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_text("def parse_headers(raw):\n    return raw\n")
    (tree / "b.py").write_text("def render(view):\n    return view\n")
    queries = [("q1", "parse headers", {"a.py"}), ("q2", "render the view", {"a.py"})]
    cache = tmp_path / "bm25-py.json"
    first = eval_files.bm25_rows(tree, "py", queries, cache)
    assert (first["q1"]["rank"], first["q2"]["rank"]) == (1, 2)

    def no_index(*_: object) -> None:
        raise AssertionError("a re-run over the same tree and queries must not build a BM25 index")

    monkeypatch.setattr(eval_files, "bm25_index", no_index)
    assert eval_files.bm25_rows(tree, "py", queries, cache) == first
    (tree / "c.py").write_text("def parse_headers():\n    pass\n")  # the tree changed: asked again
    with pytest.raises(AssertionError):
        eval_files.bm25_rows(tree, "py", queries, cache)

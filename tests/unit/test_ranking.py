from __future__ import annotations

from dataclasses import replace

from agent_brain_mcp.backends.base import ScoredChunk
from agent_brain_mcp.kinds import kind_of
from agent_brain_mcp.query_terms import analyse
from agent_brain_mcp.ranking import boost_definitions, cap_per_file, path_named, rank_files


def chunk(rel: str, text: str, symbol: str | None = None, score: float = 0.1, start: int = 1) -> ScoredChunk:
    end = start + text.count("\n")
    return ScoredChunk(f"{rel}:{start}", "/r", rel, start, end, "python", symbol, text, score)


def boosted(hits: list[ScoredChunk], query: str) -> list[str]:
    return [h.id for h in boost_definitions(hits, analyse(query), 5) if h.boost > 0]


def test_the_chunk_whose_symbol_declares_the_name_is_a_definition_and_its_callers_are_not() -> None:
    caller = chunk("tests/test_fields.py", "f = build_relational_field(x)\nbuild_relational_field(y)")
    definer = chunk(
        "fields.py", "    return cls(**kwargs)", symbol="class ModelSerializer / def build_relational_field"
    )
    assert boosted([caller, definer], "build_relational_field") == [definer.id]


def test_a_definition_header_in_the_text_counts_in_any_language() -> None:
    go = chunk("gin.go", "// LoadHTMLGlob loads\nfunc (engine *Engine) LoadHTMLGlob(pattern string) {\n}")
    js = chunk("lib/cart.js", "export function computeCartTotal(items) {}")
    mention = chunk("ginS/gins.go", "func LoadHTMLFiles() {\n\tengine().LoadHTMLGlob(pattern)\n}")
    assert boosted([mention, go], "LoadHTMLGlob") == [go.id]
    assert boosted([js], "computeCartTotal") == [js.id]


def test_the_definition_inside_the_named_class_ranks_above_a_namesake() -> None:
    other = chunk(
        "a.py", "def merge_environment_settings(): ...", symbol="class Adapter / def merge_environment_settings"
    )
    right = chunk(
        "b.py", "def merge_environment_settings(): ...", symbol="class Session / def merge_environment_settings"
    )
    hits = boost_definitions([other, right], analyse("Session.merge_environment_settings"), 5)
    assert hits[1].boost > hits[0].boost > 0


def test_a_message_is_defined_where_it_is_raised_or_assigned_not_where_a_test_compares_it() -> None:
    message = "Authentication credentials were not provided."
    raised = chunk("exceptions.py", f"class NotAuthenticated(APIException):\n    default_detail = _('{message}')")
    thrown = chunk("errors.js", f"if (!user) {{\n  throw new AuthError(\n    '{message}'\n  );\n}}")
    compared = chunk("tests/test_auth.py", f"assert response.data == {{'detail': '{message}'}}")
    assert boosted([compared, raised, thrown], message) == [raised.id, thrown.id]


def test_a_message_with_values_filled_in_is_found_through_its_literal_parts() -> None:
    source = chunk("query.py", 'raise FieldError("Cannot resolve keyword %r into field. Choices are: %s" % (name, c))')
    assert boosted([source], "FieldError: Cannot resolve keyword 'foo' into field. Choices are: bar") == [source.id]


def test_an_implementation_comes_before_the_type_stub_that_declares_the_same_name() -> None:
    stub = chunk("src/attr/__init__.pyi", "def asdict(inst: Any) -> dict[str, Any]: ...", symbol="def asdict")
    impl = chunk("src/attr/_funcs.py", "def asdict(inst):\n    return dict(inst)", symbol="def asdict")
    hits = boost_definitions([stub, impl], analyse("asdict"), 5)
    assert hits[1].boost > hits[0].boost > 0


def test_a_prose_query_boosts_nothing() -> None:
    hits = [chunk("a.py", "def add(x): ...", symbol="def add")]
    assert boosted(hits, "how do I add a user") == []


def test_the_first_page_holds_at_most_the_cap_of_one_file_then_the_rest_follows() -> None:
    hits = [chunk("big.py", "x", start=i * 10) for i in range(4)] + [chunk("small.py", "y"), chunk("other.py", "z")]
    page = cap_per_file(hits, 4, 2)
    assert [h.rel_path for h in page] == ["big.py", "big.py", "small.py", "other.py"]
    assert [h.rel_path for h in cap_per_file(hits, 6, 2)][-2:] == ["big.py", "big.py"]
    assert [h.rel_path for h in cap_per_file(hits, 4, 0)] == ["big.py"] * 4


def test_a_file_found_by_both_sides_in_different_chunks_outranks_one_found_by_one_side() -> None:
    one = replace(chunk("one.py", "a"), vector_rank=1)
    both = [replace(chunk("both.py", "b"), vector_rank=2), replace(chunk("both.py", "c", start=50), keyword_rank=1)]
    files = rank_files([one, *both], analyse("anything"), 0.6, 5)
    assert [f.rel_path for f in files] == ["both.py", "one.py"]
    assert (files[0].vector_rank, files[0].keyword_rank) == (2, 1)
    assert len(files[0].chunks) == 2


def test_a_file_with_a_definition_of_what_the_query_names_comes_first() -> None:
    mention = replace(chunk("tests/test_x.py", "build_relational_field(x)"), vector_rank=1, keyword_rank=1)
    definer = replace(chunk("fields.py", "def build_relational_field(self):"), vector_rank=9)
    hits = boost_definitions([mention, definer], analyse("build_relational_field"), 5)
    assert rank_files(hits, analyse("build_relational_field"), 0.6, 5)[0].rel_path == "fields.py"


def test_a_file_the_query_spells_out_gets_the_path_evidence() -> None:
    assert path_named("django/db/models/query.py", ["/venv/site-packages/django/db/models/query.py"])
    assert not path_named("django/db/models/sql/query.py", ["/venv/site-packages/django/db/models/query.py"])
    assert path_named("setup.py", ["setup.py"])
    hits = [
        replace(chunk("django/db/models/sql/query.py", "a"), keyword_rank=1),
        replace(chunk("django/db/models/query.py", "b"), keyword_rank=3),
    ]
    report = 'File "/venv/django/db/models/query.py", line 3, in get'
    assert rank_files(hits, analyse(report), 0.6, 5)[0].rel_path == "django/db/models/query.py"


def test_kinds_come_from_path_and_language() -> None:
    assert kind_of("docs/api.md", "markdown") == "docs"
    assert kind_of("tests/test_views.py", "python") == "tests"
    assert kind_of("pkg/views_test.go", "go") == "tests"
    assert kind_of("src/cart.spec.ts", "typescript") == "tests"
    assert kind_of("conftest.py", "python") == "tests"
    assert kind_of("src/testing_utils.py", "python") == "code"
    assert kind_of("src/views.py", "python") == "code"


def test_configuration_data_and_package_metadata_are_not_code() -> None:
    for path, language in [
        ("pyproject.toml", "toml"),
        ("package.json", "json"),
        ("mypy.ini", "ini"),
        ("setup.cfg", "ini"),
        (".github/workflows/ci.yml", "yaml"),
        ("PKG-INFO", "text"),
        (".flake8", "text"),
        (".gitignore", "text"),
        ("locale/sv/LC_MESSAGES/django.po", "text"),
    ]:
        assert kind_of(path, language) == "config", path
    for path, language in [
        ("README", "text"),
        ("src/blib2to3/README", "text"),
        ("CHANGES", "text"),
        ("LICENSE", "text"),
    ]:
        assert kind_of(path, language) == "docs", path
    for path, language in [
        ("Makefile", "make"),
        ("Dockerfile", "dockerfile"),
        ("templates/base.html", "html"),
        ("static/site.css", "css"),
        ("schema.sql", "sql"),
        ("types/index.d.ts", "typescript"),
    ]:
        assert kind_of(path, language) == "code", path
    assert kind_of("tests/fixtures/data.json", "json") == "tests"


def test_a_long_query_is_not_echoed_back_whole() -> None:
    from agent_brain_mcp.answers import ECHO_CHARS, Page, answer

    report = "Traceback " * 500
    result = answer(analyse(report), "hybrid", [chunk("a.py", "x")], 1, Page(5, None, "chunk", 2, None, 0.6, 5, True))
    assert len(result.query) < ECHO_CHARS + 40 and result.query.endswith("(4,999 characters)")
    assert answer(analyse("short"), "hybrid", [], 1, Page(5, None, "chunk", 2, None, 0.6, 5, True)).query == "short"

"""Which rows the PostgreSQL keyword side ranks, decided from document frequencies (no database here)."""

from __future__ import annotations

import pytest

from agent_brain_mcp.backends.postgres.keyword_plan import KeywordBranch, plan_keywords, tsquery_literal


def test_tsquery_literals_are_quoted_so_no_lexeme_is_read_as_an_operator() -> None:
    assert tsquery_literal(["os.path", "retry"], "|") == "'os.path' | 'retry'"
    assert tsquery_literal(["a", "b"], "&") == "'a' & 'b'"
    assert tsquery_literal(["it's", "back\\slash", "x:*", "!y"], "|") == "'it''s' | 'back\\\\slash' | 'x:*' | '!y'"


def test_when_every_lexeme_fits_the_budget_all_matching_rows_are_ranked() -> None:
    plan = plan_keywords({"retry": 40, "backoff": 5}, 10_000, 600_000, need=50, filtered=False, budget=100)
    assert plan is not None
    assert plan.branches == (KeywordBranch("'backoff' | 'retry'"),)
    assert [lex for lex, _ in plan.weights] == ["backoff", "retry"]  # rarest first, higher idf
    assert plan.weights[0][1] > plan.weights[1][1]
    assert plan.avgdl == 60.0


def test_common_lexemes_are_left_out_of_the_candidates_but_still_score_them() -> None:
    dfs = {"retrywithbackoff": 3, "retri": 80, "with": 9_000, "backoff": 15}
    plan = plan_keywords(dfs, 10_000, 600_000, need=10, filtered=False, budget=100)
    assert plan is not None
    # 3 + 15 + 80 = 98 rows fit the budget; the 9,000 rows of "with" are not read.
    assert plan.branches == (KeywordBranch("'retrywithbackoff' | 'backoff' | 'retri'"),)
    assert {lex for lex, _ in plan.weights} == set(dfs)


def test_a_core_that_may_be_short_of_rows_is_topped_up_from_a_sample_of_pages() -> None:
    plan = plan_keywords(
        {"zebrafish": 2, "common": 9_000}, 10_000, 600_000, need=50, filtered=False, budget=100, cap=20
    )
    assert plan is not None
    # Listing 9,000 rows from the GIN index would cost more than reading the ~0.9% of the pages
    # that should hold 4 * 20 of them.
    assert plan.branches == (
        KeywordBranch("'zebrafish'"),
        KeywordBranch("'zebrafish' | 'common'", limit=20, exclude="'zebrafish'", sample_pct=0.8889),
    )


def test_other_lexemes_of_moderate_frequency_top_up_the_core_through_the_index() -> None:
    plan = plan_keywords({"rare": 2, "mid": 500}, 10_000, 600_000, need=50, filtered=False, budget=100, cap=20)
    assert plan is not None
    assert plan.branches == (
        KeywordBranch("'rare'"),
        KeywordBranch("'rare' | 'mid'", limit=20, exclude="'rare'"),
    )


def test_a_filter_always_gets_the_top_up_from_the_index_since_it_may_remove_the_core_rows() -> None:
    plan = plan_keywords({"rare": 90, "common": 9_000}, 10_000, 600_000, need=10, filtered=True, budget=100, cap=20)
    assert plan is not None and len(plan.branches) == 2
    assert plan.branches[1].limit == 20 and plan.branches[1].sample_pct is None  # exact rows under the filter
    unfiltered = plan_keywords({"rare": 90, "common": 9_000}, 10_000, 600_000, need=10, filtered=False, budget=100)
    assert unfiltered is not None and len(unfiltered.branches) == 1


def test_when_every_lexeme_is_common_only_a_sample_is_ranked() -> None:
    plan = plan_keywords({"self": 6_000, "return": 5_000}, 10_000, 600_000, need=50, filtered=False, budget=100, cap=20)
    assert plan is not None
    assert plan.branches == (KeywordBranch("'return' | 'self'", limit=20, sample_pct=1.3333),)
    single = plan_keywords({"self": 6_000}, 10_000, 600_000, need=50, filtered=False, budget=100, cap=20)
    assert single is not None and single.branches == (KeywordBranch("'self'", limit=20, sample_pct=1.3333),)
    every_page = plan_keywords({"self": 60}, 100, 6_000, need=50, filtered=False, budget=5, cap=20)
    assert every_page is not None and every_page.branches[0].sample_pct == 100.0


@pytest.mark.parametrize("dfs", [{}, {"nowhere": 0}, {"nowhere": 0, "neither": 0}])
def test_no_plan_when_no_chunk_holds_any_lexeme(dfs: dict[str, int]) -> None:
    assert plan_keywords(dfs, 10_000, 600_000, need=10, filtered=False) is None


def test_lexemes_no_chunk_holds_are_dropped_and_counts_never_divide_by_zero() -> None:
    plan = plan_keywords({"gone": 0, "here": 3}, 0, 0, need=10, filtered=False)
    assert plan is not None
    assert [lex for lex, _ in plan.weights] == ["here"]
    assert plan.avgdl == 1.0


def test_the_default_budget_grows_with_the_rows_wanted_and_the_sample_tops_up_to_them() -> None:
    dfs = {"rare": 3, "mid": 40, "wide": 1_000, "common": 50_000}
    small = plan_keywords(dfs, 100_000, 6_000_000, need=50, filtered=False)  # hybrid_search's candidates
    assert small is not None
    assert small.branches == (
        KeywordBranch("'rare' | 'mid'"),  # 43 rows <= 300, and maybe fewer than 50
        KeywordBranch("'rare' | 'mid' | 'wide' | 'common'", limit=50, exclude="'rare' | 'mid'", sample_pct=0.4),
    )
    large = plan_keywords(dfs, 100_000, 6_000_000, need=400, filtered=False)  # 6 * 400 = 2,400 rows
    assert large is not None
    # "wide" alone holds 1,000 >= 400 rows: the core cannot fall short, no sample is needed.
    assert large.branches == (KeywordBranch("'rare' | 'mid' | 'wide'"),)


def test_a_long_query_is_ranked_by_its_rarest_lexemes_only() -> None:
    from agent_brain_mcp.backends.postgres.keyword_plan import MAX_LEXEMES

    dfs = {f"w{i:03d}": i + 1 for i in range(3 * MAX_LEXEMES)}
    plan = plan_keywords(dfs, total=100_000, lexemes=1_000_000, need=50, filtered=False)
    assert plan is not None
    assert [lex for lex, _ in plan.weights] == [f"w{i:03d}" for i in range(MAX_LEXEMES)]

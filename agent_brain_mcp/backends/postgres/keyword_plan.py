"""Which rows a keyword query ranks on PostgreSQL, planned from its lexemes' document frequencies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent_brain_mcp.fusion import bm25_idf
from agent_brain_mcp.indexing.keywords import tokenize


def pg_query_text(query: str) -> str:
    """The query's distinct tokens as the text ``to_tsvector('simple', ...)`` turns into its lexemes."""
    return " ".join(dict.fromkeys(pg_tokens(query)))


# Keyword candidates (see plan_keywords), for a query that wants ``need`` rows: all rows of the rarest
# lexemes while their document frequencies add up to at most max(CORE_MIN, CORE_PER_ROW * need), and
# samples of at most ``need`` rows of the others: at most that + 2 * need rows ranked per query, whatever
# the size of the index (300 + 100 for hybrid_search's 50 candidates).
CORE_MIN = 300
CORE_PER_ROW = 6
SAMPLE_ABOVE = 10  # rows of the other lexemes (x the core budget) beyond which they are sampled
# A long query (a bug report) is ranked by its rarest lexemes: each one costs a ts_rank per candidate
# row, and the commonest add next to nothing to BM25 (their idf is ~0).
MAX_LEXEMES = 64


def tsquery_literal(lexemes: Sequence[str], op: str) -> str:
    """Lexemes as ``tsquery`` input joined by ``|`` or ``&`` (quoted: no parsing, no normalisation)."""
    return f" {op} ".join("'" + lex.replace("\\", "\\\\").replace("'", "''") + "'" for lex in lexemes)


@dataclass(frozen=True)
class KeywordBudget:
    """Overrides of ``plan_keywords``' ``budget`` and ``cap`` (None: from the rows wanted). Tests lower
    them so that a few hundred chunks behave like 100k chunks with the defaults."""

    core: int | None = None
    sample_cap: int | None = None


@dataclass(frozen=True)
class KeywordBranch:
    """Rows matching ``tsquery`` (and not ``exclude``): all of them, or the first ``limit`` found, through
    the GIN index or, with ``sample_pct``, in that percentage of the table's pages (TABLESAMPLE SYSTEM)."""

    tsquery: str
    limit: int | None = None
    exclude: str | None = None
    sample_pct: float | None = None


@dataclass(frozen=True)
class KeywordPlan:
    weights: tuple[tuple[str, float], ...]  # (lexeme, idf) of every query lexeme some chunk holds
    avgdl: float  # average distinct lexemes per chunk
    branches: tuple[KeywordBranch, ...]


def plan_keywords(
    dfs: Mapping[str, int],
    total: int,
    lexemes: int,
    need: int,
    filtered: bool,
    budget: int | None = None,
    cap: int | None = None,
) -> KeywordPlan | None:
    """Which rows to rank for a keyword query, from the document frequencies of its lexemes.

    ``dfs``: lexeme -> chunks holding it; ``total``: chunks; ``lexemes``: their summed lexeme counts;
    ``need``: rows wanted; ``filtered``: a path or language filter applies; ``budget`` and ``cap``
    default to max(CORE_MIN, CORE_PER_ROW * need) and ``need``. The score is BM25 (each
    matched lexeme adds its idf times a saturating function of its count), so rows holding a rare
    lexeme outrank rows holding only common ones, and ranking every row of a lexeme that half the
    index holds (~1 s at 100k chunks) would mostly rank rows that come last. So:
    - the core: every row matching one of the rarest lexemes whose frequencies add up to ``budget``;
    - plus at most ``cap`` rows matching only commoner lexemes, when the core may hold fewer than
      ``need`` rows (none of its lexemes is in ``need`` rows, or it is empty, or a filter may remove
      its rows); taken from a sample of the table's pages when the GIN index would have to list
      more than SAMPLE_ABOVE * ``budget`` rows for them.
    All the query's lexemes score every candidate, so rows holding more of them rank higher. None
    when no chunk holds any lexeme.
    """
    present = sorted(((lex, df) for lex, df in dfs.items() if df > 0), key=lambda item: (item[1], item[0]))
    present = present[:MAX_LEXEMES]
    if not present:
        return None
    budget = max(CORE_MIN, CORE_PER_ROW * need) if budget is None else budget
    cap = need if cap is None else cap
    total = max(total, max(df for _, df in present))
    weights = tuple((lex, bm25_idf(df, total)) for lex, df in present)
    return KeywordPlan(weights, max(lexemes / total, 1.0), _branches(present, need, filtered, budget, cap))


def _rarest_within(present: list[tuple[str, int]], budget: int) -> list[tuple[str, int]]:
    """The rarest lexemes (``present`` is rarest first) whose document frequencies add up to ``budget``."""
    core: list[tuple[str, int]] = []
    for lex, df in present:
        if sum(d for _, d in core) + df > budget:
            break
        core.append((lex, df))
    return core


def _branches(
    present: list[tuple[str, int]], need: int, filtered: bool, budget: int, cap: int
) -> tuple[KeywordBranch, ...]:
    everything = tsquery_literal([lex for lex, _ in present], "|")
    core = _rarest_within(present, budget)
    if len(core) == len(present):
        return (KeywordBranch(everything),)
    branches = []
    exclude = None
    if core:
        branches.append(KeywordBranch(tsquery_literal([lex for lex, _ in core], "|")))
        exclude = branches[0].tsquery
        if not filtered and max(df for _, df in core) >= need:
            return tuple(branches)
    # The rest: through the GIN index when that is cheap enough (building its bitmap costs ~0.4 us a
    # row: 20 ms for a lexeme in 50k chunks, LIMIT or not) or exact rows are needed under a filter;
    # else from a sample of pages sized to hold ~4 * cap of them (sub-millisecond).
    rest = [df for lex, df in present if (lex, df) not in core]
    if filtered or sum(rest) <= SAMPLE_ABOVE * budget:
        branches.append(KeywordBranch(everything, cap, exclude))
    else:
        pct = min(100.0, 100.0 * 4 * cap / max(rest))
        branches.append(KeywordBranch(everything, cap, exclude, round(pct, 4)))
    return tuple(branches)


def pg_tokens(text: str) -> list[str]:
    # Postgres' parser splits on "_", so whole identifiers are kept by dropping the underscores.
    return [t.replace("_", "") for t in tokenize(text) if t.replace("_", "")]

"""The SQL of writes and searches: chunk and manifest upserts, filters, BM25 of a keyword plan, the fused hybrid.

Only table names from the validated config are formatted into statements; every value is bound.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from agent_brain_mcp.backends.base import ChunkRecord, FileRecord, ScoredChunk, SearchFilters
from agent_brain_mcp.backends.postgres.keyword_plan import KeywordPlan, pg_tokens, tsquery_literal
from agent_brain_mcp.backends.postgres.schema import SchemaParams, term_counts_sql
from agent_brain_mcp.backends.store_rules import like_prefix, path_prefix_sql
from agent_brain_mcp.fusion import BM25_B, BM25_K1

_ZETA2 = math.pi**2 / 6  # sum(1/j^2, j=1..inf)
COLUMNS = "node_id, root, rel_path, start_line, end_line, language, symbol, text"


def vector_literal(values: Sequence[float]) -> str:
    return "[" + ",".join(f"{float(v):.7g}" for v in values) + "]"


def stored_vector(values: Sequence[float] | None) -> str | None:
    """pgvector's text form of a chunk's vector; None (SQL NULL) for a pending vector."""
    return None if values is None else vector_literal(values)


def filters_sql(filters: SearchFilters, args: dict[str, Any]) -> str:
    clauses = ["TRUE"]
    if filters.language:
        clauses.append("language = :language")
        args["language"] = filters.language
    if filters.path_prefix:
        clauses.append(path_prefix_sql(":prefix"))
        args["prefix"] = like_prefix(filters.path_prefix)
    return " AND ".join(clauses)


# -- writes ------------------------------------------------------------------------------------------------
def chunk_row(root: str, c: ChunkRecord) -> dict[str, Any]:
    """A chunk's parameters for ``upsert_chunks_sql`` (``metadata_`` as LlamaIndex's PGVectorStore reads it)."""
    meta = {
        "root": root,
        "rel_path": c.rel_path,
        "start_line": c.start_line,
        "end_line": c.end_line,
        "language": c.language,
        "symbol": c.symbol,
        "ref_doc_id": f"{root}/{c.rel_path}",
        "doc_id": f"{root}/{c.rel_path}",
    }
    return {
        "text": c.text,
        "meta": json.dumps(meta),
        "node_id": c.id,
        "emb": stored_vector(c.embedding),
        "root": root,
        "rel_path": c.rel_path,
        "ordinal": c.ordinal,
        "start_line": c.start_line,
        "end_line": c.end_line,
        "language": c.language,
        "symbol": c.symbol,
        "tokens": " ".join(pg_tokens(c.search_text)),
    }


def upsert_chunks_sql(p: SchemaParams) -> str:
    return (
        f"INSERT INTO {p.chunks} (text, metadata_, node_id, embedding, root, rel_path, ordinal, "
        "start_line, end_line, language, symbol, search_tokens) VALUES (:text, CAST(:meta AS jsonb), "
        f"  :node_id, CAST(:emb AS vector({p.dimension})), :root, :rel_path, :ordinal, :start_line, "
        ":end_line, :language, :symbol, :tokens) "
        "ON CONFLICT (node_id) DO UPDATE SET text = excluded.text, metadata_ = excluded.metadata_, "
        "embedding = excluded.embedding, root = excluded.root, rel_path = excluded.rel_path, "
        "ordinal = excluded.ordinal, start_line = excluded.start_line, end_line = excluded.end_line, "
        "language = excluded.language, symbol = excluded.symbol, search_tokens = excluded.search_tokens"
    )


def add_terms_sql(p: SchemaParams) -> str:
    """Count the lexemes of the chunks just written for ``:root`` / ``:paths`` into the document frequencies."""
    return (
        f"WITH added AS (SELECT text_search_tsv FROM {p.chunks} "
        "WHERE root = :root AND rel_path = ANY(:paths)) "
        f"INSERT INTO {p.terms} (term, df) {term_counts_sql(p, 'added')} "
        f"ON CONFLICT (term) DO UPDATE SET df = {p.terms}.df + excluded.df"
    )


def file_row(root: str, r: FileRecord) -> dict[str, Any]:
    return {
        "root": root,
        "rel_path": r.rel_path,
        "size": r.size,
        "mtime_ns": r.mtime_ns,
        "sha256": r.sha256,
        "chunk_count": r.chunk_count,
        "language": r.language,
    }


def upsert_files_sql(p: SchemaParams) -> str:
    return (
        f"INSERT INTO {p.files} (root, rel_path, size, mtime_ns, sha256, chunk_count, language) "
        "VALUES (:root, :rel_path, :size, :mtime_ns, :sha256, :chunk_count, :language) "
        "ON CONFLICT (root, rel_path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
        "sha256 = excluded.sha256, chunk_count = excluded.chunk_count, language = excluded.language"
    )


# -- searches ----------------------------------------------------------------------------------------------
def hit(row: Any, score: float, vrank: int | None = None, krank: int | None = None) -> ScoredChunk:
    return ScoredChunk(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], score, vrank, krank)


def prefixed_columns() -> str:
    return ", ".join("c." + col.strip() for col in COLUMNS.split(","))


def keyword_sql(p: SchemaParams, plan: KeywordPlan, where: str, args: dict[str, Any]) -> str:
    """``SELECT id, score ... ORDER BY score DESC, id LIMIT :kn`` for a plan (values bound in ``args``).

    Each candidate's tsvector is read (detoasted) once, behind ``OFFSET 0`` fences: without them
    the planner inlines the expressions and every ``ts_rank`` call detoasts it again.
    """
    parts = []
    for i, branch in enumerate(plan.branches):
        args[f"kq{i}"] = branch.tsquery
        cond = f"text_search_tsv @@ CAST(:kq{i} AS tsquery)"
        if branch.exclude is not None:
            args[f"kx{i}"] = branch.exclude
            cond += f" AND NOT text_search_tsv @@ CAST(:kx{i} AS tsquery)"
        source = p.chunks
        if branch.sample_pct is not None:
            args[f"ks{i}"] = branch.sample_pct
            source += f" TABLESAMPLE SYSTEM (CAST(:ks{i} AS float4)) REPEATABLE (0)"
        sql = f"SELECT id, setweight(text_search_tsv, 'D') AS tsv FROM {source} WHERE {cond} AND {where}"
        if branch.limit is not None:
            args[f"kl{i}"] = branch.limit
            sql = f"({sql} LIMIT :kl{i})"
        parts.append(sql)
    ranks, terms = [], []
    for i, (lexeme, weight) in enumerate(plan.weights):
        args[f"kt{i}"] = tsquery_literal([lexeme], "|")
        args[f"kw{i}"] = weight
        ranks.append(f"ts_rank(tsv, CAST(:kt{i} AS tsquery)) AS r{i}")
        # ts_rank of one lexeme is 0.1 * sum(1/j^2, j=1..tf) / (pi^2/6): invert it to the count.
        tf = f"(CASE WHEN r{i} > 0 THEN 1 / GREATEST({_ZETA2:.10f} - {10 * _ZETA2:.9f} * r{i}, 0.001) - 0.5 ELSE 0 END)"
        terms.append(f"CAST(:kw{i} AS float8) * {tf} / ({tf} + norm)")
    args |= {"kk1": BM25_K1, "kb": BM25_B, "kavgdl": plan.avgdl}
    return (
        f"SELECT id, {' + '.join(terms)} AS score FROM ("
        f"SELECT id, {', '.join(ranks)}, CAST(:kk1 AS float8) * (1 - CAST(:kb AS float8) + CAST(:kb AS float8) "
        "* length(tsv) / CAST(:kavgdl AS float8)) AS norm "
        f"FROM (SELECT id, tsv FROM ({' UNION ALL '.join(parts)}) c0 OFFSET 0) c1 OFFSET 0"
        ") c2 ORDER BY score DESC, id LIMIT :kn"
    )


def hybrid_sql(p: SchemaParams, plan: KeywordPlan | None, filters: SearchFilters, args: dict[str, Any]) -> str:
    """HNSW top-N and full-text top-N fused by weighted reciprocal rank; only the ``top_k`` fused rows are read in full."""
    where = filters_sql(filters, args)
    dist = f"{p.vector_expr} <=> CAST(:q AS {p.query_cast})"
    keyword = (
        f"SELECT id, ROW_NUMBER() OVER (ORDER BY score DESC, id) AS rnk FROM ({keyword_sql(p, plan, where, args)}) t"
        if plan is not None
        else "SELECT CAST(NULL AS bigint) AS id, CAST(NULL AS bigint) AS rnk WHERE FALSE"
    )
    return f"""
        WITH vec AS (
            SELECT id, ROW_NUMBER() OVER (ORDER BY d) AS rnk FROM (
                SELECT id, {dist} AS d FROM {p.chunks} WHERE {where} AND embedding IS NOT NULL
                    ORDER BY d LIMIT :n
            ) v
        ), kw AS ({keyword}), fused AS (
            SELECT COALESCE(vec.id, kw.id) AS id, vec.rnk AS vrank, kw.rnk AS krank,
                   COALESCE(CAST(:alpha AS float8) / (:rrf_k + vec.rnk), 0)
                 + COALESCE((1 - CAST(:alpha AS float8)) / (:rrf_k + kw.rnk), 0) AS score
            FROM vec FULL OUTER JOIN kw ON vec.id = kw.id
        ), top AS (
            SELECT id, vrank, krank, score FROM fused WHERE score > 0
            ORDER BY score DESC, vrank NULLS LAST, id LIMIT :k
        )
        SELECT {prefixed_columns()}, t.score, t.vrank, t.krank
        FROM top t JOIN {p.chunks} c ON c.id = t.id
        ORDER BY t.score DESC, t.vrank NULLS LAST, t.id
    """

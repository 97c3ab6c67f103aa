"""The PostgreSQL schema, as statements parametrised by table name and embedding dimension.

Alembic's revisions call these (so the schema is owned by migrations), and a rebuild for another
embedding model reuses ``vector_index_ddl`` to retype the vector column. Nothing here connects.

Layout (``<t>`` = ``storage.postgresql.table``):
- ``data_<t>``: one row per chunk, readable by LlamaIndex's ``PGVectorStore(table_name=<t>,
  perform_setup=False)``: ``id``, ``text``, ``metadata_`` (jsonb), ``node_id`` (unique),
  ``embedding vector(N)``, ``text_search_tsv`` (generated) — plus typed columns for our filters.
- ``<t>_files``: the manifest (one row per indexed file, content hash, chunk count).
- ``<t>_roots``: indexed roots and their last run; ``<t>_meta``: embedding identity.
- ``<t>_vectors`` (revision 0003): vectors by (model identity, exact embedding text), the store the
  pipeline consults before it calls the model (``vector_store.py``): ``key`` (SHA-256), ``dim``,
  ``vector`` (little-endian float32 bytes, the same rows as Chroma's ``vectors.sqlite3``), ``used``.
- ``<t>_terms`` (revision 0002): document frequency of every lexeme of ``text_search_tsv`` (how many
  chunks hold it), kept exact by the same transactions that write chunks. Two reserved rows, whose
  terms the parser never makes: ``''`` holds the number of chunks and ``' '`` the sum of their
  lexeme counts (for the average chunk length). Keyword queries use it to weight terms by rarity
  (BM25's idf) and to leave the rows of very common terms out of the candidates.
Dimensions above 2,000 cannot use an HNSW index on ``vector``: the index is built on the
``halfvec`` cast of the column instead, and queries order by the same expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HNSW_MAX_VECTOR_DIMS = 2000
HALFVEC_MAX_DIMS = 4000
TS_CONFIG = "simple"  # our tokenizer already split identifiers and dropped stop words
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


@dataclass(frozen=True)
class SchemaParams:
    table: str
    dimension: int
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64

    def __post_init__(self) -> None:
        if not _NAME.match(self.table):
            raise ValueError(f"invalid table name {self.table!r}")
        if not 1 <= self.dimension <= HALFVEC_MAX_DIMS:
            raise ValueError(f"embedding dimension {self.dimension} is not supported (1-{HALFVEC_MAX_DIMS})")

    @property
    def chunks(self) -> str:
        return f"data_{self.table}"

    @property
    def files(self) -> str:
        return f"{self.table}_files"

    @property
    def roots(self) -> str:
        return f"{self.table}_roots"

    @property
    def meta(self) -> str:
        return f"{self.table}_meta"

    @property
    def uses_halfvec(self) -> bool:
        return self.dimension > HNSW_MAX_VECTOR_DIMS

    @property
    def vector_expr(self) -> str:
        """The expression the HNSW index covers and queries order by."""
        return f"(embedding::halfvec({self.dimension}))" if self.uses_halfvec else "embedding"

    @property
    def query_cast(self) -> str:
        return f"halfvec({self.dimension})" if self.uses_halfvec else f"vector({self.dimension})"

    @property
    def terms(self) -> str:
        return f"{self.table}_terms"

    @property
    def vectors(self) -> str:
        return f"{self.table}_vectors"

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.table}"


def vector_index_ddl(p: SchemaParams) -> str:
    ops = "halfvec_cosine_ops" if p.uses_halfvec else "vector_cosine_ops"
    return (
        f"CREATE INDEX IF NOT EXISTS {p.chunks}_embedding_hnsw ON {p.chunks} USING hnsw ({p.vector_expr} {ops}) "
        f"WITH (m = {int(p.hnsw_m)}, ef_construction = {int(p.hnsw_ef_construction)})"
    )


def upgrade_statements(p: SchemaParams) -> list[str]:
    """Revision 0001: the whole initial schema."""
    return [
        "CREATE EXTENSION IF NOT EXISTS vector",
        f"""CREATE TABLE IF NOT EXISTS {p.meta} (key text PRIMARY KEY, value text NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS {p.roots} (root text PRIMARY KEY, last_indexed timestamptz)""",
        f"""CREATE TABLE IF NOT EXISTS {p.files} (
            root text NOT NULL,
            rel_path text NOT NULL,
            size bigint NOT NULL,
            mtime_ns bigint NOT NULL,
            sha256 text NOT NULL,
            chunk_count integer NOT NULL,
            language text NOT NULL,
            PRIMARY KEY (root, rel_path)
        )""",
        f"""CREATE TABLE IF NOT EXISTS {p.chunks} (
            id bigserial PRIMARY KEY,
            text varchar NOT NULL,
            metadata_ jsonb NOT NULL,
            node_id varchar NOT NULL UNIQUE,
            embedding vector({p.dimension}) NOT NULL,
            root text NOT NULL,
            rel_path text NOT NULL,
            ordinal integer NOT NULL,
            start_line integer NOT NULL,
            end_line integer NOT NULL,
            language text NOT NULL,
            symbol text,
            search_tokens text NOT NULL,
            text_search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('{TS_CONFIG}', search_tokens)) STORED
        )""",
        f"CREATE INDEX IF NOT EXISTS {p.chunks}_tsv_gin ON {p.chunks} USING gin (text_search_tsv)",
        f"CREATE INDEX IF NOT EXISTS {p.chunks}_file ON {p.chunks} (root, rel_path)",
        f"CREATE INDEX IF NOT EXISTS {p.chunks}_rel_path_prefix ON {p.chunks} (rel_path text_pattern_ops)",
        f"CREATE INDEX IF NOT EXISTS {p.chunks}_language ON {p.chunks} (language)",
        f"CREATE INDEX IF NOT EXISTS {p.chunks}_ref_doc_id ON {p.chunks} ((metadata_ ->> 'ref_doc_id'))",
        vector_index_ddl(p),
    ]


def downgrade_statements(p: SchemaParams) -> list[str]:
    """Drop what 0001 created (the extension stays: other schemas may use it)."""
    return [f"DROP TABLE IF EXISTS {t}" for t in (p.chunks, p.files, p.roots, p.meta)]


# The reserved rows of ``<t>_terms`` (no lexeme is empty or white space).
CHUNKS_TERM = ""  # df = the number of chunks
LEXEMES_TERM = " "  # df = the sum over chunks of their distinct lexemes


def term_counts_sql(p: SchemaParams, rows: str) -> str:
    """``(term, df)`` for the chunks of ``rows`` (a FROM item with a ``text_search_tsv`` column), plus
    the two reserved rows. Each chunk counts once per distinct lexeme."""
    return (
        f"SELECT lexeme AS term, count(*) AS df FROM {rows}, unnest(tsvector_to_array(text_search_tsv)) AS lexeme "
        f"GROUP BY lexeme UNION ALL SELECT '{CHUNKS_TERM}', count(*) FROM {rows} "
        f"UNION ALL SELECT '{LEXEMES_TERM}', COALESCE(sum(length(text_search_tsv)), 0) FROM {rows}"
    )


GIN_PENDING_LIST_KB = 256


def terms_upgrade_statements(p: SchemaParams) -> list[str]:
    """Revision 0002, for keyword queries at scale:
    - the document-frequency table, filled from the chunks already there;
    - the tsvector kept in the row (storage MAIN) rather than in the TOAST table, so that ranking a
      candidate reads one heap page instead of ~4 more pages of TOAST and its index (applies to rows
      written from now on: re-index with force=true to move the existing ones);
    - a GIN pending list of at most 256 kB instead of 4 MB: every GIN search reads all of it, which
      after a bulk write cost ~3 ms a search at 100k chunks.
    """
    return [
        f"CREATE TABLE IF NOT EXISTS {p.terms} (term text PRIMARY KEY, df bigint NOT NULL)",
        f"INSERT INTO {p.terms} (term, df) {term_counts_sql(p, p.chunks)} "
        "ON CONFLICT (term) DO UPDATE SET df = excluded.df",
        f"ALTER TABLE {p.chunks} ALTER COLUMN text_search_tsv SET STORAGE MAIN",
        f"ALTER INDEX {p.chunks}_tsv_gin SET (gin_pending_list_limit = {GIN_PENDING_LIST_KB})",
    ]


def terms_downgrade_statements(p: SchemaParams) -> list[str]:
    return [
        f"ALTER INDEX {p.chunks}_tsv_gin RESET (gin_pending_list_limit)",
        f"ALTER TABLE {p.chunks} ALTER COLUMN text_search_tsv SET STORAGE EXTENDED",
        f"DROP TABLE IF EXISTS {p.terms}",
    ]


def vectors_upgrade_statements(p: SchemaParams) -> list[str]:
    """Revision 0003: the content-addressed vector store (kept by ``reset``: keys name their model)."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {p.vectors} (
            key bytea PRIMARY KEY,
            dim integer NOT NULL,
            vector bytea NOT NULL,
            used bigint NOT NULL
        )""",
        f"CREATE INDEX IF NOT EXISTS {p.vectors}_used ON {p.vectors} (used)",
    ]


def vectors_downgrade_statements(p: SchemaParams) -> list[str]:
    return [f"DROP TABLE IF EXISTS {p.vectors}"]


def pending_vectors_upgrade_statements(p: SchemaParams) -> list[str]:
    """Revision 0004, keyword first: a chunk row may be written before its vector (``embedding`` NULL,
    filled in by an UPDATE in the same run). The HNSW index leaves NULLs out; a partial index lists the
    pending rows in write order, and stays empty once every vector is in."""
    return [
        f"ALTER TABLE {p.chunks} ALTER COLUMN embedding DROP NOT NULL",
        f"CREATE INDEX IF NOT EXISTS {p.chunks}_vector_pending ON {p.chunks} (id) WHERE embedding IS NULL",
    ]


def pending_vectors_downgrade_statements(p: SchemaParams) -> list[str]:
    """Files with a pending vector are forgotten with their chunks (the next run indexes them again;
    the document frequencies of their lexemes stay counted until a force=true run) before NOT NULL returns."""
    return [
        f"WITH doubtful AS (SELECT DISTINCT root, rel_path FROM {p.chunks} WHERE embedding IS NULL), "
        f"gone AS (DELETE FROM {p.chunks} c USING doubtful d WHERE c.root = d.root AND c.rel_path = d.rel_path) "
        f"DELETE FROM {p.files} f USING doubtful d WHERE f.root = d.root AND f.rel_path = d.rel_path",
        f"DROP INDEX IF EXISTS {p.chunks}_vector_pending",
        f"ALTER TABLE {p.chunks} ALTER COLUMN embedding SET NOT NULL",
    ]

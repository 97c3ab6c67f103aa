"""Where each backend's index lives, in words for people: one function per backend, asked by everyone.

The backends' ``info().location``, ``index_status`` before the index is open, the CLI's banner and its
"nothing is indexed in ..." message all come from here. Light on purpose: the banner is printed before
any store is opened, and nothing here imports a database or a vector library.
"""

from __future__ import annotations

import os
from pathlib import Path

from agent_brain_mcp.config import ChromaSettings, PostgresSettings, Settings
from agent_brain_mcp.redaction import DATABASE_URL_ENV as URL_ENV


def chroma_location(chroma: ChromaSettings, persist_dir: Path) -> str:
    """The index folder (Chroma, manifest and keyword index), or the Chroma server and the local folder."""
    if chroma.host:
        return f"chroma server {chroma.host}:{chroma.port} (manifest and keyword index in {persist_dir})"
    return str(persist_dir)


def postgres_location(pg: PostgresSettings, data_dir: Path, shown_url: str | None = None) -> str:
    """The embedded server's data folder, or the server (``shown_url``: a URL without its password, once open)."""
    if pg.embedded:
        return f"embedded PostgreSQL in {data_dir} (table {pg.table})"
    if shown_url:
        server = shown_url
    elif os.environ.get(URL_ENV) or pg.url:
        server = f"the server of {URL_ENV if os.environ.get(URL_ENV) else 'storage.postgresql.url'}"
    else:
        server = f"{pg.host}:{pg.port}/{pg.database}"
    return f"PostgreSQL {server} (table {pg.table})"


def index_location(settings: Settings) -> str:
    """Where the configured backend keeps its index, without opening it."""
    storage = settings.storage
    if storage.backend == "postgresql":
        return postgres_location(storage.postgresql, settings.resolve(storage.postgresql.data_dir))
    return chroma_location(storage.chromadb, settings.resolve(storage.chromadb.persist_dir))

"""Settings: one small pydantic model per concern, read once from YAML, validated at start-up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent_brain_mcp.errors import ConfigError

DEFAULT_CONFIG_PATH = Path(".claude/agent-brain/config.yaml")
CONFIG_ENV = "AGENT_BRAIN_CONFIG"
DEFAULT_STATE_DIR = Path(".claude/agent-brain/index")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChromaSettings(_Strict):
    """Embedded Chroma in ``persist_dir``, or a Chroma server at ``host``:``port``."""

    persist_dir: Path = DEFAULT_STATE_DIR
    collection: str = Field(default="agent_brain", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,61}[a-zA-Z0-9]$")
    host: str | None = None
    port: int = Field(default=8000, ge=1, le=65535)
    ssl: bool = False


class PostgresSettings(_Strict):
    """A PostgreSQL + pgvector server (used by the ``postgresql`` backend)."""

    url: str | None = None
    host: str = "localhost"
    port: int = Field(default=5432, ge=1, le=65535)
    database: str = "agent_brain"
    user: str = "agent_brain"
    password_env: str = "AGENT_BRAIN_DB_PASSWORD"  # noqa: S105 - the name of an env var, not a secret
    pool_size: int = Field(default=5, ge=1, le=100)
    max_overflow: int = Field(default=5, ge=0, le=100)
    table: str = Field(default="agent_brain", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    hnsw_m: int = Field(default=16, ge=2, le=100)
    hnsw_ef_construction: int = Field(default=64, ge=4, le=1000)
    hnsw_ef_search: int = Field(default=64, ge=1, le=1000)
    embedded: bool = False
    data_dir: Path = Path(".claude/agent-brain/postgres")
    # The embedded server stays up this long after its last user (a CLI command, the MCP server)
    # exits, so the next one starts in a second instead of ~7; then it stops by itself. 0: at once.
    keep_alive_seconds: float = Field(default=120.0, ge=0, le=86400)


class StorageSettings(_Strict):
    backend: Literal["chromadb", "postgresql"] = "chromadb"
    chromadb: ChromaSettings = ChromaSettings()
    postgresql: PostgresSettings = PostgresSettings()


class EmbeddingSettings(_Strict):
    """Which model turns text into vectors. ``local`` needs no network and no key."""

    provider: Literal["local", "openai", "ollama", "hash"] = "local"
    model: str | None = None
    dimension: int | None = Field(default=None, ge=1, le=16000)
    batch_size: int = Field(default=32, ge=1, le=2048)
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    timeout_seconds: float = Field(default=60.0, gt=0)
    # Recent query vectors kept in memory (by model and exact query text); 0 turns the cache off.
    query_cache_size: int = Field(default=512, ge=0, le=100_000)

    @model_validator(mode="after")
    def _check_provider_options(self) -> EmbeddingSettings:
        if self.provider == "local" and self.dimension not in (None, 384):
            raise ValueError("embedding.dimension: the local model (all-MiniLM-L6-v2) has 384 dimensions")
        return self


class IndexingSettings(_Strict):
    """How files are chosen and cut into chunks."""

    # ~1,000 characters is ~256 tokens of code: the local model reads no further, so a bigger
    # chunk's tail would be invisible to the semantic side.
    chunk_lines: int = Field(default=40, ge=5, le=2000)
    chunk_overlap_lines: int = Field(default=5, ge=0, le=500)
    chunk_chars: int = Field(default=1000, ge=200, le=100_000)
    max_file_bytes: int = Field(default=1_000_000, ge=1)
    exclude: list[str] = Field(default_factory=list)
    include: list[str] = Field(default_factory=list)
    use_gitignore: bool = True
    # Data markup (SVG, ...), lock files and generated files are skipped unless this is false or
    # they match ``index_anyway`` (see indexing/filetypes.py).
    skip_data_files: bool = True
    index_anyway: list[str] = Field(default_factory=list)
    # Private keys, .env files, cloud and registry credentials are skipped unless this is true
    # (or an include glob names them): see indexing/secret_files.py.
    index_secrets: bool = False
    # The stdio server re-indexes edits under indexed roots as they happen (see watcher.py).
    watch: bool = True
    watch_debounce_ms: int = Field(default=300, ge=0, le=60_000)
    watch_polling: bool = False  # poll instead of OS events (e.g. network file systems)
    # Vectors kept by (model, exact text) so no text is embedded twice; least recently used beyond
    # this many are pruned at the end of each run. 0 turns the store off.
    vector_store_max_vectors: int = Field(default=100_000, ge=0)

    @model_validator(mode="after")
    def _check_overlap(self) -> IndexingSettings:
        if self.chunk_overlap_lines >= self.chunk_lines:
            raise ValueError("indexing.chunk_overlap_lines must be smaller than indexing.chunk_lines")
        return self


class SecuritySettings(_Strict):
    """Where ``index_path`` may read. The folder the server started in is always allowed."""

    allowed_roots: list[Path] = Field(default_factory=list)


class LoggingSettings(_Strict):
    """Logs go to stderr (stdout is the MCP channel) and, with ``file``, also to that file."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    file: Path | None = None


class Settings(_Strict):
    """The whole config file."""

    storage: StorageSettings = StorageSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    indexing: IndexingSettings = IndexingSettings()
    security: SecuritySettings = SecuritySettings()
    logging: LoggingSettings = LoggingSettings()
    # Relative paths in the config resolve against this directory (where the server started).
    project_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    def allowed_roots(self) -> list[Path]:
        """The project folder plus ``security.allowed_roots``, resolved (symlinks followed)."""
        return [self.project_dir.resolve(), *(self.resolve(p).resolve() for p in self.security.allowed_roots)]

    def resolve(self, path: Path) -> Path:
        """An absolute path for a config path, relative ones taken from ``project_dir``."""
        path = path.expanduser()
        return path if path.is_absolute() else (self.project_dir / path).resolve()


def _format_error(err: ValidationError, source: str) -> str:
    lines = [f"Invalid config in {source}:"]
    for item in err.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        msg = item["msg"]
        if item["type"] == "literal_error":
            allowed = item.get("ctx", {}).get("expected", "")
            msg = f"must be one of {allowed}, got {item['input']!r}"
        elif item["type"] == "extra_forbidden":
            msg = "is not a known setting (check the spelling; see the README's config reference)"
        lines.append(f"  - {key}: {msg}")
    return "\n".join(lines)


# Agent Brain (PyPI ``agent-brain-ag-mcp``), another tool, also installs a module ``agent_brain_mcp`` and
# a command ``agent-brain-mcp`` and reads the same config file names with its own schema. These are
# its keys and values that ours never had, so a config written for it gets a message saying so.
_OTHER_TOOL_SECTIONS = ("summarization", "reranker", "reranking", "graphrag")
_OTHER_TOOL_BACKENDS = {"chroma": "chromadb", "postgres": "postgresql"}


def _other_tool_signs(data: dict[str, Any]) -> list[str]:
    """What marks ``data`` as a config for Agent Brain rather than for this server (empty if nothing)."""
    signs = [f"a top-level '{key}' section" for key in _OTHER_TOOL_SECTIONS if key in data]
    storage, embedding = data.get("storage"), data.get("embedding")
    if isinstance(storage, dict):
        backend = storage.get("backend")
        if isinstance(backend, str) and backend in _OTHER_TOOL_BACKENDS:
            signs.append(f"storage.backend '{backend}' (this server's name is '{_OTHER_TOOL_BACKENDS[backend]}')")
        if "postgres" in storage:
            signs.append("storage.postgres (this server's section is storage.postgresql)")
    if isinstance(embedding, dict):
        signs += [f"embedding.{key}" for key in ("params", "api_key") if key in embedding]
    return signs


def _other_tool_message(source: str, signs: list[str]) -> str:
    return (
        f"{source} looks like a config for Agent Brain (PyPI agent-brain-ag-mcp), a different tool that reads "
        f"the same file names: it has {', '.join(signs)}. This is agent-brain-mcp (index / search / hybrid, "
        "local model by default), whose config has storage.backend chromadb|postgresql and embedding.provider "
        f"local|openai|ollama. Move that file away, or set ${CONFIG_ENV} to a config written for this server "
        "(see its README)."
    )


def config_path(env: dict[str, str] | None = None, cwd: Path | None = None) -> Path:
    """The config file to read: ``$AGENT_BRAIN_CONFIG`` or ``.claude/agent-brain/config.yaml``."""
    env = os.environ if env is None else env  # type: ignore[assignment]
    assert env is not None
    raw = env.get(CONFIG_ENV)
    base = cwd or Path.cwd()
    if raw:
        path = Path(raw).expanduser()
        return path if path.is_absolute() else base / path
    return base / DEFAULT_CONFIG_PATH


def load_settings(path: Path | None = None, *, cwd: Path | None = None) -> Settings:
    """Read and validate the config; a missing file means defaults.

    Raises ``ConfigError`` naming the bad key and the allowed values.
    """
    import yaml  # small, but only needed here

    cwd = (cwd or Path.cwd()).resolve()
    from_env = path is None and bool(os.environ.get(CONFIG_ENV))
    explicit = path is not None or from_env
    path = path or config_path(cwd=cwd)
    data: Any = {}
    if path.exists():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Invalid config in {path}: not valid YAML ({exc})") from exc
        except OSError as exc:
            raise ConfigError(f"Cannot read config {path}: {exc.strerror}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"Invalid config in {path}: the top level must be a mapping of settings")
    elif explicit:
        origin = f" (from ${CONFIG_ENV})" if from_env else ""
        raise ConfigError(f"Config file {path}{origin} does not exist")
    try:
        return Settings.model_validate({**data, "project_dir": cwd})
    except ValidationError as exc:
        signs = _other_tool_signs(data)
        if signs:
            raise ConfigError(_other_tool_message(str(path), signs)) from exc
        raise ConfigError(_format_error(exc, str(path))) from exc

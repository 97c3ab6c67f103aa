"""Settings: defaults, YAML round-trips, and errors that name the bad key and the allowed values."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent_brain_mcp.config import (
    CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    IndexingSettings,
    Settings,
    config_path,
    load_settings,
)
from agent_brain_mcp.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path.resolve()


def _write(project: Path, text: str, rel: str = "config.yaml") -> Path:
    path = project / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path, cwd: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path, cwd=cwd)
    return str(info.value)


def test_a_missing_default_config_file_gives_the_defaults(project: Path) -> None:
    settings = load_settings(cwd=project)
    assert settings == Settings(project_dir=project)
    assert settings.storage.backend == "chromadb"
    assert settings.embedding.provider == "local"
    assert settings.indexing.chunk_lines == 40
    assert settings.indexing.chunk_overlap_lines == 5
    assert settings.project_dir == project


def test_the_default_config_file_is_read_from_the_working_folder(project: Path) -> None:
    _write(project, "logging:\n  level: DEBUG\n", str(DEFAULT_CONFIG_PATH))
    assert load_settings(cwd=project).logging.level == "DEBUG"


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "~\n"])
def test_an_empty_config_file_gives_the_defaults(project: Path, text: str) -> None:
    assert load_settings(_write(project, text), cwd=project) == Settings(project_dir=project)


FULL_CONFIG = """
storage:
  backend: postgresql
  chromadb:
    persist_dir: state/chroma
    collection: my_code
    host: chroma.internal
    port: 8001
    ssl: true
  postgresql:
    url: postgresql://db.internal/brain
    host: db.internal
    port: 5433
    database: brain
    user: brain_user
    password_env: BRAIN_PW
    pool_size: 10
    max_overflow: 2
    table: chunks_v2
    hnsw_m: 32
    hnsw_ef_construction: 128
    hnsw_ef_search: 100
    embedded: false
    data_dir: state/pg
    keep_alive_seconds: 30.0
embedding:
  provider: openai
  model: text-embedding-3-small
  dimension: 1536
  batch_size: 64
  base_url: https://api.example.com/v1
  api_key_env: MY_KEY
  timeout_seconds: 30.5
  query_cache_size: 100
indexing:
  chunk_lines: 80
  chunk_overlap_lines: 12
  chunk_chars: 3000
  max_file_bytes: 500000
  exclude: ["*.gen.py", "fixtures/"]
  include: ["src/**"]
  use_gitignore: false
  skip_data_files: false
  index_anyway: ["*.svg"]
  index_secrets: false
  watch: false
  watch_debounce_ms: 500
  watch_polling: true
  vector_store_max_vectors: 5000
security:
  allowed_roots:
  - /srv/shared-docs
logging:
  level: WARNING
  format: json
  file: logs/agent-brain.log
"""


def test_a_full_valid_config_is_read_into_every_field(project: Path) -> None:
    settings = load_settings(_write(project, FULL_CONFIG), cwd=project)
    assert settings.storage.backend == "postgresql"
    assert settings.storage.chromadb.persist_dir == Path("state/chroma")
    assert settings.storage.chromadb.port == 8001
    assert settings.storage.chromadb.ssl is True
    assert settings.storage.postgresql.table == "chunks_v2"
    assert settings.storage.postgresql.hnsw_ef_search == 100
    assert settings.embedding.model == "text-embedding-3-small"
    assert settings.embedding.dimension == 1536
    assert settings.embedding.timeout_seconds == 30.5
    assert settings.indexing.exclude == ["*.gen.py", "fixtures/"]
    assert settings.indexing.include == ["src/**"]
    assert settings.indexing.use_gitignore is False
    assert settings.logging.level == "WARNING"


def test_a_full_valid_config_round_trips_through_yaml(project: Path) -> None:
    first = load_settings(_write(project, FULL_CONFIG), cwd=project)
    dumped = yaml.safe_dump(first.model_dump(mode="json"))
    assert "project_dir" not in dumped
    second = load_settings(_write(project, dumped, "again.yaml"), cwd=project)
    assert second == first
    assert second.model_dump(mode="json") == yaml.safe_load(FULL_CONFIG)


def test_the_defaults_round_trip_through_yaml(project: Path) -> None:
    defaults = Settings(project_dir=project)
    path = _write(project, yaml.safe_dump(defaults.model_dump(mode="json")))
    assert load_settings(path, cwd=project) == defaults


def test_an_unknown_backend_names_storage_backend_and_the_allowed_values(project: Path) -> None:
    message = _error(_write(project, "storage:\n  backend: mysql\n"), project)
    assert "storage.backend" in message
    assert "'chromadb'" in message
    assert "'postgresql'" in message
    assert "mysql" in message
    assert "config.yaml" in message


def test_an_unknown_embedding_provider_names_the_allowed_providers(project: Path) -> None:
    message = _error(_write(project, "embedding:\n  provider: cohere\n"), project)
    assert "embedding.provider" in message
    for allowed in ("'local'", "'openai'", "'ollama'", "'hash'"):
        assert allowed in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("storag:\n  backend: chromadb\n", "storag"),
        ("storage:\n  chromadb:\n    persist_dri: x\n", "storage.chromadb.persist_dri"),
        ("indexing:\n  chunk_size: 10\n", "indexing.chunk_size"),
    ],
)
def test_an_unknown_key_is_named_with_its_full_path(project: Path, text: str, key: str) -> None:
    message = _error(_write(project, text), project)
    assert f"{key}: is not a known setting" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("indexing:\n  chunk_lines: ten\n", "indexing.chunk_lines"),
        ("indexing:\n  exclude: 5\n", "indexing.exclude"),
        ("storage:\n  chromadb:\n    port: high\n", "storage.chromadb.port"),
        ("storage:\n  chromadb:\n    port: 70000\n", "storage.chromadb.port"),
        ("embedding:\n  batch_size: 0\n", "embedding.batch_size"),
        ("embedding:\n  timeout_seconds: -1\n", "embedding.timeout_seconds"),
        ("storage: chromadb\n", "storage"),
        ("logging:\n  level: verbose\n", "logging.level"),
        ("storage:\n  chromadb:\n    collection: 'a b'\n", "storage.chromadb.collection"),
    ],
)
def test_a_wrong_type_or_out_of_range_value_names_its_key(project: Path, text: str, key: str) -> None:
    message = _error(_write(project, text), project)
    assert f"  - {key}: " in message


def test_every_bad_key_is_listed_in_one_error(project: Path) -> None:
    message = _error(_write(project, "storage:\n  backend: x\nindexing:\n  chunk_chars: small\n"), project)
    assert "storage.backend" in message
    assert "indexing.chunk_chars" in message


@pytest.mark.parametrize(("overlap", "lines"), [(10, 10), (20, 10)])
def test_chunk_overlap_lines_must_be_smaller_than_chunk_lines(project: Path, overlap: int, lines: int) -> None:
    text = f"indexing:\n  chunk_lines: {lines}\n  chunk_overlap_lines: {overlap}\n"
    message = _error(_write(project, text), project)
    assert "chunk_overlap_lines must be smaller than indexing.chunk_lines" in message


def test_chunk_overlap_just_below_chunk_lines_is_accepted() -> None:
    assert IndexingSettings(chunk_lines=10, chunk_overlap_lines=9).chunk_overlap_lines == 9


def test_the_local_model_only_accepts_its_own_dimension(project: Path) -> None:
    message = _error(_write(project, "embedding:\n  provider: local\n  dimension: 512\n"), project)
    assert "384" in message


@pytest.mark.parametrize("text", ["- storage\n- indexing\n", "just a string\n", "42\n"])
def test_a_config_that_is_not_a_mapping_is_a_config_error(project: Path, text: str) -> None:
    message = _error(_write(project, text), project)
    assert "must be a mapping" in message


@pytest.mark.parametrize("text", ["storage: [chromadb\n", "a: b: c\n", "storage:\n\tbackend: chromadb\n"])
def test_invalid_yaml_is_a_config_error(project: Path, text: str) -> None:
    message = _error(_write(project, text), project)
    assert "not valid YAML" in message


def test_a_config_that_is_not_utf8_is_a_config_error(project: Path) -> None:
    path = project / "config.yaml"
    path.write_bytes(b"logging:\n  level: \xff\xfe\n")
    assert "not valid YAML" in _error(path, project)


def test_an_explicit_config_path_that_does_not_exist_is_an_error(project: Path) -> None:
    message = _error(project / "nope.yaml", project)
    assert "nope.yaml" in message
    assert "does not exist" in message
    assert CONFIG_ENV not in message  # it came from the caller, not the environment


def test_agent_brain_config_pointing_to_a_missing_file_is_an_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(project / "missing.yaml"))
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=project)
    assert "missing.yaml" in str(info.value)
    assert CONFIG_ENV in str(info.value)


def test_agent_brain_config_is_read_when_it_exists(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(project, "logging:\n  level: ERROR\n", "custom/brain.yaml")
    _write(project, "logging:\n  level: DEBUG\n", str(DEFAULT_CONFIG_PATH))
    monkeypatch.setenv(CONFIG_ENV, "custom/brain.yaml")  # relative: taken from the working folder
    assert load_settings(cwd=project).logging.level == "ERROR"


def test_config_path_prefers_the_environment_variable(project: Path) -> None:
    assert config_path({}, project) == project / DEFAULT_CONFIG_PATH
    assert config_path({CONFIG_ENV: "x/c.yaml"}, project) == project / "x" / "c.yaml"
    assert config_path({CONFIG_ENV: "/etc/brain.yaml"}, project) == Path("/etc/brain.yaml")
    assert config_path({CONFIG_ENV: ""}, project) == project / DEFAULT_CONFIG_PATH


def test_a_relative_persist_dir_resolves_against_the_project_dir(project: Path) -> None:
    path = _write(project, "storage:\n  chromadb:\n    persist_dir: state/../index\n")
    settings = load_settings(path, cwd=project)
    assert settings.resolve(settings.storage.chromadb.persist_dir) == project / "index"


def test_resolve_keeps_absolute_paths_and_expands_the_home_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(project / "home"))
    settings = Settings(project_dir=project / "proj")
    assert settings.resolve(Path("/var/lib/brain")) == Path("/var/lib/brain")
    assert settings.resolve(Path("~/brain")) == project / "home" / "brain"
    assert settings.resolve(Path(".claude/agent-brain/index")) == project / "proj" / ".claude/agent-brain/index"


def test_the_project_dir_is_the_resolved_working_folder(project: Path) -> None:
    (project / "real").mkdir()
    assert load_settings(cwd=project / "real" / "..").project_dir == project


def test_settings_are_frozen(project: Path) -> None:
    settings = load_settings(cwd=project)
    with pytest.raises(Exception, match="frozen"):
        settings.logging = settings.logging  # type: ignore[misc]


AGENT_BRAIN_CONFIG = """\
embedding:
  provider: openai
  model: text-embedding-3-large
  api_key_env: OPENAI_API_KEY
  params:
    batch_size: 100
summarization:
  provider: anthropic
  model: claude-haiku-4-5-20251001
storage:
  backend: postgres
  postgres:
    host: localhost
"""


def test_a_config_written_for_agent_brain_says_it_belongs_to_that_other_tool(project: Path) -> None:
    message = _error(_write(project, AGENT_BRAIN_CONFIG, str(DEFAULT_CONFIG_PATH)), project)
    assert "looks like a config for Agent Brain (PyPI agent-brain-ag-mcp)" in message
    assert "'summarization'" in message and "storage.postgres" in message and "embedding.params" in message
    assert "storage.backend 'postgres'" in message and "'postgresql'" in message
    assert "not a known setting" not in message  # not the confusing key-by-key error


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("storage:\n  backend: chroma\n", "storage.backend 'chroma'"),
        ("summarization:\n  provider: ollama\n", "'summarization'"),
        ("embedding:\n  provider: openai\n  api_key: sk-x\n", "embedding.api_key"),
    ],
)
def test_one_distinctive_agent_brain_key_is_enough_to_name_the_other_tool(project: Path, text: str, sign: str) -> None:
    message = _error(_write(project, text), project)
    assert "Agent Brain" in message and sign in message


def test_an_ordinary_typo_in_our_own_config_is_not_blamed_on_the_other_tool(project: Path) -> None:
    message = _error(_write(project, "storage:\n  backend: chromdb\nembedding:\n  provider: cohere\n"), project)
    assert "Agent Brain" not in message and "storage.backend" in message

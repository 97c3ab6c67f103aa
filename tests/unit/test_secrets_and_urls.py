"""Secrets stay secret by value; careless keys and managed-service database URLs still work."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from agent_brain_mcp import redaction
from agent_brain_mcp.backends.postgres.url import asyncpg_query, database_url
from agent_brain_mcp.config import EmbeddingSettings, PostgresSettings, Settings
from agent_brain_mcp.embeddings.factory import create_embedding_provider
from agent_brain_mcp.errors import ConfigError, EmbeddingError

KEY = "sk-test-Redact-Me-42"


@pytest.fixture(autouse=True)
def no_registered_secrets() -> Iterator[None]:
    saved = set(redaction._secrets)
    redaction._secrets.clear()
    yield
    redaction._secrets.clear()
    redaction._secrets.update(saved)


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])
def test_every_libpq_sslmode_becomes_asyncpgs_ssl_argument(mode: str) -> None:
    url = database_url(PostgresSettings(url=f"postgresql://u@db.example.com/app?sslmode={mode}"), env={})
    assert url.endswith(f"?ssl={mode}")
    assert "sslmode" not in url


def test_an_unknown_sslmode_is_a_config_error_listing_the_modes() -> None:
    with pytest.raises(ConfigError, match="sslmode must be one of disable, allow, prefer, require"):
        asyncpg_query({"sslmode": "sometimes"})


def test_a_libpq_certificate_parameter_names_the_env_var_asyncpg_reads_instead() -> None:
    with pytest.raises(ConfigError, match=r"'sslrootcert' is not supported by asyncpg.*PGSSLROOTCERT"):
        asyncpg_query({"sslmode": "verify-full", "sslrootcert": "/etc/ca.pem"})


def test_a_libpq_parameter_asyncpg_lacks_is_a_config_error_saying_to_remove_it() -> None:
    with pytest.raises(ConfigError, match=r"'channel_binding' is not supported.*remove it"):
        asyncpg_query({"channel_binding": "require"})


def test_asyncpg_parameters_pass_through_unchanged() -> None:
    assert asyncpg_query({"host": "/var/run/postgresql", "target_session_attrs": "read-write"}) == {
        "host": "/var/run/postgresql",
        "target_session_attrs": "read-write",
    }


def test_an_api_key_with_a_trailing_newline_is_stripped() -> None:
    settings = EmbeddingSettings(provider="openai", base_url="http://localhost:9/v1", dimension=8)
    provider = create_embedding_provider(settings, env={"OPENAI_API_KEY": KEY + "\n"})
    assert provider._api_key == KEY  # type: ignore[attr-defined]


def test_an_api_key_with_whitespace_inside_is_refused_without_showing_it() -> None:
    settings = EmbeddingSettings(provider="openai", base_url="http://localhost:9/v1", dimension=8)
    with pytest.raises(ConfigError, match=r"OPENAI_API_KEY.*whitespace inside") as caught:
        create_embedding_provider(settings, env={"OPENAI_API_KEY": "sk-one two"})
    assert "sk-one" not in str(caught.value)


def test_openai_without_a_key_says_the_env_var_is_unset_at_once() -> None:
    provider = create_embedding_provider(EmbeddingSettings(provider="openai", api_key_env="MY_KEY"), env={})
    with pytest.raises(EmbeddingError) as caught:
        provider.load()
    message = str(caught.value)
    assert "MY_KEY" in message and "is not set" in message
    assert "cannot reach" not in message


def test_a_local_openai_compatible_server_needs_no_key() -> None:
    settings = EmbeddingSettings(provider="openai", base_url="http://localhost:9/v1", dimension=8)
    create_embedding_provider(settings, env={}).load()  # no error: nothing is sent yet


def _settings(**embedding: object) -> Settings:
    return Settings.model_validate({"embedding": {"provider": "openai", **embedding}})


def test_configured_secrets_are_masked_in_log_records_and_tracebacks() -> None:
    redaction.register_configured_secrets(
        _settings(api_key_env="K", base_url="https://x.example/v1?api-key=QUERY-SECRET"), env={"K": KEY + "\n"}
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redaction.RedactingFilter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("header %s and url %s", f"Bearer {KEY}\n", "https://x.example/v1?api-key=QUERY-SECRET")
        try:
            raise ValueError(f"Illegal header value b'Bearer {KEY}\\n'")
        except ValueError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert KEY not in text and "QUERY-SECRET" not in text
    assert text.count("***") >= 3
    assert "Illegal header value" in text  # the rest of the message stays readable


def test_an_error_message_never_shows_a_registered_secret() -> None:
    redaction.register_secret(KEY)
    assert str(EmbeddingError(f"refused {KEY}")) == "refused ***"


def test_a_database_password_equal_to_a_public_name_is_not_masked_everywhere() -> None:
    settings = Settings.model_validate({"storage": {"postgresql": {"user": "agent_brain"}}})
    redaction.register_configured_secrets(settings, env={"AGENT_BRAIN_DB_PASSWORD": "agent_brain"})
    assert redaction.redact("table agent_brain_files") == "table agent_brain_files"

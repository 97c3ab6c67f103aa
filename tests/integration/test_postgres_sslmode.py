"""Database URLs with libpq's sslmode (what managed services hand out) open the PostgreSQL backend."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from support import make_settings

from agent_brain_mcp.backends.postgres.backend import PostgresBackend
from agent_brain_mcp.errors import ConfigError

pytestmark = pytest.mark.anyio

MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


async def test_a_url_with_each_sslmode_asyncpg_supports_opens_the_backend(
    tmp_path: Path, sample_project: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # verify-* need a CA file, as with libpq; asyncpg reads it from PGSSLROOTCERT (or ~/.postgresql).
    monkeypatch.setenv("PGSSLROOTCERT", ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
    # The test server listens on a unix socket, where libpq and asyncpg both skip TLS: what is under
    # test is that every mode is accepted and translated (it failed with a TypeError before).
    for mode in MODES:
        settings = make_settings(
            tmp_path / "state", sample_project, backend="postgresql", pg_url=_with_query(pg_url, f"sslmode={mode}")
        )
        backend = PostgresBackend(settings, tmp_path / "state")
        try:
            await backend.open()
        finally:
            await backend.close()


async def test_a_url_with_a_parameter_asyncpg_cannot_take_says_what_to_do(
    tmp_path: Path, sample_project: Path, pg_url: str
) -> None:
    url = _with_query(pg_url, "sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem")
    settings = make_settings(tmp_path / "state", sample_project, backend="postgresql", pg_url=url)
    backend = PostgresBackend(settings, tmp_path / "state")
    with pytest.raises(ConfigError, match="PGSSLROOTCERT"):
        await backend.open()
    await backend.close()

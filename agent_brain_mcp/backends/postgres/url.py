"""The database URL: from the environment or the config, with its secret kept out of messages.

URLs as managed services hand them out (libpq style) are made acceptable to asyncpg.

SQLAlchemy passes a URL's query parameters to ``asyncpg.connect()`` as keyword arguments, so a
libpq parameter such as ``sslmode=require`` failed at start-up with "connect() got an unexpected
keyword argument 'sslmode'".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from agent_brain_mcp.config import PostgresSettings
from agent_brain_mcp.errors import ConfigError
from agent_brain_mcp.redaction import DATABASE_URL_ENV as URL_ENV

# Query parameters SQLAlchemy hands to asyncpg.connect() as keyword arguments (plus its own).
_ASYNCPG_ARGS = frozenset({
    "host", "port", "passfile", "timeout", "command_timeout", "statement_cache_size", "ssl", "direct_tls",
    "max_cached_statement_lifetime", "max_cacheable_statement_size", "target_session_attrs", "krbsrvname",
    "gsslib", "service", "servicefile", "prepared_statement_cache_size", "async_fallback",
})  # fmt: skip
_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# libpq parameters asyncpg takes only from the environment.
_FROM_ENV = {"sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "sslcrl": "PGSSLCRL"}


def asyncpg_query(query: dict[str, Any]) -> dict[str, Any]:
    """A URL's libpq-style query translated for asyncpg: ``sslmode`` -> ``ssl`` (asyncpg takes the
    same six mode names); a parameter asyncpg cannot take is a ``ConfigError`` saying what to do."""
    out = dict(query)
    if "sslmode" in out:
        mode = out.pop("sslmode")
        if mode not in _SSL_MODES:
            raise ConfigError(f"database URL: sslmode must be one of {', '.join(_SSL_MODES)}, got {mode!r}")
        out.setdefault("ssl", mode)
    for key in sorted(set(out) - _ASYNCPG_ARGS):
        hint = f"set the env var {_FROM_ENV[key]} to its value instead" if key in _FROM_ENV else "remove it"
        raise ConfigError(
            f"database URL: the parameter {key!r} is not supported by asyncpg (the driver used here): {hint}. "
            f"Supported: sslmode ({', '.join(_SSL_MODES)}), {', '.join(sorted(_ASYNCPG_ARGS - {'async_fallback'}))}"
        )
    return out


def database_url(pg: PostgresSettings, env: Mapping[str, str] | None = None) -> str:
    """The asyncpg URL: ``$AGENT_BRAIN_DATABASE_URL``, ``url``, or built from host/port/user."""
    from sqlalchemy.engine import URL, make_url

    env = os.environ if env is None else env
    raw = env.get(URL_ENV) or pg.url
    if raw:
        url = make_url(raw)
        if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
            url = url.set(drivername="postgresql+asyncpg")
        if url.password is None and env.get(pg.password_env):
            url = url.set(password=env[pg.password_env])
        url = url.set(query=asyncpg_query(dict(url.query)))
        return url.render_as_string(hide_password=False)
    return URL.create(
        "postgresql+asyncpg",
        username=pg.user,
        password=env.get(pg.password_env) or None,
        host=pg.host,
        port=pg.port,
        database=pg.database,
    ).render_as_string(hide_password=False)


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - never echo an unparsable URL, it may hold a secret
        return "(database URL)"

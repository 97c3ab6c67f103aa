"""Database URLs as managed services hand them out (libpq style), made acceptable to asyncpg.

SQLAlchemy passes a URL's query parameters to ``asyncpg.connect()`` as keyword arguments, so a
libpq parameter such as ``sslmode=require`` failed at start-up with "connect() got an unexpected
keyword argument 'sslmode'".
"""

from __future__ import annotations

from typing import Any

from agent_brain_mcp.errors import ConfigError

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

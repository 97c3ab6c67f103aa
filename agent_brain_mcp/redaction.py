"""Secrets the config points at never leave the process: logs and tool results are scrubbed by value.

Libraries echo secrets in ways no message pattern foresees (httpx: "Illegal header value
b'Bearer sk-...'"), so every configured secret value is registered here and replaced by ``***``
wherever it appears: in every log record (a filter on the root handlers) and in every tool result
(``mcp_guard``) and error message.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from agent_brain_mcp.config import Settings

MASK = "***"
# Shorter values would mask ordinary words all over the logs.
MIN_SECRET_CHARS = 4
DATABASE_URL_ENV = "AGENT_BRAIN_DATABASE_URL"

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` (and its stripped form) from now on."""
    if not value:
        return
    with _lock:
        for form in (value, value.strip()):
            if len(form) >= MIN_SECRET_CHARS:
                _secrets.add(form)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***`` (longest first)."""
    if not _secrets or not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_tree(value: Any) -> Any:
    """``value`` with every string inside dicts and lists redacted."""
    if not _secrets:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v) for v in value]
    return value


def register_configured_secrets(settings: Settings, env: Mapping[str, str] | None = None) -> None:
    """The values of the env vars the config names for secrets, and secrets written into URLs."""
    env = os.environ if env is None else env
    pg = settings.storage.postgresql
    # A password that equals a name the config shows anyway (the compose file's "agent_brain") hides
    # nothing, and masking it would mangle table names and every search hit that mentions them.
    public = {pg.user, pg.database, pg.table}
    register_secret(env.get(settings.embedding.api_key_env))
    for url in (env.get(DATABASE_URL_ENV), pg.url):
        password = _url_parts(url)[0]
        if password not in public:
            register_secret(password)
    if env.get(pg.password_env) not in public:
        register_secret(env.get(pg.password_env))
    password, query = _url_parts(settings.embedding.base_url)
    register_secret(password)
    for value in query:  # ?api-key=... (Azure-style endpoints)
        register_secret(value)


def _url_parts(url: str | None) -> tuple[str | None, list[str]]:
    """A URL's password and its query values."""
    if not url:
        return None, []
    try:
        parts = urlsplit(url)
        return parts.password, [value for _, value in parse_qsl(parts.query)]
    except ValueError:
        return None, []


class RedactingFilter(logging.Filter):
    """Rewrites each record's message, traceback and stack with the secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

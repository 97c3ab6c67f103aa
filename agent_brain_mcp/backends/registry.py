"""Backends by name. The lifespan builds the configured one; nothing else constructs backends.

The names are those ``StorageSettings.backend`` accepts: a new backend adds its factory here and
its name there (docs/ARCHITECTURE.md, "Where to add...")."""

from __future__ import annotations

from collections.abc import Callable

from agent_brain_mcp.backends.base import Backend
from agent_brain_mcp.config import Settings
from agent_brain_mcp.errors import UnknownBackendError

BackendFactory = Callable[[Settings], Backend]


def _chromadb(settings: Settings) -> Backend:
    from agent_brain_mcp.backends.chroma.backend import ChromaBackend

    chroma = settings.storage.chromadb
    return ChromaBackend(chroma, settings.resolve(chroma.persist_dir))


def _postgresql(settings: Settings) -> Backend:
    try:
        from agent_brain_mcp.backends.postgres.backend import PostgresBackend
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise UnknownBackendError(
            f"storage.backend 'postgresql' needs the optional packages: pip install 'agent-brain-mcp[postgres]' ({exc})"
        ) from exc
    return PostgresBackend(settings, settings.resolve(settings.storage.postgresql.data_dir))


_REGISTRY: dict[str, BackendFactory] = {"chromadb": _chromadb, "postgresql": _postgresql}


def available_backends() -> list[str]:
    return sorted(_REGISTRY)


def create_backend(settings: Settings) -> Backend:
    """The backend named by ``storage.backend``; raises ``UnknownBackendError``."""
    name = settings.storage.backend
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownBackendError(
            f"storage.backend {name!r} is not available; choose one of {available_backends()}"
        ) from None
    return factory(settings)

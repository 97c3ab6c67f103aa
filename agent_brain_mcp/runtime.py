"""What the lifespan holds for the whole stdio session: the service, built by a background warm-up.

The handshake must not wait for chromadb, onnxruntime or a database; the warm-up starts when the
server starts and the first tool call waits only for what is left. A failed warm-up (a database
that is down, a missing model) is reported to each tool call and retried by the next one, so the
server recovers without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time

from agent_brain_mcp.config import Settings
from agent_brain_mcp.embeddings.base import EmbeddingProvider
from agent_brain_mcp.errors import AgentBrainError, BackendUnavailableError
from agent_brain_mcp.redaction import register_configured_secrets
from agent_brain_mcp.service import RetrievalService

log = logging.getLogger(__name__)

# Heavy imports in a worker thread still hold the GIL in long stretches; giving the handshake this
# head start keeps `initialize` as fast as a bare server's, and costs a first tool call nothing
# when the client, as all do, sends it later than this.
WARMUP_DELAY_S = 0.25


class Runtime:
    def __init__(self, settings: Settings, *, watch: bool = False, load_model: bool = True) -> None:
        self.settings = settings
        self._load_model = load_model  # False: the model loads on the first text to embed, if any
        # The stdio server's session watches the indexed roots (if indexing.watch); one-shot CLI runs do not.
        self._watch = watch and settings.indexing.watch
        self._service: RetrievalService | None = None
        self._task: asyncio.Task[RetrievalService] | None = None
        self._lock = asyncio.Lock()
        self.last_error: AgentBrainError | None = None

    def start_warmup(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._warm(), name="agent-brain-warmup")

    async def _warm(self, delay: float = WARMUP_DELAY_S) -> RetrievalService:
        await asyncio.sleep(delay)
        service = await build_service(self.settings, load_model=self._load_model)
        if self._watch:
            service.start_watching()
        return service

    async def service(self) -> RetrievalService:
        """The ready service; waits for the warm-up, retrying a failed one."""
        if self._service is not None:
            return self._service
        async with self._lock:
            if self._service is not None:
                return self._service
            if self._task is None or (self._task.done() and (self._task.cancelled() or self._task.exception())):
                self._task = asyncio.create_task(self._warm(delay=0.0), name="agent-brain-warmup")
            assert self._task is not None
            try:
                self._service = await asyncio.shield(self._task)
            except AgentBrainError as exc:
                self.last_error = exc
                raise
            except Exception as exc:
                log.exception("start-up failed")
                self.last_error = BackendUnavailableError(f"start-up failed: {type(exc).__name__}: {exc}")
                raise self.last_error from exc
            self.last_error = None
            return self._service

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._service is not None:
            await self._service.close()
            self._service = None


async def build_service(
    settings: Settings, embedder: EmbeddingProvider | None = None, *, load_model: bool = True
) -> RetrievalService:
    """Open the configured store and load the model (concurrently), then check they belong together.

    The one place a service is assembled from the config: the server's warm-up, the CLI, the tests
    and the benchmarks all call it. ``embedder`` replaces the configured provider (tests). Without
    ``load_model`` the model loads when a text is first embedded (a ``status`` command never does).
    """
    from agent_brain_mcp.backends.registry import create_backend
    from agent_brain_mcp.embeddings.factory import create_embedding_provider

    started = time.perf_counter()
    register_configured_secrets(settings)
    embedder = embedder or create_embedding_provider(settings.embedding)
    backend = create_backend(settings)
    load = asyncio.create_task(asyncio.to_thread(embedder.load) if load_model else asyncio.sleep(0))
    try:
        await backend.open()
        await load
        service = RetrievalService(backend, embedder, settings.indexing, settings.project_dir, settings.allowed_roots())
        await service.check_identity()
    except BaseException:
        await asyncio.gather(load, return_exceptions=True)
        await _quietly_close(backend, embedder)
        raise
    log.info("ready in %.2fs: %s at %s", time.perf_counter() - started, backend.name, backend.info().location)
    return service


async def _quietly_close(backend: object, embedder: object) -> None:
    try:
        await backend.close()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001
        log.debug("closing a half-open backend: %s", exc)
    try:
        embedder.close()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001
        log.debug("closing a half-open embedder: %s", exc)

"""Helpers shared by the test tiers (importable as ``support``: tests/ is on sys.path)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import yaml

from agent_brain_mcp.config import Settings
from agent_brain_mcp.embeddings.base import EmbeddingProvider
from agent_brain_mcp.models import IndexJob
from agent_brain_mcp.runtime import build_service
from agent_brain_mcp.service import RetrievalService

T = TypeVar("T")


@asynccontextmanager
async def open_service(
    settings: Settings, embedder: EmbeddingProvider | None = None
) -> AsyncIterator[RetrievalService]:
    """The service exactly as the server builds it, closed on exit."""
    service = await build_service(settings, embedder)
    try:
        yield service
    finally:
        await service.close()


def make_settings(
    state_dir: Path,
    project_dir: Path,
    provider: str = "hash",
    *,
    backend: str = "chromadb",
    pg_url: str | None = None,
    table: str = "agent_brain",
    **sections: Any,
) -> Settings:
    """Settings for a private index (a Chroma folder, or a table on the test PostgreSQL server)."""
    storage: dict[str, Any] = {"backend": backend, "chromadb": {"persist_dir": str(state_dir)}}
    if backend == "postgresql":
        storage["postgresql"] = {"url": pg_url, "table": table, "data_dir": str(state_dir / "pg")}
    data: dict[str, Any] = {
        "storage": storage,
        "embedding": {"provider": provider},
        "project_dir": str(project_dir),
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return Settings.model_validate(data)


SAMPLE_FILES: dict[str, str] = {
    "src/payments/retry.py": '''
        """Retry policy for calls to the payment provider."""
        import random
        import time


        def retry_with_backoff(call, attempts=5, base_delay=0.2):
            """Call `call` until it succeeds, sleeping exponentially longer after each failure."""
            for attempt in range(attempts):
                try:
                    return call()
                except ConnectionError:
                    time.sleep(base_delay * 2 ** attempt + random.random() / 10)
            raise RuntimeError("payment provider unreachable after retries")
        ''',
    "src/db/connection.py": '''
        """Database access."""


        class DatabasePool:
            """A pool of PostgreSQL connections shared by request handlers."""

            def __init__(self, dsn: str, size: int = 10) -> None:
                self.dsn = dsn
                self.size = size

            def acquire(self):
                """Borrow a connection from the pool; the caller must release it."""
                raise NotImplementedError
        ''',
    "src/text/slug.py": '''
        import re


        def makeSlugFromTitle(title: str) -> str:
            """Lower-case a title and join its words with dashes for use in URLs."""
            return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        ''',
    "web/cart.ts": """
        export function computeCartTotal(items: { price: number; qty: number }[]): number {
          // Sum of price times quantity for every line of the shopping cart.
          return items.reduce((sum, item) => sum + item.price * item.qty, 0);
        }
        """,
    "docs/guide.md": """
        # Guide

        ## Installation

        Run `make run` to create the virtual environment and start the server.

        ## Troubleshooting

        If the index looks stale, call index_path again; unchanged files are skipped.
        """,
    "README.md": "# Sample project\n\nA tiny shop used by the tests.\n",
    ".gitignore": "secret.txt\ngenerated/\n",
    "secret.txt": "password = hunter2\n",
    "generated/big.py": "x = 1\n",
    "node_modules/left-pad/index.js": "module.exports = () => {}\n",
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


def server_command() -> tuple[str, list[str]]:
    """The installed console script if there is one, else ``python -m agent_brain_mcp``."""
    script = Path(sys.executable).parent / "agent-brain-mcp"
    if script.exists():
        return str(script), []
    return sys.executable, ["-m", "agent_brain_mcp"]


def write_config(path: Path, state_dir: Path, *, postgres: dict[str, Any] | None = None, **embedding: object) -> Path:
    """A config file for a child server: Chroma in ``state_dir``, or PostgreSQL with ``postgres`` settings."""
    storage: dict[str, Any] = {"backend": "chromadb", "chromadb": {"persist_dir": str(state_dir)}}
    if postgres is not None:
        storage = {"backend": "postgresql", "postgresql": postgres}
    config = {
        "storage": storage,
        "embedding": {"provider": "local", **embedding},
        "logging": {"level": "INFO"},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def child_env(config: Path) -> dict[str, str]:
    env = {"AGENT_BRAIN_CONFIG": str(config)}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def run_without_root_powers(fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` in a forked child that drops to ``nobody`` when we are root.

    Root reads every file whatever its mode, so permission tests need a user without that power.
    The result travels back pickled; an exception in the child is re-raised here.
    """
    import pickle
    import pwd

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_fd)
            if os.geteuid() == 0:
                nobody = pwd.getpwnam("nobody")
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
            try:
                payload = ("ok", fn(*args))
            except Exception as exc:
                payload = ("error", exc)
            os.write(write_fd, pickle.dumps(payload))
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    status, value = pickle.loads(data)
    if status == "error":
        raise value
    return value


def world_readable_tmpdir(prefix: str) -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def generate_modules(root: Path, count: int, folder: str = "generated_src") -> None:
    """Small Python modules, each with a few distinct functions (a few chunks apiece)."""
    for i in range(count):
        lines = [f'"""Generated module {i}: handlers for queue shard {i % 17}."""', ""]
        for k in range(6):
            lines += [
                "",
                f"def handler_{i}_{k}(message, retries={k}):",
                f'    """Handle message kind {k} of shard {i}, retrying up to {k} times."""',
                "    for attempt in range(retries + 1):",
                f"        if message.get('kind') == {k}:",
                f"            return {{'shard': {i}, 'attempt': attempt}}",
                "    return None",
                "",
            ]
        path = root / folder / f"pkg{i // 100}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextmanager
def key_echoing_server(status: int) -> Iterator[str]:
    """An OpenAI-compatible endpoint that answers ``status`` and echoes the Authorization header
    back in its error (as some servers do); yields its base URL (``.../v1``)."""

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            auth = self.headers.get("Authorization")
            body = json.dumps({"error": {"message": f"Incorrect API key provided: {auth} for {self.path}"}})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float, interval: float = 0.05) -> T:
    """The first truthy result of ``check``, polled every ``interval`` seconds; fails after ``timeout``."""
    import anyio

    deadline = anyio.current_time() + timeout
    last: T | None = None
    while anyio.current_time() < deadline:
        last = await check()
        if last:
            return last
        await anyio.sleep(interval)
    raise AssertionError(f"not true within {timeout} s (last result: {last!r})")


def finished(state: str) -> bool:
    """Whether an indexing job in this state has stopped (done, failed or cancelled)."""
    return state != "running"


async def job_when(
    svc: RetrievalService, job_id: str | None, until: Callable[[IndexJob], bool] | None = None, timeout: float = 60
) -> IndexJob:
    """The service's job ``job_id`` once ``until`` holds for it (default: it stopped), polled; fails after ``timeout``."""

    async def check() -> IndexJob | None:
        job = next(j for j in svc.jobs() if j.id == job_id)
        return job if (until or (lambda j: finished(j.state)))(job) else None

    return await eventually(check, timeout, interval=0.01)


async def tool_job_when(
    session: Any, job_id: str, until: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 60
) -> dict[str, Any]:
    """The job as ``index_status`` shows it over MCP (``session``: a client session) once ``until``
    holds for it (default: it stopped), polled; fails after ``timeout``."""

    async def check() -> dict[str, Any] | None:
        status = (await session.call_tool("index_status", {})).structured_content
        job: dict[str, Any] = next(j for j in status["jobs"] if j["id"] == job_id)
        return job if (until or (lambda j: finished(j["state"])))(job) else None

    return await eventually(check, timeout)


def head_revision() -> str:
    """The latest Alembic revision of ``migrations/versions`` (files are named ``NNNN_<what>.py``)."""
    versions = Path(__file__).resolve().parent.parent / "migrations" / "versions"
    return max(p.name[:4] for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))

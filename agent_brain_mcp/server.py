"""The MCP server: thin tool handlers over the retrieval service, built once in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Literal, TypeVar, cast

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from agent_brain_mcp import __version__
from agent_brain_mcp.backends.locations import index_location
from agent_brain_mcp.config import Settings
from agent_brain_mcp.errors import AgentBrainError
from agent_brain_mcp.indexing.progress import IndexProgress
from agent_brain_mcp.kinds import Kind
from agent_brain_mcp.mcp_guard import GuardedServer
from agent_brain_mcp.models import IndexJob, IndexResult, IndexStatus, SearchResult
from agent_brain_mcp.ranking import DEFAULT_MAX_PER_FILE
from agent_brain_mcp.render import render_search, tool_result
from agent_brain_mcp.runtime import Runtime
from agent_brain_mcp.service import RetrievalService

log = logging.getLogger(__name__)
T = TypeVar("T")

INSTRUCTIONS = """\
Semantic and keyword search over this project's code and docs.
Index first: index_path(path='.') (cheap to repeat: unchanged files are skipped).
Use hybrid_search by default: it finds both exact names and concepts. Use search for purely
conceptual questions phrased unlike the code ('where do we retry failed requests').
Use grep instead for exhaustive lists of an exact string (every caller of a function).
"""

INDEX_DOC = (
    "Index (or refresh) a folder or file so search and hybrid_search can find its contents. "
    "Incremental: only new or changed files are embedded, deleted files are dropped, so it is cheap to "
    "call again after edits. Respects .gitignore files; skips binaries, dependencies, build output and "
    "oversized files (reported with reasons). Call it once before the first search. For a large repository "
    "pass background=true: it returns at once with a job_id; index_status shows the job's progress and "
    "cancel_indexing stops it. One indexing run per index at a time: a second call in this server fails at "
    "once with a 'busy' error (it does not queue); a run in another process is waited for up to 30 s, then "
    "'busy'. Searches keep working during a run. Secret files (private keys, .env, credentials) are skipped "
    "unless an include glob names them. While the server runs, edits under indexed folders are re-indexed "
    "automatically within seconds (index_status: watch)."
)
CANCEL_DOC = (
    "Stop a background indexing job (the running one, or job_id). Files already written stay indexed and "
    "searchable, nothing is removed; call index_path again later to finish. Returns the job's final state."
)
SEARCH_DOC = (
    "Semantic search: finds code and docs by meaning, even when they use other words than the query. "
    "Best for conceptual questions ('how are failed requests retried'). For exact identifiers, error "
    "strings or mixed queries prefer hybrid_search; for an exhaustive list of one literal string use grep. "
    "Hits give file_path (relative to root), start_line/end_line and the text; the text content is Markdown "
    "(a header line per hit, then its code fenced)."
)
HYBRID_DOC = (
    "The default search: semantic and keyword (BM25) rankings fused by reciprocal rank. Finds exact names "
    "(snake_case, camelCase, error messages) as well as concepts. Each hit says which side found it "
    "(vector_rank, keyword_rank). alpha weights the semantic side (default 0.6). Overlapping or adjacent "
    "chunks of one file come back merged as one hit; max_chars caps the total text returned."
)
RANKING_DOC = (
    " A chunk that defines a name or error message the query gives comes first. The first page holds at "
    "most max_per_file (2) hits of one file. To ask 'which files?' (e.g. for a bug report: paste it whole, "
    "traceback included) pass group_by='file'. kind='code' leaves out docs, tests and config files."
)

_READS = ToolAnnotations(read_only_hint=True)
_WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True)

TopK = Annotated[int, Field(ge=1, le=200, description="How many hits to return (1-200)")]
PathPrefix = Annotated[
    str | None,
    Field(description="Only files whose path (relative to the indexed root, or absolute) starts with this"),
]
Language = Annotated[str | None, Field(description="Only this language, e.g. 'python', 'markdown', 'typescript'")]
GroupBy = Annotated[
    Literal["chunk", "file"],
    Field(
        description="'chunk' (default): passages, best first. 'file': which files to read or change, best "
        "first, each ranked by all its matching chunks and returned with its best 1-2 chunks (result.files)"
    ),
]
MaxPerFile = Annotated[
    int,
    Field(
        ge=0,
        le=200,
        description="At most this many hits of one file on the page while other files have hits "
        "(default 2; 0 = no cap, e.g. to read one file's every match)",
    ),
]
KindFilter = Annotated[
    Kind | None,
    Field(
        description="Only this kind of file: 'code' (source in a programming, template or build language), "
        "'config' (JSON, YAML, TOML, INI, XML, package metadata), 'docs' (Markdown, reST, text, README) or "
        "'tests' (test files by name or folder); default: all"
    ),
]
MaxChars = Annotated[
    int | None,
    Field(ge=100, le=2_000_000, description="Budget for the hits' text in total; the last hit is cut at a line end"),
]


async def _call(ctx: Context, fn: Callable[[RetrievalService], Awaitable[T]]) -> T:
    """Run a service call, turning every failure into an ``isError`` result the agent can act on."""
    runtime = cast(Runtime, ctx.request_context.lifespan_context)
    try:
        return await fn(await runtime.service())
    except AgentBrainError as exc:
        raise ToolError(str(exc)) from exc
    except ToolError:
        raise
    except Exception as exc:
        log.exception("unexpected error in a tool call")
        raise ToolError(
            f"Internal error ({type(exc).__name__}: {exc}). The server is still running; the next index_path "
            "run finishes or rolls back whatever the failed step left. Retry, or run index_path(path, force=true) "
            "if it persists."
        ) from exc


def _lifespan(settings: Settings) -> Callable[[MCPServer], AbstractAsyncContextManager[Runtime]]:
    """One warm-up runtime for the whole session, closed when the session ends."""

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[Runtime]:
        runtime = Runtime(settings, watch=True)
        runtime.start_warmup()
        try:
            yield runtime
        finally:
            await runtime.close()

    return lifespan


def build_server(settings: Settings) -> MCPServer:
    """An MCP server whose lifespan owns one warm-up runtime for the whole session."""
    mcp = GuardedServer(
        name="agent-brain", version=__version__, instructions=INSTRUCTIONS, lifespan=_lifespan(settings)
    )
    mcp.tool(description=INDEX_DOC, annotations=_WRITES)(index_path)
    mcp.tool(description=CANCEL_DOC, annotations=_WRITES)(cancel_indexing)
    mcp.tool(description=SEARCH_DOC + RANKING_DOC, annotations=_READS)(search)
    mcp.tool(description=HYBRID_DOC + RANKING_DOC, annotations=_READS)(hybrid_search)
    mcp.tool(annotations=_READS)(index_status)  # described by its docstring
    return mcp


# -- the tools: thin handlers, each a call into the service ------------------------------------------
async def index_path(
    path: Annotated[str, Field(description="Folder or file to index; relative paths start at the project")],
    ctx: Context,
    include: Annotated[
        list[str] | None, Field(description="Only files matching these gitignore-style globs, e.g. ['*.py']")
    ] = None,
    exclude: Annotated[list[str] | None, Field(description="Also skip files matching these globs")] = None,
    force: Annotated[
        bool, Field(description="Re-embed every file even if unchanged; rebuilds after a model change")
    ] = False,
    background: Annotated[
        bool,
        Field(description="Return at once with a job_id and index in the background (for large repositories)"),
    ] = False,
) -> IndexResult:
    """Index a folder or file (see INDEX_DOC)."""

    async def progress(event: IndexProgress) -> None:
        done, total = event.fraction
        await ctx.report_progress(done, total, event.message())

    return await _call(
        ctx,
        lambda s: s.index_path(
            path,
            include=include or (),
            exclude=exclude or (),
            force=force,
            progress=None if background else progress,
            background=background,
        ),
    )


async def cancel_indexing(
    ctx: Context,
    job_id: Annotated[
        str | None, Field(description="The job to stop (from index_path or index_status); default: the running one")
    ] = None,
) -> IndexJob:
    """Cancel a background indexing job (see CANCEL_DOC)."""
    return await _call(ctx, lambda s: s.cancel_indexing(job_id))


async def search(
    query: Annotated[str, Field(description="What you are looking for, in natural language")],
    ctx: Context,
    top_k: TopK = 10,
    path_prefix: PathPrefix = None,
    language: Language = None,
    max_chars: MaxChars = None,
    group_by: GroupBy = "chunk",
    max_per_file: MaxPerFile = DEFAULT_MAX_PER_FILE,
    kind: KindFilter = None,
) -> Annotated[CallToolResult, SearchResult]:
    """Semantic search (see SEARCH_DOC)."""
    result = await _call(
        ctx,
        lambda s: s.search(
            query, top_k, path_prefix, language, max_chars, group_by=group_by, max_per_file=max_per_file, kind=kind
        ),
    )
    return tool_result(result, render_search(result))


async def hybrid_search(
    query: Annotated[str, Field(description="Words, identifiers or a question")],
    ctx: Context,
    top_k: TopK = 10,
    path_prefix: PathPrefix = None,
    language: Language = None,
    alpha: Annotated[
        float | None,
        Field(ge=0.0, le=1.0, description="Weight of the semantic side: 1 = meaning only, 0 = keywords only"),
    ] = None,
    max_chars: MaxChars = None,
    group_by: GroupBy = "chunk",
    max_per_file: MaxPerFile = DEFAULT_MAX_PER_FILE,
    kind: KindFilter = None,
) -> Annotated[CallToolResult, SearchResult]:
    """Hybrid search (see HYBRID_DOC)."""
    result = await _call(
        ctx,
        lambda s: s.hybrid_search(
            query,
            top_k,
            path_prefix,
            language,
            alpha,
            max_chars,
            group_by=group_by,
            max_per_file=max_per_file,
            kind=kind,
        ),
    )
    return tool_result(result, render_search(result))


async def index_status(ctx: Context) -> IndexStatus:
    """What is indexed: backend, embedding model, roots, file and chunk counts, last run, background jobs."""
    runtime = cast(Runtime, ctx.request_context.lifespan_context)
    try:
        return await _call(ctx, lambda s: s.status())
    except ToolError as exc:
        return _not_ready_status(runtime, str(exc))


def _not_ready_status(runtime: Runtime, problem: str) -> IndexStatus:
    s = runtime.settings
    return IndexStatus(
        backend=s.storage.backend,
        location=index_location(s),
        ready=False,
        problem=problem,
        embedding_provider=s.embedding.provider,
        embedding_model=s.embedding.model or "(default)",
        embedding_dimension=s.embedding.dimension,
        roots=[],
        files=0,
        chunks=0,
        last_indexed=None,
    )

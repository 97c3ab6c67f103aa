"""The commands for people: ``index``, ``search``, ``hybrid``, ``status``.

Each builds the service exactly as the MCP server's warm-up does (``Runtime(settings).service()``),
makes the same call the tool makes, prints the result for a person on stdout (or as JSON with
``--json``) and closes the service. Progress and logs go to stderr. An expected failure
(``AgentBrainError``) is one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from rich import box
from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from agent_brain_mcp.cli_progress import plain_progress
from agent_brain_mcp.config import Settings
from agent_brain_mcp.errors import AgentBrainError, IndexMismatchError, NotIndexedError
from agent_brain_mcp.indexing.progress import IndexProgress
from agent_brain_mcp.models import IndexResult, IndexStatus, SearchHit, SearchResult
from agent_brain_mcp.runtime import Runtime
from agent_brain_mcp.service import RetrievalService

log = logging.getLogger(__name__)
T = TypeVar("T")

PROG = "agent-brain-mcp"
# Wide enough that a table of long paths is not folded when stdout is a file or a pipe.
_PIPE_WIDTH = 400


def run_command(command: str, args: argparse.Namespace, settings: Settings) -> int:
    """Run one of the commands; the exit code (0 ok, 1 expected failure, 130 interrupted)."""
    handlers = {"index": _index, "search": _search, "hybrid": _search, "status": _status}
    try:
        return _run_interruptible(handlers[command](args, settings))
    except AgentBrainError as exc:
        sys.stderr.write(f"{PROG} {command}: {_one_line(_for_people(exc))}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG} {command}: interrupted; the index holds every file written so far\n")
        _exit_now(130)
        return 130  # not reached


def _run_interruptible(main: Coroutine[Any, Any, int]) -> int:
    """Run a command; Ctrl-C (SIGINT) cancels it at once and raises ``KeyboardInterrupt`` when it has cleaned up.

    The cancellation reaches the indexing run at its current ``await``: an embedding batch in flight
    is abandoned (nothing of it was written), the store is closed (a write already started is
    finished or left for the next run to redo: files are written whole, the manifest last) and the
    writer lock released. ``asyncio.run`` would then wait for the abandoned embedding thread (27 s
    measured under load); this runner does not.
    """
    loop = asyncio.new_event_loop()
    executor = ThreadPoolExecutor(thread_name_prefix="agent-brain-cli")
    loop.set_default_executor(executor)
    task = loop.create_task(main)
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        interrupted = True
        sys.stderr.write(f"{PROG}: stopping (Ctrl-C)...\n")
        sys.stderr.flush()
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        executor.shutdown(wait=False, cancel_futures=True)
        loop.close()


def _exit_now(code: int) -> None:
    """Exit without joining worker threads: an abandoned embedding batch must not hold up an interrupted command."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _for_people(exc: AgentBrainError) -> str:
    """The service's messages name the MCP tools; say what to type instead."""
    if isinstance(exc, IndexMismatchError):
        return f"{exc} On the command line: {PROG} index PATH --force."
    return str(exc)


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


async def _with_service(
    settings: Settings, fn: Callable[[RetrievalService], Awaitable[T]], *, load_model: bool = True
) -> T:
    runtime = Runtime(settings, load_model=load_model)
    try:
        return await fn(await runtime.service())
    finally:
        await runtime.close()


def _stdout() -> Console:
    terminal = sys.stdout.isatty()
    return Console(highlight=False, soft_wrap=not terminal, width=None if terminal else _PIPE_WIDTH)


def _emit(out: Console, renderable: RenderableType) -> None:
    """Print a table; into a file or a pipe without the padding that trails each line."""
    if out.is_terminal:
        out.print(renderable)
        return
    with out.capture() as captured:
        out.print(renderable)
    out.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def _print_json(model: BaseModel) -> None:
    sys.stdout.write(model.model_dump_json(indent=2) + "\n")
    sys.stdout.flush()


# -- index ------------------------------------------------------------------------------------------
@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Progress]:
    """A transient bar on stderr; a no-op unless stderr is a terminal (a file gets the logs only)."""
    console = Console(stderr=True, highlight=False)
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not (enabled and console.is_terminal),
    )
    with bar:
        yield bar


async def _index(args: argparse.Namespace, settings: Settings) -> int:
    # A terminal gets the redrawn bar; a log file, a pipe or CI gets a plain line every few seconds.
    lines = not args.quiet and not Console(stderr=True).is_terminal
    every = getattr(args, "progress_every", None) or 5.0
    plain = plain_progress(PROG, args.path, sys.stderr, every) if lines else nullcontext(None)
    with _progress_bar(enabled=not args.quiet) as bar:
        task = bar.add_task("opening the index and loading the model", total=None, unit="files")
        async with plain as printer:

            async def progress(event: IndexProgress) -> None:
                done, total, unit = event.phase_count
                bar.update(task, completed=done, total=total, description=event.message(), unit=unit)
                if printer is not None:
                    await printer(event)

            async def run(service: RetrievalService) -> IndexResult:
                bar.update(task, description="looking for files")
                if printer is not None:
                    printer.stage = "looking for files"
                return await service.index_path(
                    args.path, include=args.include, exclude=args.exclude, force=args.force, progress=progress
                )

            result = await _with_service(settings, run)
    if args.json:
        _print_json(result)
    else:
        _print_index_result(result, _stdout())
    return 0


def _print_index_result(r: IndexResult, out: Console) -> None:
    table = Table(box=None, show_header=False, pad_edge=False, title_justify="left", title=f"Indexed {r.root}")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    if r.scope != ".":
        table.add_row("scope", r.scope, "")
    table.add_row("files indexed", str(r.files_indexed), "new or changed, embedded")
    table.add_row("files unchanged", str(r.files_unchanged), "same content, not re-embedded")
    table.add_row("files removed", str(r.files_removed), "gone or now excluded")
    table.add_row("files skipped", str(r.files_skipped), "")
    for reason, count in sorted(r.skipped_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(f"  {reason}", str(count), "")
    table.add_row("chunks written", str(r.chunks_written), "embedded and stored")
    table.add_row("chunks replaced", str(r.chunks_replaced), "old chunks of changed files")
    table.add_row("chunks removed", str(r.chunks_removed), "of files gone or now excluded")
    table.add_row("index now holds", f"{r.total_files} files", f"{r.total_chunks} chunks under this root")
    table.add_row("seconds", f"{r.seconds:.1f}", "")
    _emit(out, table)
    # The summary's sentences repeat the table; its notes are worth showing.
    if r.notes:
        out.print(Text(" ".join(r.notes), style="yellow"))


# -- search / hybrid --------------------------------------------------------------------------------
async def _search(args: argparse.Namespace, settings: Settings) -> int:
    query = " ".join(args.query)

    async def run(service: RetrievalService) -> SearchResult:
        try:
            if args.command == "hybrid":
                return await service.hybrid_search(query, args.top_k, args.path_prefix, args.language, args.alpha)
            return await service.search(query, args.top_k, args.path_prefix, args.language)
        except NotIndexedError:
            raise NotIndexedError(
                f"Nothing is indexed in {service.backend.info().location} yet: run `{PROG} index PATH` "
                "(e.g. `.` for this folder) first, then search again."
            ) from None

    result = await _with_service(settings, run)
    if args.json:
        _print_json(result)
    else:
        _print_hits(result, _stdout(), max(0, args.lines))
    return 0


def display_path(hit: SearchHit, cwd: Path | None = None) -> str:
    """The hit's file relative to the current folder when it is inside it, else absolute."""
    absolute = Path(hit.root) / hit.file_path
    try:
        return absolute.relative_to(cwd or Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


def _print_hits(result: SearchResult, out: Console, lines: int) -> None:
    if not result.hits:
        out.print(Text(f"No hits for {result.query!r} ({result.mode}, {result.chunks_in_index} chunks in the index)."))
        return
    width = len(str(len(result.hits)))
    for n, hit in enumerate(result.hits, start=1):
        head = Text.assemble(
            (f"{n:>{width}}. ", "dim"),
            (f"{display_path(hit)}:{hit.start_line}-{hit.end_line}", "bold cyan"),
        )
        if hit.symbol:
            head.append(f"  {hit.symbol}", style="magenta")
        out.print(head)
        facts = [f"score {hit.score:.4f}"]
        if hit.vector_rank is not None:
            facts.append(f"vector #{hit.vector_rank}")
        if hit.keyword_rank is not None:
            facts.append(f"keyword #{hit.keyword_rank}")
        facts.append(hit.language)
        out.print(Text(" " * (width + 2) + " · ".join(facts), style="dim"))
        if lines:
            _print_snippet(hit, out, lines, indent=width + 2)
        out.print()
    out.print(
        Text(
            f"{len(result.hits)} hits for {result.query!r} ({result.mode}; {result.chunks_in_index} chunks in the index)"
            + (" - cut by the budget" if result.truncated else ""),
            style="dim",
        )
    )


def _print_snippet(hit: SearchHit, out: Console, lines: int, indent: int) -> None:
    text_lines = hit.text.splitlines()
    shown = text_lines[:lines]
    if out.is_terminal:
        code = Syntax(
            "\n".join(shown),
            hit.language,
            line_numbers=True,
            start_line=hit.start_line,
            theme="ansi_dark",
            background_color="default",
            word_wrap=False,
        )
        out.print(Padding(code, (0, 0, 0, indent)))
    else:
        number_width = len(str(hit.start_line + len(shown)))
        for offset, line in enumerate(shown):
            out.print(Text(f"{' ' * indent}{hit.start_line + offset:>{number_width}}  {line}"))
    if len(text_lines) > lines:
        out.print(Text(f"{' ' * indent}… {len(text_lines) - lines} more lines", style="dim"))


# -- status -----------------------------------------------------------------------------------------
async def _status(args: argparse.Namespace, settings: Settings) -> int:
    async def run(service: RetrievalService) -> IndexStatus:
        return await service.status()

    status = await _with_service(settings, run, load_model=False)  # nothing to embed
    if args.json:
        _print_json(status)
    else:
        _print_status(status, _stdout())
    return 0


def _print_status(s: IndexStatus, out: Console) -> None:
    facts = Table(box=None, show_header=False, pad_edge=False)
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("backend", s.backend)
    facts.add_row("location", s.location)
    dimension = f", {s.embedding_dimension} dims" if s.embedding_dimension else ""
    facts.add_row("model", f"{s.embedding_provider} / {s.embedding_model}{dimension}")
    facts.add_row("index built with", s.index_embedding or "(nothing indexed yet)")
    facts.add_row("ready", Text("yes", style="green") if s.ready else Text("no", style="bold red"))
    facts.add_row("totals", f"{s.files} files, {s.chunks} chunks, last indexed {s.last_indexed or 'never'}")
    _emit(out, facts)
    if s.problem:
        out.print(Text(f"problem: {s.problem}", style="bold red"))
    out.print()
    if not s.roots:
        out.print(Text(f"No roots indexed yet: run `{PROG} index PATH`."))
        return
    roots = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    roots.add_column("root", style="cyan", no_wrap=True)
    roots.add_column("files", justify="right")
    roots.add_column("chunks", justify="right")
    roots.add_column("last indexed (UTC)")
    for r in s.roots:
        roots.add_row(r.root, str(r.files), str(r.chunks), r.last_indexed or "-")
    _emit(out, roots)

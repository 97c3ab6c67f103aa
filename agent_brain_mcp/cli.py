"""Console entry point: ``agent-brain-mcp [serve]`` serves MCP on stdio (stdout is the protocol)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from agent_brain_mcp import __version__
from agent_brain_mcp.config import CONFIG_ENV, Settings, config_path, load_settings
from agent_brain_mcp.errors import AgentBrainError, ConfigError

log = logging.getLogger("agent_brain_mcp")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agent-brain-mcp", description="Code and docs retrieval for agents, over MCP.")
    p.add_argument("--version", action="version", version=f"agent-brain-mcp {__version__}")
    p.add_argument(
        "--config", type=Path, help=f"config YAML (default: ${CONFIG_ENV} or .claude/agent-brain/config.yaml)"
    )
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="overrides logging.level")
    p.add_argument("--quiet", action="store_true", help="no start-up banner")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve MCP over stdio (the default)")
    sub.add_parser("migrate", help="bring the PostgreSQL schema to the latest revision (the server also does it)")
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


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    for noisy in ("chromadb", "httpx", "onnxruntime", "bm25s"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def _banner(settings: Settings, source: Path) -> str:
    s = settings.storage
    where = (
        f"Chroma at {settings.resolve(s.chromadb.persist_dir)}"
        if s.backend == "chromadb" and not s.chromadb.host
        else f"{s.backend} server"
    )
    script = Path(sys.argv[0])
    exe = str(script.resolve()) if script.name == "agent-brain-mcp" else f"{sys.executable} -m agent_brain_mcp"
    cfg = str(source) if source.exists() else f"{source} (not found: defaults)"
    return (
        f"agent-brain-mcp {__version__}: MCP on stdio. Index: {where}. "
        f"Embeddings: {settings.embedding.provider}. Config: {cfg}.\n"
        f"  Add to Claude Code: claude mcp add agent-brain -- {exe}\n"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    source = args.config or config_path()
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"agent-brain-mcp: {exc}\n")
        return 2
    setup_logging(args.log_level or settings.logging.level)
    if args.command == "migrate":
        return _migrate(settings)
    if not args.quiet and not os.environ.get("AGENT_BRAIN_QUIET"):
        sys.stderr.write(_banner(settings, source))
        sys.stderr.flush()
    from agent_brain_mcp.server import build_server

    build_server(settings).run()
    return 0

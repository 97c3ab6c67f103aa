"""Install without a clone: the wheel carries the model and the migrations, and `uvx --from <wheel>
agent-brain-mcp` serves MCP from an isolated tool environment that never sees this source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]


def _uv() -> str:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed: pip install -e '.[dev]'")
    return uv


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [_uv(), "build", "--wheel", "--out-dir", str(out), str(REPO)],
        check=True, capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    (built,) = out.glob("agent_brain_mcp-*.whl")
    yield built


def test_the_wheel_carries_the_model_and_the_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    model = "agent_brain_mcp/embeddings/models/all-MiniLM-L6-v2-int8/"
    assert {model + f for f in ("model.onnx", "tokenizer.json", "tokenizer_config.json", "LICENSE")} <= names
    assert {"agent_brain_mcp/migrations/env.py", "agent_brain_mcp/migrations/script.py.mako"} <= names
    assert any(n.startswith("agent_brain_mcp/migrations/versions/0001") for n in names)
    assert "agent_brain_mcp/llamaindex/retriever.py" in names


def _isolated_env(tmp_path: Path) -> dict[str, str]:
    """PATH and the uv cache (warm after the first run), nothing that points at this checkout."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path))}
    for key in ("UV_CACHE_DIR", "XDG_CACHE_HOME", "SSL_CERT_FILE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


async def test_uvx_runs_the_wheel_as_an_mcp_server_that_indexes_and_searches(wheel: Path, tmp_path: Path) -> None:
    project = tmp_path / "somewhere" / "my-project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "billing.py").write_text(
        'def charge_customer(card, amount):\n    """Charge a card through the payment gateway."""\n'
        "    return gateway.charge(card, amount)\n",
        encoding="utf-8",
    )
    (project / "README.md").write_text("# My project\n\nBills customers every month.\n", encoding="utf-8")
    env = _isolated_env(tmp_path)
    where = subprocess.run(
        [_uv(), "tool", "run", "--from", str(wheel), "python", "-c", "import agent_brain_mcp; print(agent_brain_mcp.__file__)"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    assert not Path(where.stdout.strip()).is_relative_to(REPO), where.stdout  # the wheel's copy, not this tree

    params = StdioServerParameters(
        command=_uv(), args=["tool", "run", "--from", str(wheel), "agent-brain-mcp"], env=env, cwd=str(project)
    )
    started = time.perf_counter()
    with anyio.fail_after(180):
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            assert {"index_path", "search", "hybrid_search", "index_status"} <= tools
            indexed = await session.call_tool("index_path", {"path": "."})
            assert not indexed.is_error, indexed.content
            assert indexed.structured_content["files_indexed"] == 2
            found = await session.call_tool("hybrid_search", {"query": "charge a customer's card", "top_k": 1})
            assert not found.is_error, found.content
            assert found.structured_content["hits"][0]["file_path"] == "src/billing.py"
    assert (project / ".claude" / "agent-brain" / "index").is_dir()  # the default index, in the project
    print(f"uvx server: {time.perf_counter() - started:.1f}s from spawn to search")

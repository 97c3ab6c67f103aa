"""A full disk under the index folder (a real 8 MB tmpfs): a clear error naming the cause and the
folder, and, once space is freed, the next run converges to exactly a clean index.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from stores import chroma_state
from support import make_settings, open_service

from agent_brain_mcp.server import build_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs (root only; skipped, with the reason, where mounting is not allowed)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if made.returncode != 0:
        if os.geteuid() != 0 or "permission denied" in made.stderr.lower() or "EPERM" in made.stderr:
            pytest.skip(f"cannot mount a tmpfs here ({os.strerror(errno.EPERM)}): {made.stderr.strip()}")
        raise AssertionError(f"mount failed: {made.stderr}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, check=False)


def _tree(root: Path, files: int) -> Path:
    for i in range(files):
        path = root / f"pkg{i % 20}" / f"doc_{i:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"# Note {i}\n\n" + "".join(f"Paragraph {k} of note {i}: {'lorem ipsum ' * 12}\n\n" for k in range(6)),
            encoding="utf-8",
        )
    return root


@pytest.mark.slow
async def test_a_full_disk_names_the_cause_and_the_folder_and_freeing_space_lets_the_next_run_converge(
    tmp_path: Path, small_disk: Path
) -> None:
    project = _tree(tmp_path / "project", 1200)
    state = small_disk / "index"
    settings = make_settings(state, project)
    async with Client(build_server(settings)) as client:
        failed = await client.call_tool("index_path", {"path": "."})
        assert failed.is_error
        message = failed.content[0].text  # type: ignore[union-attr]
        assert "no space left on device" in message and str(state) in message, message
        assert "free space" in message and "unchanged" not in message, message
        # The server keeps answering over what was committed.
        assert not (await client.call_tool("index_status", {})).is_error

    subprocess.run(["mount", "-o", "remount,size=400m", str(small_disk)], check=True, capture_output=True)
    async with open_service(settings) as service:
        result = await service.index_path(".")
    assert result.total_files == 1200

    clean_state = tmp_path / "clean"
    async with open_service(make_settings(clean_state, project)) as service:
        await service.index_path(".")
    got, want = chroma_state(state), chroma_state(clean_state)
    assert got == want

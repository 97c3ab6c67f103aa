"""Trees built to hurt (or just careless): the walk and the reader never hang, crash or leave the root.

Every test that could hang on a FIFO runs the work in a thread with a bound; if it is still blocked,
the FIFO is opened for writing to release it, and the test fails instead of hanging the suite.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_brain_mcp.indexing.fsread import printable_path
from agent_brain_mcp.indexing.reader import SkipFile, read_text
from agent_brain_mcp.indexing.secret_files import SECRET_REASON, SecretFilter
from agent_brain_mcp.indexing.walker import Walker, WalkReport

HOSTILE_GLOB = "a*a*a*a*a*a*a*a*a*a*a*a*b"
BOUND_S = 5.0


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path.resolve() / "project"
    folder.mkdir()
    return folder


def _bounded(fn: Callable[[], Any], fifos: list[Path], limit: float = BOUND_S) -> Any:
    """``fn()`` in a thread; if it is blocked after ``limit`` s, release the FIFOs and fail."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        for fifo in fifos:  # a writer unblocks a reader stuck in open(); closing gives it EOF
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(limit)
        pytest.fail(f"blocked for more than {limit}s (on a FIFO?)")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _walk(root: Path, walker: Walker | None = None) -> tuple[list[str], dict[str, str]]:
    report = WalkReport()
    found = [c.rel_path for c in (walker or Walker()).walk(root, report)]
    return found, dict(report.skipped)


def test_a_fifo_named_gitignore_is_reported_and_does_not_block_the_walk(root: Path) -> None:
    (root / "app.py").write_text("x = 1\n", encoding="utf-8")
    (root / "sub").mkdir()
    os.mkfifo(root / "sub" / ".gitignore")
    found, skipped = _bounded(lambda: _walk(root), [root / "sub" / ".gitignore"])
    assert found == ["app.py"]
    assert skipped["sub/.gitignore"].startswith("not a regular file")


def test_fifos_and_sockets_in_the_tree_are_reported_as_not_regular_files(root: Path) -> None:
    os.mkfifo(root / "pipe.py")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "sock.py"))
        found, skipped = _bounded(lambda: _walk(root), [root / "pipe.py"])
    finally:
        sock.close()
    assert found == []
    assert skipped == {"pipe.py": skipped["pipe.py"], "sock.py": skipped["sock.py"]}
    assert all(reason.startswith("not a regular file") for reason in skipped.values())


def test_a_gitignore_symlinked_outside_the_root_is_not_applied(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "rules"
    outside.write_text("*.py\n", encoding="utf-8")
    (root / "app.py").write_text("x = 1\n", encoding="utf-8")
    (root / ".gitignore").symlink_to(outside)
    found, skipped = _walk(root)
    assert found == ["app.py"]  # the outside rules were not followed
    assert "symlink" in skipped[".gitignore"]


def test_a_gitignore_symlinked_to_dev_zero_is_not_read(root: Path) -> None:
    (root / "app.py").write_text("x = 1\n", encoding="utf-8")
    (root / ".gitignore").symlink_to("/dev/zero")
    found, skipped = _bounded(lambda: _walk(root), [])
    assert found == ["app.py"]
    assert "symlink" in skipped[".gitignore"]


def test_an_oversized_gitignore_is_reported_and_not_applied(root: Path) -> None:
    (root / ".gitignore").write_text("*.py\n" + "#" * 1_100_000 + "\n", encoding="utf-8")
    (root / "app.py").write_text("x = 1\n", encoding="utf-8")
    found, skipped = _walk(root, Walker(max_file_bytes=10_000_000))
    assert "app.py" in found
    assert skipped[".gitignore"].startswith("too large")


def test_a_backtracking_glob_in_exclude_and_in_gitignore_matches_in_well_under_a_second(root: Path) -> None:
    name = "a" * 60 + ".py"
    (root / name).write_text("x = 1\n", encoding="utf-8")
    (root / "sub").mkdir()
    (root / "sub" / ".gitignore").write_text(HOSTILE_GLOB + "\n", encoding="utf-8")
    (root / "sub" / name).write_text("y = 2\n", encoding="utf-8")
    started = time.perf_counter()
    found, _ = _walk(root, Walker(exclude=[HOSTILE_GLOB], include=[HOSTILE_GLOB[:-1] + "*"]))
    assert time.perf_counter() - started < 1.0
    assert sorted(found) == [name, f"sub/{name}"]


def test_a_non_utf8_file_name_gets_a_printable_lossless_path_and_is_readable(root: Path) -> None:
    folder = os.fsencode(root) + b"/caf\xe9_dir"
    os.mkdir(folder)
    with open(folder + b"/na\xefve.py", "wb") as fh:
        fh.write(b"def naive():\n    return 1\n")
    report = WalkReport()
    [cand] = list(Walker().walk(root, report))
    assert cand.rel_path == "caf\\xe9_dir/na\\xefve.py"
    cand.rel_path.encode("utf-8")  # JSON- and SQL-safe
    assert read_text(cand.abs_path, 1000, root=root).text.startswith("def naive")


def test_printable_paths_keep_valid_names_and_escape_backslashes_only_in_undecodable_ones() -> None:
    assert printable_path("src/ünïcode.py") == "src/ünïcode.py"
    assert printable_path("a\\b.py") == "a\\b.py"
    undecodable = os.fsdecode(b"x\\y\xff.py")
    assert printable_path(undecodable) == "x\\\\y\\xff.py"


def test_a_folder_1500_levels_deep_is_walked_without_recursion(tmp_path: Path) -> None:
    depth = 1500
    # tmpfs when there is one: thousands of mkdir/rmdir on a loaded disk take seconds
    base = Path(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else tmp_path)).resolve()
    try:
        fd = os.open(base, os.O_RDONLY)
        for _ in range(depth):  # with dir_fd: a 3 KB path is legal but tedious for pathlib
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.close(os.open("deep.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
        os.close(fd)
        found, skipped = _walk(base)
    finally:
        _remove_chain(base)
    assert found == ["/".join(["d"] * depth) + "/deep.py"]
    assert skipped == {}


def _remove_chain(base: Path) -> None:
    """Delete a deep chain of ``d`` folders bottom-up without recursion (shutil.rmtree recurses,
    and pytest's clean-up of old temp folders would hit RecursionError on it)."""
    fd = os.open(base, os.O_RDONLY)
    depth = 0
    while True:
        try:
            child = os.open("d", os.O_RDONLY, dir_fd=fd)
        except FileNotFoundError:
            break
        os.close(fd)
        fd, depth = child, depth + 1
    with contextlib.suppress(FileNotFoundError):
        os.unlink("deep.py", dir_fd=fd)
    for _ in range(depth):
        parent = os.open("..", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        os.rmdir("d", dir_fd=parent)
        fd = parent
    os.close(fd)
    base.rmdir()


def test_a_dangling_symlink_is_reported_as_a_broken_symlink(root: Path) -> None:
    (root / "dangling.py").symlink_to(root / "gone.py")
    _, skipped = _walk(root)
    assert skipped["dangling.py"].startswith("broken symlink")


def test_a_file_swapped_for_a_symlink_after_the_walk_is_refused(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET_TOKEN=abc\n", encoding="utf-8")
    (root / "app.py").write_text("x = 1\n", encoding="utf-8")
    [cand] = list(Walker().walk(root, WalkReport()))
    (root / "app.py").unlink()
    (root / "app.py").symlink_to(secret)
    with pytest.raises(SkipFile, match="symlink"):
        read_text(cand.abs_path, 1000, root=root)


def test_a_folder_swapped_for_a_symlink_after_the_walk_is_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "app.py").write_text("SECRET_TOKEN=abc\n", encoding="utf-8")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("x = 1\n", encoding="utf-8")
    [cand] = list(Walker().walk(root, WalkReport()))
    (root / "src" / "app.py").unlink()
    (root / "src").rmdir()
    (root / "src").symlink_to(outside, target_is_directory=True)
    with pytest.raises(SkipFile, match="symlink"):
        read_text(cand.abs_path, 1000, root=root)


def test_a_symlink_to_a_file_inside_the_root_is_still_read_through_its_target(root: Path) -> None:
    (root / "real.py").write_text("x = 1\n", encoding="utf-8")
    (root / "alias.py").symlink_to(root / "real.py")
    cands = {c.rel_path: c for c in Walker().walk(root, WalkReport())}
    assert read_text(cands["alias.py"].abs_path, 1000, root=root).text == "x = 1\n"


def test_a_file_swapped_for_a_fifo_is_refused_without_blocking(root: Path) -> None:
    path = root / "app.py"
    path.write_text("x = 1\n", encoding="utf-8")
    path.unlink()
    os.mkfifo(path)

    def read() -> str:
        try:
            read_text(path, 1000, root=root)
        except SkipFile as exc:
            return str(exc)
        return "read"

    assert _bounded(read, [path]).startswith("not a regular file")


SECRETS = [
    ".ssh/id_ed25519",
    ".aws/credentials",
    ".netrc",
    ".env",
    ".env.production",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    "certs/server.pem",
    "tls/private.key",
    ".kube/config",
    "deploy/id_rsa",
]


def test_well_known_secret_files_and_folders_are_skipped_with_reason_secret(root: Path) -> None:
    for rel in [*SECRETS, "src/app.py", ".ssh/known_hosts", "docs/env.md"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("TOKEN=1\n", encoding="utf-8")
    found, skipped = _walk(root)
    assert sorted(found) == ["docs/env.md", "src/app.py"]
    assert {rel for rel, reason in skipped.items() if reason == SECRET_REASON} == {
        ".ssh/",
        ".aws/",
        ".kube/",
        *(s for s in SECRETS if not s.startswith((".ssh/", ".aws/", ".kube/"))),
    }


def test_an_include_glob_naming_a_secret_file_indexes_it(root: Path) -> None:
    for rel in [".env", ".ssh/config", "app.py"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x\n", encoding="utf-8")
    found, skipped = _walk(root, Walker(secrets=SecretFilter([".env", "*.py"])))
    assert sorted(found) == [".env", "app.py"]
    assert skipped == {".ssh/config": SECRET_REASON}


def test_index_secrets_switch_turns_the_rule_off(root: Path) -> None:
    (root / ".env").write_text("x\n", encoding="utf-8")
    found, _ = _walk(root, Walker(secrets=SecretFilter(enabled=False)))
    assert found == [".env"]

"""Walk a folder the way git would see it: nested .gitignore files, default excludes, globs."""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec

from agent_brain_mcp.indexing.fsread import TooLarge, Unreadable, printable_path, read_beneath
from agent_brain_mcp.indexing.globs import GLOB_BACKEND, compile_globs
from agent_brain_mcp.indexing.languages import BINARY_SUFFIXES
from agent_brain_mcp.indexing.secret_files import SECRET_REASON, SecretFilter

__all__ = ["DEFAULT_EXCLUDES", "Candidate", "WalkReport", "Walker", "compile_globs"]

log = logging.getLogger(__name__)

MAX_IGNORE_FILE_BYTES = 1_000_000
_Spec = tuple[str, GitIgnoreSpec]

# Folders and files nobody wants in a code index. Users add more with `exclude`.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git/", ".hg/", ".svn/", "node_modules/", ".venv/", "venv/", ".tox/", ".nox/", "__pycache__/",
    ".mypy_cache/", ".pytest_cache/", ".ruff_cache/", ".hypothesis/", "build/", "dist/", "target/",
    "out/", ".next/", ".nuxt/", ".gradle/", ".idea/", ".vscode/", "*.egg-info/", ".eggs/", "coverage/",
    "htmlcov/", ".cache/", ".terraform/", "vendor/bundle/", ".claude/agent-brain/",
    "*.min.js", "*.min.css", "*.map", "package-lock.json", "yarn.lock", "pnpm-lock.yaml",
    "poetry.lock", "uv.lock", "Cargo.lock", "composer.lock", "Gemfile.lock", ".DS_Store",
)  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    """A file the walk chose; ``rel_path`` uses forward slashes, relative to the root."""

    rel_path: str
    abs_path: Path
    size: int
    mtime_ns: int


@dataclass
class WalkReport:
    """Files passed over, by reason; filled while walking."""

    skipped: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, rel_path: str, reason: str) -> None:
        self.skipped.append((rel_path, reason))


class _Folder:
    """One folder of the walk in progress: its entries (sorted), its path and the ignore rules in force."""

    def __init__(self, rel_dir: str, entries: list[os.DirEntry[str]], specs: list[_Spec]) -> None:
        self.rel_dir = rel_dir
        self.entries = iter(entries)
        self.specs = specs


class Walker:
    """Yields the files to index under a root, in a stable order.

    The walk keeps its own stack of folders (no recursion: any depth works), reads ignore files
    through ``fsread`` (regular files inside the root only, size-capped) and matches globs with a
    linear-time engine (RE2 via pathspec), so no tree or pattern can hang or crash it.
    """

    def __init__(
        self,
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        use_gitignore: bool = True,
        max_file_bytes: int = 1_000_000,
        private_dirs: Sequence[Path] = (),
        secrets: SecretFilter | None = None,
    ) -> None:
        self._private = frozenset(str(p.resolve()) for p in private_dirs)
        self._defaults = GitIgnoreSpec.from_lines(DEFAULT_EXCLUDES, backend=GLOB_BACKEND)
        self._exclude = compile_globs(exclude, "exclude")
        self._include = compile_globs(include, "include")
        self._use_gitignore = use_gitignore
        self._max_bytes = max_file_bytes
        self._secrets = secrets or SecretFilter()

    def walk(self, root: Path, report: WalkReport, start: Path | None = None) -> Iterator[Candidate]:
        """Files under ``start`` (default: ``root``) that pass every rule; paths relative to ``root``.

        The ``.gitignore`` files of the folders between ``root`` and ``start`` apply too.
        """
        specs: list[_Spec] = []
        start = start or root
        if self._use_gitignore and start != root:
            folder = root
            for part in start.relative_to(root).parts:
                rel_dir = "" if folder == root else printable_path(folder.relative_to(root).as_posix()) + "/"
                spec = _read_gitignore(root, folder, rel_dir, report)
                if spec is not None:
                    specs.append((rel_dir, spec))
                folder = folder / part
        yield from self._walk_tree(root, start, specs, report)

    def single_file(self, path: Path, root: Path, report: WalkReport) -> Iterator[Candidate]:
        """A file named directly: ignore rules do not apply, but size and binary checks do."""
        rel = printable_path(path.relative_to(root).as_posix())
        try:
            st = path.stat()
        except OSError as exc:
            report.skip(rel, f"unreadable ({exc.strerror})")
            return
        if self._accept_file(rel, path.name, st, report):
            yield Candidate(rel, path, st.st_size, st.st_mtime_ns)

    def _ignored(self, rel: str, is_dir: bool, specs: list[_Spec]) -> bool:
        probe = _probe(rel, is_dir)
        return self._excluded_name(probe) or _gitignored(probe, specs)

    def _excluded_name(self, probe: str) -> bool:
        """Whether the defaults or the configured excludes leave out ``probe`` (a folder ends in ``/``)."""
        return bool(self._defaults.match_file(probe) or (self._exclude and self._exclude.match_file(probe)))

    def _open_folder(
        self, root: Path, path: str, rel_dir: str, specs: list[_Spec], report: WalkReport
    ) -> _Folder | None:
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            report.skip(rel_dir or ".", f"unreadable folder ({exc.strerror or exc})")
            return None
        ignore_file = next((e for e in entries if e.name == ".gitignore"), None)
        if self._use_gitignore and ignore_file is not None and _is_plain_ignore_file(ignore_file, rel_dir, report):
            spec = _read_gitignore(root, Path(path), rel_dir, report)
            if spec is not None:
                specs = [*specs, (rel_dir, spec)]
        return _Folder(rel_dir, entries, specs)

    def _walk_tree(self, root: Path, start: Path, specs: list[_Spec], report: WalkReport) -> Iterator[Candidate]:
        rel_start = "" if start == root else printable_path(start.relative_to(root).as_posix()) + "/"
        first = self._open_folder(root, str(start), rel_start, specs, report)
        stack = [first] if first is not None else []
        while stack:
            folder = stack[-1]
            entry = next(folder.entries, None)
            if entry is None:
                stack.pop()
                continue
            rel = folder.rel_dir + printable_path(entry.name)
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError as exc:
                report.skip(rel, f"unreadable ({exc.strerror})")
                continue
            if self._ignored(rel, is_dir, folder.specs):
                continue
            if is_dir:
                if self._secrets.skips_folder(rel):
                    report.skip(rel + "/", SECRET_REASON)
                elif entry.path not in self._private:
                    child = self._open_folder(root, entry.path, rel + "/", folder.specs, report)
                    if child is not None:
                        stack.append(child)
                continue
            candidate = self._file_candidate(root, rel, Path(entry.path), is_link, report)
            if candidate is not None:
                yield candidate

    def _file_candidate(self, root: Path, rel: str, path: Path, is_link: bool, report: WalkReport) -> Candidate | None:
        """The checks a file not ignored by name must still pass: link target, file type, include, secrets, size."""
        name = path.name
        if is_link:
            target, problem = _link_target_inside(path, root)
            if target is None:
                report.skip(rel, problem)
                return None
            path = target  # read the target itself: the reader follows no symlink below the root
        try:
            st = path.stat()
        except OSError as exc:
            report.skip(rel, f"unreadable ({exc.strerror})")
            return None
        if not stat.S_ISREG(st.st_mode):
            report.skip(rel, "not a regular file (FIFO, socket or device)")
            return None
        if self._include is not None and not self._include.match_file(rel):
            return None
        if self._secrets.skips_file(rel):
            report.skip(rel, SECRET_REASON)
            return None
        if self._accept_file(rel, name, st, report):
            return Candidate(rel, path, st.st_size, st.st_mtime_ns)
        return None

    def candidate(
        self, root: Path, path: Path, report: WalkReport, gitignores: dict[Path, GitIgnoreSpec | None] | None = None
    ) -> Candidate | None:
        """``path``, a file under ``root``, as ``walk`` would yield it; None when the walk would pass it over."""
        if not path.is_file() or self.ignored(root, path, is_dir=False, gitignores=gitignores):
            return None
        rel = printable_path(path.relative_to(root).as_posix())
        return self._file_candidate(root, rel, path, path.is_symlink(), report)

    def ignored(
        self,
        root: Path,
        path: Path,
        *,
        is_dir: bool,
        gitignores: dict[Path, GitIgnoreSpec | None] | None = None,
    ) -> bool:
        """Whether the walk leaves ``path`` (under ``root``) out by its name: the same rules, for one path.

        The folders on the way and ``path`` itself are checked against the defaults, the excludes,
        the private folders and the ``.gitignore`` files of every folder from ``root`` down
        (``gitignores`` caches those across calls). For the watcher's changed paths.
        """
        if self.excluded(root, path, is_dir=is_dir):
            return True
        if not self._use_gitignore:
            return False
        cache: dict[Path, GitIgnoreSpec | None] = {} if gitignores is None else gitignores
        parts = path.relative_to(root).parts
        specs: list[_Spec] = []
        folder = root
        for depth, part in enumerate(parts):
            if folder not in cache:
                rel_dir = "/".join(parts[:depth]) + "/" if depth else ""
                cache[folder] = _read_gitignore(root, folder, printable_path(rel_dir), WalkReport())
            spec = cache[folder]
            if spec is not None:
                specs.append(("/".join(parts[:depth]) + "/" if depth else "", spec))
            if _gitignored(_probe("/".join(parts[: depth + 1]), is_dir or depth < len(parts) - 1), specs):
                return True
            folder = folder / part
        return False

    def excluded(self, root: Path, path: Path, *, is_dir: bool = False) -> bool:
        """Whether ``path`` is outside ``root`` or left out by the defaults, the excludes or a private
        folder: judged on names alone (no ``.gitignore`` read, no file system access), a cheap filter."""
        if any(path == Path(private) or path.is_relative_to(private) for private in self._private):
            return True
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            return True
        if not parts:
            return True
        return any(
            self._excluded_name(_probe("/".join(parts[: depth + 1]), is_dir or depth < len(parts) - 1))
            for depth in range(len(parts))
        )

    def _accept_file(self, rel: str, name: str, st: os.stat_result, report: WalkReport) -> bool:
        if Path(name).suffix.lower() in BINARY_SUFFIXES:
            report.skip(rel, "binary")
            return False
        if st.st_size > self._max_bytes:
            report.skip(rel, f"too large ({st.st_size} bytes > indexing.max_file_bytes={self._max_bytes})")
            return False
        return True


def _probe(rel: str, is_dir: bool) -> str:
    """The path as ignore rules see it: a folder ends in ``/``."""
    return rel + "/" if is_dir else rel


def _gitignored(probe: str, specs: list[_Spec]) -> bool:
    """The verdict of the ``.gitignore`` files: deeper files win; within one, the last matching rule."""
    for base, spec in reversed(specs):
        sub = probe[len(base) :] if base else probe
        verdict = spec.check_file(sub).include
        if verdict is not None:
            return verdict
    return False


def _is_plain_ignore_file(entry: os.DirEntry[str], rel_dir: str, report: WalkReport) -> bool:
    """Git reads no ignore file through a symlink, and a FIFO or device must never be opened."""
    try:
        if entry.is_symlink():
            report.skip(rel_dir + ".gitignore", "ignore file is a symlink: its rules are not applied (as in git)")
            return False
        return entry.is_file(follow_symlinks=False)  # FIFOs and sockets are reported by the walk itself
    except OSError:
        return False


def _read_gitignore(root: Path, folder: Path, rel_dir: str, report: WalkReport) -> GitIgnoreSpec | None:
    """The rules of ``folder/.gitignore``: a regular file inside the root, at most 1 MB, else reported."""
    rel = rel_dir + ".gitignore"
    try:
        data = read_beneath(root, (*folder.relative_to(root).parts, ".gitignore"), MAX_IGNORE_FILE_BYTES)
    except TooLarge:
        report.skip(
            rel, f"too large (ignore files are read up to {MAX_IGNORE_FILE_BYTES} bytes; its rules are not applied)"
        )
        return None
    except Unreadable as exc:
        if str(exc) != "disappeared while indexing":
            report.skip(rel, f"{exc}; its rules are not applied")
        return None
    lines = data.decode("utf-8", errors="replace").splitlines()
    try:
        return GitIgnoreSpec.from_lines(lines, backend=GLOB_BACKEND)
    except Exception as exc:  # noqa: BLE001 - pathspec raises ValueError, RE2 its own error (e.g. too large)
        log.warning("ignoring unparseable %s: %s", folder / ".gitignore", exc)
        return None


def _link_target_inside(link: Path, root: Path) -> tuple[Path | None, str]:
    """The resolved target of a file symlink if it stays under ``root``; else None and the reason."""
    try:
        target = link.resolve(strict=True)
    except FileNotFoundError:
        return None, "broken symlink (its target does not exist)"
    except RuntimeError:
        return None, "symlink loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "symlink loop"
        return None, f"unreadable symlink ({exc.strerror or exc})"
    if not target.is_relative_to(root):
        return None, "symlink to outside the indexed root"
    if target.is_dir():
        return None, "symlink to a folder (not followed)"
    return target, ""

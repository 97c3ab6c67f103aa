"""Walk a folder the way git would see it: nested .gitignore files, default excludes, globs."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec

from agent_brain_mcp.errors import InvalidInputError
from agent_brain_mcp.indexing.languages import BINARY_SUFFIXES

log = logging.getLogger(__name__)

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


def compile_globs(patterns: Sequence[str], what: str) -> GitIgnoreSpec | None:
    """Gitignore-style globs; a bad one is an input error naming it."""
    if not patterns:
        return None
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern.strip() or "\x00" in pattern:
            raise InvalidInputError(f"{what}: {pattern!r} is not a usable glob")
    try:
        return GitIgnoreSpec.from_lines(patterns)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"{what}: invalid glob ({exc}); use gitignore syntax like '*.py' or 'docs/**'") from exc


class Walker:
    """Yields the files to index under a root, in a stable order."""

    def __init__(
        self,
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        use_gitignore: bool = True,
        max_file_bytes: int = 1_000_000,
        private_dirs: Sequence[Path] = (),
    ) -> None:
        self._private = frozenset(p.resolve() for p in private_dirs)
        self._defaults = GitIgnoreSpec.from_lines(DEFAULT_EXCLUDES)
        self._exclude = compile_globs(exclude, "exclude")
        self._include = compile_globs(include, "include")
        self._use_gitignore = use_gitignore
        self._max_bytes = max_file_bytes

    def walk(self, root: Path, report: WalkReport, start: Path | None = None) -> Iterator[Candidate]:
        """Files under ``start`` (default: ``root``) that pass every rule; paths relative to ``root``.

        The ``.gitignore`` files of the folders between ``root`` and ``start`` apply too.
        """
        specs: list[tuple[str, GitIgnoreSpec]] = []
        start = start or root
        if self._use_gitignore and start != root:
            folder = root
            for part in start.relative_to(root).parts:
                spec = _read_gitignore(folder)
                if spec is not None:
                    rel_dir = "" if folder == root else folder.relative_to(root).as_posix() + "/"
                    specs.append((rel_dir, spec))
                folder = folder / part
        yield from self._walk_dir(root, start, specs, report)

    def single_file(self, path: Path, root: Path, report: WalkReport) -> Iterator[Candidate]:
        """A file named directly: ignore rules do not apply, but size and binary checks do."""
        rel = path.relative_to(root).as_posix()
        try:
            st = path.stat()
        except OSError as exc:
            report.skip(rel, f"unreadable ({exc.strerror})")
            return
        if self._accept_file(rel, path.name, st, report):
            yield Candidate(rel, path, st.st_size, st.st_mtime_ns)

    def _ignored(self, rel: str, is_dir: bool, specs: list[tuple[str, GitIgnoreSpec]], names: bool = True) -> bool:
        probe = rel + "/" if is_dir else rel
        if names and (self._defaults.match_file(probe) or (self._exclude and self._exclude.match_file(probe))):
            return True
        # Deeper .gitignore files win; within one file the last matching rule wins.
        for base, spec in reversed(specs):
            sub = probe[len(base) :] if base else probe
            verdict = spec.check_file(sub).include
            if verdict is not None:
                return verdict
        return False

    def _walk_dir(
        self, root: Path, folder: Path, specs: list[tuple[str, GitIgnoreSpec]], report: WalkReport
    ) -> Iterator[Candidate]:
        rel_dir = "" if folder == root else folder.relative_to(root).as_posix() + "/"
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            report.skip(rel_dir or ".", f"unreadable folder ({exc.strerror or exc})")
            return
        if self._use_gitignore:
            spec = _read_gitignore(folder)
            if spec is not None:
                specs = [*specs, (rel_dir, spec)]
        for entry in entries:
            rel = rel_dir + entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError as exc:
                report.skip(rel, f"unreadable ({exc.strerror})")
                continue
            if self._ignored(rel, is_dir, specs):
                continue
            if is_dir:
                if Path(entry.path) not in self._private:
                    yield from self._walk_dir(root, Path(entry.path), specs, report)
                continue
            candidate = self._file_candidate(root, rel, Path(entry.path), is_link, report)
            if candidate is not None:
                yield candidate

    def _file_candidate(self, root: Path, rel: str, path: Path, is_link: bool, report: WalkReport) -> Candidate | None:
        """The checks a file not ignored by name must still pass: link target, file type, include, size."""
        if is_link and _link_target_inside(path, root) is None:
            report.skip(rel, "symlink to a folder or outside the indexed root")
            return None
        try:
            st = path.stat()
        except OSError as exc:
            report.skip(rel, f"unreadable ({exc.strerror})")
            return None
        if not stat.S_ISREG(st.st_mode):
            return None  # sockets, fifos, devices
        if self._include is not None and not self._include.match_file(rel):
            return None
        if self._accept_file(rel, path.name, st, report):
            return Candidate(rel, path, st.st_size, st.st_mtime_ns)
        return None

    def candidate(
        self, root: Path, path: Path, report: WalkReport, gitignores: dict[Path, GitIgnoreSpec | None] | None = None
    ) -> Candidate | None:
        """``path``, a file under ``root``, as ``walk`` would yield it; None when the walk would pass it over."""
        if not path.is_file() or self.ignored(root, path, is_dir=False, gitignores=gitignores):
            return None
        rel = path.relative_to(root).as_posix()
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
        specs: list[tuple[str, GitIgnoreSpec]] = []
        folder = root
        for depth, part in enumerate(parts):
            if folder not in cache:
                cache[folder] = _read_gitignore(folder)
            spec = cache[folder]
            if spec is not None:
                specs.append(("/".join(parts[:depth]) + "/" if depth else "", spec))
            if self._ignored("/".join(parts[: depth + 1]), is_dir or depth < len(parts) - 1, specs, names=False):
                return True
            folder = folder / part
        return False

    def excluded(self, root: Path, path: Path, *, is_dir: bool = False) -> bool:
        """Whether ``path`` is outside ``root`` or left out by the defaults, the excludes or a private
        folder: judged on names alone (no ``.gitignore`` read, no file system access), a cheap filter."""
        if any(path == private or path.is_relative_to(private) for private in self._private):
            return True
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            return True
        if not parts:
            return True
        for depth in range(len(parts)):
            folder = is_dir or depth < len(parts) - 1
            probe = "/".join(parts[: depth + 1]) + ("/" if folder else "")
            if self._defaults.match_file(probe) or (self._exclude and self._exclude.match_file(probe)):
                return True
        return False

    def _accept_file(self, rel: str, name: str, st: os.stat_result, report: WalkReport) -> bool:
        if Path(name).suffix.lower() in BINARY_SUFFIXES:
            report.skip(rel, "binary")
            return False
        if st.st_size > self._max_bytes:
            report.skip(rel, f"too large ({st.st_size} bytes > indexing.max_file_bytes={self._max_bytes})")
            return False
        return True


def _read_gitignore(folder: Path) -> GitIgnoreSpec | None:
    path = folder / ".gitignore"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None
    try:
        return GitIgnoreSpec.from_lines(lines)
    except (ValueError, TypeError) as exc:
        log.warning("ignoring unparseable %s: %s", path, exc)
        return None


def _link_target_inside(link: Path, root: Path) -> Path | None:
    """The resolved target of a file symlink if it stays under ``root``; None otherwise."""
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):  # broken link or a loop
        return None
    if not target.is_file() or not target.is_relative_to(root):
        return None
    return target

"""The walker sees a folder the way git would: default excludes, nested .gitignore files, globs, symlinks."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import run_without_root_powers, world_readable_tmpdir

from agent_brain_mcp.errors import InvalidInputError
from agent_brain_mcp.indexing.walker import Candidate, Walker, WalkReport, compile_globs


def _tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def _walk(root: Path, walker: Walker | None = None, start: Path | None = None) -> tuple[list[str], WalkReport]:
    report = WalkReport()
    found = [c.rel_path for c in (walker or Walker()).walk(root, report, start)]
    return found, report


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path.resolve() / "project"
    folder.mkdir()
    return folder


def test_a_plain_tree_yields_every_file_with_posix_paths_relative_to_the_root(root: Path) -> None:
    _tree(root, {"README.md": "# hi", "src/app.py": "x = 1", "src/pkg/util.py": "y = 2"})
    found, report = _walk(root)
    assert sorted(found) == ["README.md", "src/app.py", "src/pkg/util.py"]
    assert report.skipped == []


def test_candidates_carry_absolute_path_size_and_mtime(root: Path) -> None:
    _tree(root, {"src/app.py": "print('hello')\n"})
    [cand] = list(Walker().walk(root, WalkReport()))
    st = (root / "src/app.py").stat()
    assert cand == Candidate("src/app.py", root / "src" / "app.py", st.st_size, st.st_mtime_ns)
    assert cand.abs_path.is_absolute()


@pytest.mark.parametrize(
    "rel",
    [
        ".git/config",
        ".git/objects/ab/cdef",
        "node_modules/left-pad/index.js",
        "web/node_modules/react/index.js",
        ".venv/lib/site.py",
        "venv/lib/site.py",
        "__pycache__/app.cpython-311.py",
        "pkg/__pycache__/mod.py",
        "dist/bundle.js",
        "build/lib/app.py",
        ".mypy_cache/x.json",
        "pkg.egg-info/PKG-INFO",
        "package-lock.json",
        "web/yarn.lock",
        "poetry.lock",
        "uv.lock",
        "Cargo.lock",
        "static/app.min.js",
        "static/app.min.css",
        "static/app.js.map",
        ".DS_Store",
    ],
)
def test_default_excludes_are_pruned(root: Path, rel: str) -> None:
    _tree(root, {rel: "content", "keep.py": "x = 1"})
    found, _ = _walk(root)
    assert found == ["keep.py"]


def test_default_excludes_match_names_not_substrings(root: Path) -> None:
    _tree(root, {"distance.py": "d", "builder/make.py": "b", "app.js": "a", "mylock.json": "m"})
    found, _ = _walk(root)
    assert sorted(found) == ["app.js", "builder/make.py", "distance.py", "mylock.json"]


def test_root_gitignore_is_honoured_for_files_and_folders(root: Path) -> None:
    _tree(
        root,
        {
            ".gitignore": "*.log\nsecrets/\n/generated.py\n",
            "app.py": "a",
            "debug.log": "l",
            "sub/trace.log": "l",
            "secrets/key.txt": "k",
            "generated.py": "g",
            "sub/generated.py": "kept: anchored pattern only matches at the root",
        },
    )
    found, _ = _walk(root)
    assert sorted(found) == [".gitignore", "app.py", "sub/generated.py"]


def test_use_gitignore_false_ignores_gitignore_files_but_keeps_default_excludes(root: Path) -> None:
    _tree(root, {".gitignore": "*.log\n", "debug.log": "l", "node_modules/x.js": "x"})
    found, _ = _walk(root, Walker(use_gitignore=False))
    assert sorted(found) == [".gitignore", "debug.log"]


def test_nested_gitignore_applies_only_below_its_folder(root: Path) -> None:
    _tree(
        root,
        {
            "a/.gitignore": "*.tmp\n/local.py\n",
            "a/x.tmp": "t",
            "a/deep/y.tmp": "t",
            "a/local.py": "anchored to a/",
            "a/deep/local.py": "not anchored here",
            "b/z.tmp": "outside a/",
            "top.tmp": "outside a/",
        },
    )
    found, _ = _walk(root)
    assert sorted(found) == ["a/.gitignore", "a/deep/local.py", "b/z.tmp", "top.tmp"]


def test_nested_gitignore_reincludes_a_file_the_parent_ignored(root: Path) -> None:
    _tree(
        root,
        {
            ".gitignore": "*.log\n",
            "logs/.gitignore": "!important.log\n",
            "logs/important.log": "keep",
            "logs/noise.log": "drop",
            "other/important.log": "the re-include is only for logs/",
        },
    )
    found, _ = _walk(root)
    assert sorted(found) == [".gitignore", "logs/.gitignore", "logs/important.log"]


def test_nested_gitignore_can_ignore_what_the_parent_reincluded(root: Path) -> None:
    _tree(
        root,
        {
            ".gitignore": "*.txt\n!notes.txt\n",
            "notes.txt": "kept at the top",
            "sub/.gitignore": "notes.txt\n",
            "sub/notes.txt": "ignored by the deeper file",
        },
    )
    found, _ = _walk(root)
    assert sorted(found) == [".gitignore", "notes.txt", "sub/.gitignore"]


def test_within_one_gitignore_the_last_matching_rule_wins(root: Path) -> None:
    _tree(root, {".gitignore": "!keep.md\n*.md\n", "keep.md": "k", "other.md": "o", "x.py": "x"})
    found, _ = _walk(root)
    assert sorted(found) == [".gitignore", "x.py"]


def test_a_directory_ignored_by_a_parent_cannot_be_reentered(root: Path) -> None:
    _tree(
        root,
        {
            ".gitignore": "generated/\n!generated/keep.py\n",
            "generated/keep.py": "k",
            "generated/.gitignore": "!*\n",
            "generated/other.py": "o",
            "src/app.py": "a",
        },
    )
    found, _ = _walk(root)
    assert sorted(found) == [".gitignore", "src/app.py"]


def test_exclude_globs_prune_files_and_folders(root: Path) -> None:
    _tree(root, {"src/app.py": "a", "src/app_test.py": "t", "docs/guide.md": "g", "README.md": "r"})
    found, _ = _walk(root, Walker(exclude=["*_test.py", "docs/"]))
    assert sorted(found) == ["README.md", "src/app.py"]


def test_include_globs_keep_only_matching_files_but_still_descend(root: Path) -> None:
    _tree(root, {"src/app.py": "a", "src/pkg/deep.py": "d", "README.md": "r", "setup.cfg": "c"})
    found, _ = _walk(root, Walker(include=["*.py"]))
    assert sorted(found) == ["src/app.py", "src/pkg/deep.py"]


def test_include_with_a_folder_glob_limits_the_walk_to_that_folder(root: Path) -> None:
    _tree(root, {"docs/a.md": "a", "docs/sub/b.md": "b", "src/c.md": "c"})
    found, _ = _walk(root, Walker(include=["docs/**"]))
    assert sorted(found) == ["docs/a.md", "docs/sub/b.md"]


def test_exclude_wins_over_include(root: Path) -> None:
    _tree(root, {"a.py": "a", "b.py": "b"})
    found, _ = _walk(root, Walker(include=["*.py"], exclude=["b.py"]))
    assert found == ["a.py"]


def test_include_does_not_override_gitignore_or_default_excludes(root: Path) -> None:
    _tree(root, {".gitignore": "skip.py\n", "skip.py": "s", "node_modules/m.py": "m", "ok.py": "o"})
    found, _ = _walk(root, Walker(include=["*.py"]))
    assert found == ["ok.py"]


def test_walk_from_a_subfolder_returns_paths_relative_to_the_root(root: Path) -> None:
    _tree(root, {"top.py": "t", "pkg/mod.py": "m", "pkg/sub/deep.py": "d", "other/x.py": "x"})
    found, _ = _walk(root, start=root / "pkg")
    assert sorted(found) == ["pkg/mod.py", "pkg/sub/deep.py"]


def test_walk_from_a_subfolder_applies_the_gitignore_files_of_folders_above_it(root: Path) -> None:
    _tree(
        root,
        {
            ".gitignore": "*.log\n/pkg/sub/secret.py\n",
            "pkg/.gitignore": "*.tmp\n",
            "pkg/sub/.gitignore": "*.bak\n",
            "pkg/sub/a.log": "root rule",
            "pkg/sub/b.tmp": "pkg rule",
            "pkg/sub/c.bak": "own rule",
            "pkg/sub/secret.py": "anchored root rule",
            "pkg/sub/keep.py": "kept",
        },
    )
    found, _ = _walk(root, start=root / "pkg" / "sub")
    assert sorted(found) == ["pkg/sub/.gitignore", "pkg/sub/keep.py"]


def test_walk_from_a_subfolder_honours_reincludes_between_root_and_start(root: Path) -> None:
    _tree(
        root,
        {
            ".gitignore": "*.log\n",
            "pkg/.gitignore": "!keep.log\n",
            "pkg/sub/keep.log": "re-included by pkg/.gitignore",
            "pkg/sub/drop.log": "ignored by the root",
        },
    )
    found, _ = _walk(root, start=root / "pkg" / "sub")
    assert found == ["pkg/sub/keep.log"]


def test_walk_from_a_subfolder_gives_the_same_files_as_the_full_walk_under_it(root: Path) -> None:
    _tree(
        root,
        {
            ".gitignore": "*.log\n",
            "pkg/.gitignore": "!keep.log\nbuild.txt\n",
            "pkg/a.py": "a",
            "pkg/keep.log": "k",
            "pkg/drop.log": "d",
            "pkg/build.txt": "b",
            "pkg/inner/b.py": "b",
            "elsewhere.py": "e",
        },
    )
    full, _ = _walk(root)
    sub, _ = _walk(root, start=root / "pkg")
    assert sub == [p for p in full if p.startswith("pkg/")]


@pytest.mark.parametrize("name", ["logo.png", "archive.ZIP", "model.onnx", "lib.so", "app.pyc", "data.sqlite"])
def test_binary_suffixes_are_reported_as_skipped(root: Path, name: str) -> None:
    _tree(root, {name: b"\x00\x01\x02", "app.py": "a"})
    found, report = _walk(root)
    assert found == ["app.py"]
    assert report.skipped == [(name, "binary")]


def test_files_over_max_file_bytes_are_reported_as_too_large(root: Path) -> None:
    _tree(root, {"big.txt": "x" * 101, "edge.txt": "x" * 100, "small.txt": "x"})
    found, report = _walk(root, Walker(max_file_bytes=100))
    assert sorted(found) == ["edge.txt", "small.txt"]
    [(rel, reason)] = report.skipped
    assert rel == "big.txt"
    assert reason.startswith("too large")
    assert "101" in reason
    assert "max_file_bytes=100" in reason


def test_ignored_files_are_not_reported_as_skipped(root: Path) -> None:
    _tree(root, {".gitignore": "*.png\n", "logo.png": b"\x89PNG", "node_modules/big.bin": b"\x00"})
    _, report = _walk(root)
    assert report.skipped == []


def test_a_symlink_to_a_file_inside_the_root_is_followed(root: Path) -> None:
    _tree(root, {"real/target.py": "t"})
    (root / "alias.py").symlink_to(root / "real" / "target.py")
    found, report = _walk(root)
    assert sorted(found) == ["alias.py", "real/target.py"]
    assert report.skipped == []


def test_a_relative_symlink_to_a_file_inside_the_root_is_followed(root: Path) -> None:
    _tree(root, {"real/target.py": "t"})
    (root / "lib").mkdir()
    (root / "lib" / "alias.py").symlink_to(Path("..") / "real" / "target.py")
    found, _ = _walk(root)
    assert sorted(found) == ["lib/alias.py", "real/target.py"]


def test_a_symlink_pointing_outside_the_root_is_skipped_with_a_reason(root: Path, tmp_path: Path) -> None:
    outside = tmp_path.resolve() / "outside.py"
    outside.write_text("secret", encoding="utf-8")
    _tree(root, {"app.py": "a"})
    (root / "leak.py").symlink_to(outside)
    found, report = _walk(root)
    assert found == ["app.py"]
    assert len(report.skipped) == 1
    rel, reason = report.skipped[0]
    assert rel == "leak.py"
    assert "outside" in reason


def test_a_symlink_to_a_folder_is_not_descended(root: Path) -> None:
    _tree(root, {"src/app.py": "a"})
    (root / "mirror").symlink_to(root / "src", target_is_directory=True)
    found, report = _walk(root)
    assert found == ["src/app.py"]
    assert [rel for rel, _ in report.skipped] == ["mirror"]
    assert "folder" in report.skipped[0][1]


def test_a_symlink_to_an_ancestor_folder_does_not_recurse(root: Path) -> None:
    _tree(root, {"pkg/mod.py": "m"})
    (root / "pkg" / "loop").symlink_to(root, target_is_directory=True)
    found, _ = _walk(root)
    assert found == ["pkg/mod.py"]


def test_a_symlink_loop_does_not_hang_and_is_reported(root: Path) -> None:
    _tree(root, {"app.py": "a"})
    (root / "a.py").symlink_to(root / "b.py")
    (root / "b.py").symlink_to(root / "a.py")
    (root / "self.py").symlink_to(root / "self.py")
    found, report = _walk(root)
    assert found == ["app.py"]
    assert sorted(rel for rel, _ in report.skipped) == ["a.py", "b.py", "self.py"]


def test_a_broken_symlink_is_skipped_not_raised(root: Path) -> None:
    _tree(root, {"app.py": "a"})
    (root / "dangling.py").symlink_to(root / "gone.py")
    found, report = _walk(root)
    assert found == ["app.py"]
    assert [rel for rel, _ in report.skipped] == ["dangling.py"]


def test_an_ignored_symlink_is_neither_followed_nor_reported(root: Path, tmp_path: Path) -> None:
    outside = tmp_path.resolve() / "outside.py"
    outside.write_text("o", encoding="utf-8")
    _tree(root, {".gitignore": "leak.py\n"})
    (root / "leak.py").symlink_to(outside)
    found, report = _walk(root)
    assert found == [".gitignore"]
    assert report.skipped == []


def test_entries_in_each_folder_come_in_name_order_and_repeat_walks_agree(root: Path) -> None:
    names = ["zeta.py", "alpha.py", "Mid.py", "beta/x.py", "beta/a.py", "gamma.md"]
    _tree(root, dict.fromkeys(names, "x"))
    found, _ = _walk(root)
    assert found == ["Mid.py", "alpha.py", "beta/a.py", "beta/x.py", "gamma.md", "zeta.py"]
    assert _walk(root)[0] == found


def test_the_order_does_not_depend_on_creation_order(tmp_path: Path) -> None:
    names = ["b.py", "a/z.py", "c/d/e.py", "a/b.py", "0.txt"]
    one = _tree(tmp_path.resolve() / "one", dict.fromkeys(names, "x"))
    two = _tree(tmp_path.resolve() / "two", dict.fromkeys(reversed(names), "x"))
    assert _walk(one)[0] == _walk(two)[0]


@pytest.mark.parametrize("bad", ["", "   ", "a\x00b", "!", "\\"])
def test_a_bad_exclude_glob_is_an_input_error_naming_the_option(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="exclude"):
        Walker(exclude=["*.py", bad])


@pytest.mark.parametrize("bad", ["", "!"])
def test_a_bad_include_glob_is_an_input_error_naming_the_option(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="include"):
        Walker(include=[bad])


def test_a_non_string_glob_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError):
        compile_globs(["*.py", 3], "exclude")  # type: ignore[list-item]


def test_no_globs_compile_to_nothing() -> None:
    assert compile_globs([], "include") is None


def test_single_file_ignores_ignore_rules(root: Path) -> None:
    _tree(root, {".gitignore": "*.py\n", "node_modules/pkg/index.py": "x = 1"})
    path = root / "node_modules" / "pkg" / "index.py"
    report = WalkReport()
    [cand] = list(Walker(exclude=["*.py"]).single_file(path, root, report))
    assert cand.rel_path == "node_modules/pkg/index.py"
    assert cand.abs_path == path
    assert cand.size == path.stat().st_size
    assert report.skipped == []


def test_single_file_still_applies_the_binary_and_size_checks(root: Path) -> None:
    _tree(root, {"img.png": b"\x89PNG", "big.txt": "x" * 50})
    report = WalkReport()
    walker = Walker(max_file_bytes=10)
    assert list(walker.single_file(root / "img.png", root, report)) == []
    assert list(walker.single_file(root / "big.txt", root, report)) == []
    assert report.skipped[0] == ("img.png", "binary")
    assert report.skipped[1][0] == "big.txt"
    assert report.skipped[1][1].startswith("too large")


def test_single_file_reports_a_missing_file(root: Path) -> None:
    report = WalkReport()
    assert list(Walker().single_file(root / "gone.py", root, report)) == []
    [(rel, reason)] = report.skipped
    assert rel == "gone.py"
    assert reason.startswith("unreadable")


def _walk_as_user(root: Path) -> tuple[list[str], list[tuple[str, str]]]:
    report = WalkReport()
    return [c.rel_path for c in Walker().walk(root, report)], report.skipped


def test_an_unreadable_folder_is_reported_and_the_walk_goes_on() -> None:
    base = world_readable_tmpdir("walker-perm-")
    _tree(base, {"locked/secret.py": "s", "open.py": "o"})
    (base / "locked").chmod(0)
    try:
        found, skipped = run_without_root_powers(_walk_as_user, base)
    finally:
        (base / "locked").chmod(0o755)
    assert found == ["open.py"]
    assert [rel for rel, _ in skipped] == ["locked/"]
    assert skipped[0][1].startswith("unreadable folder")


# -- one path at a time (the file watcher's changed paths) ----------------------------------------
_MIXED_TREE: dict[str, str | bytes] = {
    ".gitignore": "*.log\nsecret/\n!keep.log\n",
    "app.py": "x = 1",
    "debug.log": "noise",
    "keep.log": "kept",
    "secret/key.py": "k = 1",
    "src/.gitignore": "generated_*.py\n",
    "src/main.py": "y = 2",
    "src/generated_api.py": "z = 3",
    "src/deep/.gitignore": "!generated_ok.py\n",
    "src/deep/generated_ok.py": "w = 4",
    "node_modules/pkg/index.js": "module.exports = 1",
    "build/out.py": "q = 1",
    "docs/guide.md": "# guide",
    "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00",
    "big.txt": "x" * 5000,
}


@pytest.mark.parametrize(
    "walker",
    [Walker(max_file_bytes=1000), Walker(exclude=["docs/"]), Walker(include=["*.py"]), Walker(use_gitignore=False)],
)
def test_judging_one_path_at_a_time_agrees_with_the_walk_for_every_file(root: Path, walker: Walker) -> None:
    _tree(root, _MIXED_TREE)
    walked = {c.rel_path: c for c in walker.walk(root, WalkReport())}
    gitignores: dict[Path, object] = {}
    one_by_one = {}
    for path in root.rglob("*"):
        cand = walker.candidate(root, path, WalkReport(), gitignores)  # type: ignore[arg-type]
        if cand is not None:
            one_by_one[cand.rel_path] = cand
    assert one_by_one == walked


def test_a_changed_path_inside_an_excluded_folder_is_filtered_by_its_name_alone(root: Path) -> None:
    walker = Walker(exclude=["fixtures/"])
    assert walker.excluded(root, root / ".git" / "index.lock")
    assert walker.excluded(root, root / "web" / "node_modules" / "x.js")
    assert walker.excluded(root, root / "fixtures" / "a.py")
    assert walker.excluded(root.parent, root.parent / "elsewhere.py") is False
    assert walker.excluded(root, root.parent / "outside.py")
    assert not walker.excluded(root, root / "src" / "build.py")
    assert not walker.excluded(root, root / "build")  # a file may be named like an excluded folder


def test_a_vanished_or_ignored_folder_is_judged_as_a_folder(root: Path) -> None:
    _tree(root, _MIXED_TREE)
    walker = Walker()
    assert walker.ignored(root, root / "secret", is_dir=True)
    assert walker.ignored(root, root / "build", is_dir=True)
    assert not walker.ignored(root, root / "src" / "deep", is_dir=True)

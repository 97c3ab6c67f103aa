"""The search modes benchmarks/eval_files.py asks, and how a result becomes a list of file paths.

A mode is a label, a ``RetrievalService`` method and keyword arguments. Built-in modes are the
three search methods and, when the service has a ``group_by`` parameter, their file-grouped forms;
``parse_mode("LABEL=METHOD:ARG=VALUE,ARG=VALUE")`` adds any other (VALUE is JSON when it parses,
else a string), so a ranking change can be measured from the command line.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BUILTIN", "ModeSpec", "builtin_modes", "file_paths", "parse_mode"]


@dataclass(frozen=True)
class ModeSpec:
    label: str
    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.method}({args})"


BUILTIN: dict[str, ModeSpec] = {
    "search": ModeSpec("search", "search"),
    "hybrid_search": ModeSpec("hybrid_search", "hybrid_search"),
    "keyword": ModeSpec("keyword", "keyword_search"),
    "files": ModeSpec("files", "hybrid_search", {"group_by": "file"}),
    "search_files": ModeSpec("search_files", "search", {"group_by": "file"}),
}


def supports(service: Any, mode: ModeSpec) -> bool:
    """Whether the service's method exists and takes every keyword argument of the mode."""
    method = getattr(service, mode.method, None)
    if method is None or not callable(method):
        return False
    params = inspect.signature(method).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    return all(name in params for name in mode.kwargs)


def builtin_modes(service: Any, names: list[str] | None = None) -> list[ModeSpec]:
    """The built-in modes (``names``, in that order, else all) that the service supports."""
    wanted = names or list(BUILTIN)
    unknown = [n for n in wanted if n not in BUILTIN]
    if unknown:
        raise SystemExit(f"unknown mode(s) {unknown}: built-in modes are {list(BUILTIN)}; add others with --mode")
    return [BUILTIN[n] for n in wanted if supports(service, BUILTIN[n])]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_mode(spec: str) -> ModeSpec:
    """``LABEL=METHOD[:ARG=VALUE,...]`` (or ``METHOD[:...]``, labelled by the whole spec)."""
    label, sep, rest = spec.partition("=")
    if not sep or ":" in label:
        label, rest = spec, spec
    method, _, arglist = rest.partition(":")
    kwargs: dict[str, Any] = {}
    for item in filter(None, arglist.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise SystemExit(f"--mode {spec!r}: {item!r} is not ARG=VALUE")
        kwargs[key.strip()] = _value(value.strip())
    if not method.strip().isidentifier():
        raise SystemExit(f"--mode {spec!r}: {method!r} is not a method name")
    return ModeSpec(label.strip(), method.strip(), kwargs)


def _path_of(item: Any) -> str | None:
    for attr in ("file_path", "path", "rel_path"):
        value = getattr(item, attr, None)
        if value is None and isinstance(item, dict):
            value = item.get(attr)
        if isinstance(value, str):
            return value
    return None


def _root_of(item: Any) -> str | None:
    value = item.get("root") if isinstance(item, dict) else getattr(item, "root", None)
    return value if isinstance(value, str) else None


def file_paths(result: Any, root: str) -> tuple[list[str], int]:
    """The file paths of a result in rank order (one per hit, repeats kept), and how many hits
    were left out because they came from another root. Reads ``result.files`` when present (a
    file-grouped result), else ``result.hits``."""
    items = getattr(result, "files", None)
    if items is None:
        items = getattr(result, "hits", None) or []
    paths: list[str] = []
    outside = 0
    for item in items:
        item_root = _root_of(item)
        path = _path_of(item)
        if path is None or (item_root is not None and item_root.rstrip("/") != root.rstrip("/")):
            outside += 1
            continue
        paths.append(path)
    return paths, outside

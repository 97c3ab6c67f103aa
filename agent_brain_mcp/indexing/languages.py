"""File name -> language, and which files are never worth reading."""

from __future__ import annotations

from pathlib import PurePath

_BY_SUFFIX: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".pyx": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".hxx": "cpp", ".cs": "csharp", ".rb": "ruby", ".php": "php", ".swift": "swift", ".m": "objc",
    ".lua": "lua", ".pl": "perl", ".pm": "perl", ".r": "r", ".jl": "julia", ".dart": "dart",
    ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".hs": "haskell", ".ml": "ocaml",
    ".clj": "clojure", ".zig": "zig", ".nim": "nim", ".vue": "vue", ".svelte": "svelte",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".fish": "shell", ".ps1": "powershell",
    ".sql": "sql", ".graphql": "graphql", ".proto": "protobuf", ".tf": "terraform",
    ".html": "html", ".htm": "html", ".css": "css", ".scss": "css", ".less": "css",
    ".md": "markdown", ".markdown": "markdown", ".mdx": "markdown", ".rst": "rst", ".txt": "text",
    ".adoc": "asciidoc", ".tex": "latex",
    ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "ini", ".cfg": "ini",
    ".xml": "xml", ".csv": "csv", ".env": "dotenv", ".ipynb": "jupyter",
}  # fmt: skip

_BY_NAME: dict[str, str] = {
    "Makefile": "make", "GNUmakefile": "make", "Dockerfile": "dockerfile", "CMakeLists.txt": "cmake",
    "Rakefile": "ruby", "Gemfile": "ruby", "Justfile": "make", "Vagrantfile": "ruby",
}  # fmt: skip

# Contents that are never text worth searching; checked before reading a byte.
BINARY_SUFFIXES = frozenset(
    ".png .jpg .jpeg .gif .bmp .ico .webp .tiff .psd .pdf .zip .gz .tgz .bz2 .xz .zst .7z .rar .tar "
    ".jar .war .whl .egg .so .dylib .dll .exe .o .a .lib .obj .class .pyc .pyo .pyd .wasm .bin .dat "
    ".db .sqlite .sqlite3 .parquet .feather .arrow .npy .npz .pkl .pickle .pt .pth .onnx .safetensors "
    ".h5 .ckpt .mp3 .mp4 .wav .flac .ogg .mov .avi .mkv .webm .ttf .otf .woff .woff2 .eot .iso .dmg".split()
)

MARKDOWN = "markdown"


def detect_language(path: str | PurePath) -> str:
    """The language of a file by its name; ``text`` when unknown."""
    p = PurePath(path)
    if p.name in _BY_NAME:
        return _BY_NAME[p.name]
    if p.name.startswith("Dockerfile"):
        return "dockerfile"
    return _BY_SUFFIX.get(p.suffix.lower(), "text")

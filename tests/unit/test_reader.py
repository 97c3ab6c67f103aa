"""Reading files as text: encodings, line endings, binary detection, size limits, content hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agent_brain_mcp.indexing.reader import (
    FileText,
    SkipFile,
    content_hash,
    decode,
    looks_binary,
    normalise_newlines,
    read_text,
)

MAX = 1_000_000


def _file(tmp_path: Path, data: bytes, name: str = "f.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_utf8_text_is_read_as_utf8(tmp_path: Path) -> None:
    data = "naïve → café ✓\n".encode()
    result = read_text(_file(tmp_path, data), MAX)
    assert result == FileText("naïve → café ✓\n", hashlib.sha256(data).hexdigest(), "utf-8")


def test_a_utf8_bom_is_stripped(tmp_path: Path) -> None:
    result = read_text(_file(tmp_path, b"\xef\xbb\xbfprint('hi')\n"), MAX)
    assert result.text == "print('hi')\n"
    assert result.encoding == "utf-8"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_bom_is_decoded_and_not_taken_for_binary(tmp_path: Path, codec: str) -> None:
    text = "def größe():\n    return 'ü'\n"
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[codec]
    data = bom + text.encode(codec)
    assert b"\x00" in data
    result = read_text(_file(tmp_path, data), MAX)
    assert result.text == text
    assert result.encoding == "utf-16"
    assert not result.text.startswith("\ufeff")


def test_latin1_bytes_that_are_not_utf8_fall_back_to_latin1(tmp_path: Path) -> None:
    result = read_text(_file(tmp_path, b"caf\xe9\n"), MAX)
    assert result.text == "café\n"
    assert result.encoding == "latin-1"


def test_crlf_line_endings_become_newlines(tmp_path: Path) -> None:
    assert read_text(_file(tmp_path, b"a\r\nb\r\n"), MAX).text == "a\nb\n"


def test_lone_carriage_returns_become_newlines(tmp_path: Path) -> None:
    assert read_text(_file(tmp_path, b"a\rb\r"), MAX).text == "a\nb\n"


def test_mixed_line_endings_in_one_file_are_all_normalised(tmp_path: Path) -> None:
    result = read_text(_file(tmp_path, b"one\r\ntwo\rthree\nfour\r\n\r\nsix"), MAX)
    assert result.text == "one\ntwo\nthree\nfour\n\nsix"
    assert result.text.split("\n") == ["one", "two", "three", "four", "", "six"]


def test_crlf_in_utf16_is_normalised_too(tmp_path: Path) -> None:
    data = "x = 1\r\ny = 2\r\n".encode("utf-16")
    assert read_text(_file(tmp_path, data), MAX).text == "x = 1\ny = 2\n"


def test_normalise_newlines_turns_cr_lf_pairs_into_one_newline_not_two() -> None:
    assert normalise_newlines("a\r\n\r\nb") == "a\n\nb"
    assert normalise_newlines("\r\r\n\n") == "\n\n\n"


def test_nul_bytes_mean_binary(tmp_path: Path) -> None:
    with pytest.raises(SkipFile, match="binary"):
        read_text(_file(tmp_path, b"ELF\x00\x01\x02 some text"), MAX)


def test_mostly_control_characters_mean_binary(tmp_path: Path) -> None:
    with pytest.raises(SkipFile, match="binary"):
        read_text(_file(tmp_path, bytes(range(1, 9)) * 20 + b"abc"), MAX)


def test_tabs_form_feeds_and_escape_sequences_are_still_text(tmp_path: Path) -> None:
    data = b"\tindent\x0cpage\n\x1b[31mred\x1b[0m\r\n"
    assert read_text(_file(tmp_path, data), MAX).text == "\tindent\x0cpage\n\x1b[31mred\x1b[0m\n"


def test_looks_binary_on_empty_and_plain_text() -> None:
    assert looks_binary(b"") is False
    assert looks_binary(b"plain text\n") is False
    assert looks_binary(b"a\x00b") is True


def test_an_empty_file_is_empty_text(tmp_path: Path) -> None:
    result = read_text(_file(tmp_path, b""), MAX)
    assert result.text == ""
    assert result.sha256 == hashlib.sha256(b"").hexdigest()


def test_a_file_over_max_bytes_is_skipped_as_too_large(tmp_path: Path) -> None:
    path = _file(tmp_path, b"x" * 11)
    with pytest.raises(SkipFile, match=r"too large.*max_file_bytes=10"):
        read_text(path, 10)


def test_a_file_exactly_at_max_bytes_is_read(tmp_path: Path) -> None:
    assert read_text(_file(tmp_path, b"x" * 10), 10).text == "x" * 10


def test_a_missing_file_is_skipped_not_raised(tmp_path: Path) -> None:
    with pytest.raises(SkipFile, match="disappeared"):
        read_text(tmp_path / "gone.txt", MAX)


def test_a_folder_is_skipped_not_raised(tmp_path: Path) -> None:
    with pytest.raises(SkipFile, match="folder"):
        read_text(tmp_path, MAX)


def test_the_content_hash_is_of_the_raw_bytes_not_the_decoded_text(tmp_path: Path) -> None:
    crlf = b"\xef\xbb\xbfline\r\n"
    lf = b"line\n"
    a = read_text(_file(tmp_path, crlf, "a.txt"), MAX)
    b = read_text(_file(tmp_path, lf, "b.txt"), MAX)
    assert a.text == b.text == "line\n"
    assert a.sha256 == hashlib.sha256(crlf).hexdigest()
    assert b.sha256 == hashlib.sha256(lf).hexdigest()
    assert a.sha256 != b.sha256


def test_content_hash_is_hex_sha256() -> None:
    assert content_hash(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"plain", ("plain", "utf-8")),
        (b"\xef\xbb\xbfbom", ("bom", "utf-8")),
        ("ü".encode("utf-16"), ("ü", "utf-16")),
        (b"\xff", ("ÿ", "latin-1")),
    ],
)
def test_decode_reports_the_encoding_it_used(data: bytes, expected: tuple[str, str]) -> None:
    assert decode(data) == expected


def test_a_file_without_read_permission_is_skipped_with_the_reason() -> None:
    from support import run_without_root_powers, world_readable_tmpdir

    folder = world_readable_tmpdir("reader-perm-")
    locked = folder / "locked.py"
    locked.write_text("secret = 1\n", encoding="utf-8")
    locked.chmod(0)

    def read_it(path: Path) -> str:
        try:
            read_text(path, 1000)
        except SkipFile as exc:
            return str(exc)
        return "read"

    assert run_without_root_powers(read_it, locked) == "permission denied"

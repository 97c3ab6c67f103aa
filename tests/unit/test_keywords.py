"""Keyword tokens: identifiers are kept whole and split into stemmed parts; stop words are dropped."""

from __future__ import annotations

import pytest

from agent_brain_mcp.indexing.keywords import STOP_WORDS, stem, tokenize


def stems(*words: str) -> list[str]:
    return [stem(w) for w in words]


def test_snake_case_yields_the_whole_identifier_and_its_parts() -> None:
    assert tokenize("parse_http_request") == ["parse_http_request", *stems("parse", "http", "request")]


def test_camel_case_yields_the_lowercased_identifier_and_its_parts() -> None:
    assert tokenize("parseHttpRequest") == ["parsehttprequest", *stems("parse", "http", "request")]


def test_pascal_case_is_split_at_each_capital() -> None:
    assert tokenize("ConfigLoader") == ["configloader", *stems("config", "loader")]


@pytest.mark.parametrize(
    ("identifier", "parts"),
    [
        ("HTTPServer", ["http", "server"]),
        ("parseHTTPResponse", ["parse", "http", "response"]),
        ("XMLHttpRequest", ["xml", "http", "request"]),
        ("getURL", ["get", "url"]),
    ],
)
def test_acronyms_stay_together_and_are_split_from_the_next_word(identifier: str, parts: list[str]) -> None:
    assert tokenize(identifier) == [identifier.lower(), *stems(*parts)]


def test_all_caps_constants_split_on_underscores() -> None:
    assert tokenize("MAX_FILE_BYTES") == ["max_file_bytes", *stems("max", "file", "bytes")]


def test_digits_stay_attached_and_start_no_new_part() -> None:
    assert tokenize("utf8Decode") == ["utf8decode", *stems("utf8", "decode")]
    assert tokenize("sha256") == ["sha256"]


def test_dotted_names_are_kept_whole_and_also_split() -> None:
    tokens = tokenize("os.path.join")
    assert tokens == ["os.path.join", "os", "path", "join"]


def test_dotted_names_with_camel_case_parts_are_split_all_the_way() -> None:
    tokens = tokenize("self.parseHttpRequest(req)")
    assert tokens[0] == "self.parsehttprequest"
    assert {"self", "parsehttprequest", *stems("parse", "http", "request"), "req"} <= set(tokens)


def test_a_trailing_dot_is_not_part_of_a_name() -> None:
    assert tokenize("Load the config.") == ["load", "config"]


def test_stop_words_are_dropped_in_any_case() -> None:
    assert tokenize("How do I parse the config file, and where is it?") == stems("parse", "config", "file")
    assert tokenize("THE And Of") == []


def test_the_stop_word_list_holds_common_english_words_but_no_code_words() -> None:
    assert {"the", "and", "is", "of", "to"} <= STOP_WORDS
    assert not {"def", "class", "return", "import", "self", "none", "true"} & STOP_WORDS


def test_single_letters_are_dropped_but_single_digits_are_kept() -> None:
    assert tokenize("x = y + 7") == ["7"]


def test_tokens_are_lower_case() -> None:
    assert all(t == t.lower() for t in tokenize("Alpha BETA gammaDelta Epsilon_Zeta"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("café", ["café"]),
        ("naïve façade", ["naïve", "façade"]),
        ("Größe", ["größe"]),
        ("数据 処理", ["数据", "処理"]),
        ("функция_загрузки", ["функция_загрузки", "функция", "загрузки"]),
    ],
)
def test_unicode_words_are_kept(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_punctuation_and_operators_produce_no_tokens() -> None:
    assert tokenize("!= == -> {} [] () ;; ,, // /* */") == []


def test_empty_and_whitespace_text_give_no_tokens() -> None:
    assert tokenize("") == []
    assert tokenize(" \n\t ") == []


def test_dunder_names_keep_the_whole_name_and_the_bare_word() -> None:
    assert tokenize("__init__") == ["__init__", "init"]


def test_a_query_in_words_shares_tokens_with_both_identifier_spellings() -> None:
    query = set(tokenize("parse http request"))
    assert query == set(stems("parse", "http", "request"))
    assert query <= set(tokenize("def parseHttpRequest(self, raw):"))
    assert query <= set(tokenize("def parse_http_request(raw):"))


def test_either_identifier_spelling_as_a_query_finds_the_other() -> None:
    camel = set(tokenize("parseHttpRequest"))
    snake = set(tokenize("parse_http_request"))
    assert set(stems("parse", "http", "request")) <= camel & snake


def test_tokenizing_is_deterministic_and_keeps_document_order() -> None:
    text = "class HTTPServer:\n    def handle_request(self): return self.router.dispatch()"
    first = tokenize(text)
    assert first == tokenize(text)
    assert first.index("httpserver") < first.index("handle_request") < first.index("self.router.dispatch")


def test_prose_words_are_stemmed_so_inflections_match() -> None:
    assert tokenize("indexing") == tokenize("indexes") == tokenize("index") == ["index"]
    assert tokenize("running configurations") == tokenize("run configuration")


def test_whole_identifiers_are_not_stemmed() -> None:
    assert tokenize("parse_requests")[0] == "parse_requests"
    assert "requests" not in tokenize("parse_requests")[1:]

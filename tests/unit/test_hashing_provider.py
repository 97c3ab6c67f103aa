"""The feature-hashing test embedder: deterministic, normalised, and similar for similar texts."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from agent_brain_mcp.embeddings.hashing import HashingProvider, hashed_words


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_identity_names_the_hash_provider_model_and_dimension() -> None:
    identity = HashingProvider(dimension=64).identity
    assert (identity.provider, identity.model, identity.dimension) == ("hash", "feature-hash-v1", 64)


def test_vectors_have_the_configured_dimension_and_unit_length() -> None:
    provider = HashingProvider(dimension=32)
    vectors = provider.embed_documents(["def load_config(path):", "", "   ", "x" * 1000])
    assert all(len(v) == 32 for v in vectors)
    assert all(math.sqrt(sum(x * x for x in v)) == pytest.approx(1.0) for v in vectors)


def test_the_same_text_always_gets_the_same_vector_even_in_another_process() -> None:
    text = "parse the YAML config file"
    here = HashingProvider(dimension=16).embed_documents([text])[0]
    code = (
        "import json; from agent_brain_mcp.embeddings.hashing import HashingProvider;"
        f"print(json.dumps(HashingProvider(dimension=16).embed_documents([{text!r}])[0]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": ":".join(sys.path)},
    )
    import json

    assert json.loads(result.stdout) == pytest.approx(here)


def test_snake_case_and_camel_case_identifiers_are_split_into_words() -> None:
    assert hashed_words("get_user_name") == ["get", "user", "name", "getusername"]
    assert hashed_words("getUserName") == ["get", "user", "name", "getusername"]
    assert hashed_words("HTTPServerError") == ["http", "server", "error", "httpservererror"]
    assert hashed_words("Hello, World!") == ["hello", "world"]


def test_texts_sharing_words_are_more_similar_than_unrelated_texts() -> None:
    provider = HashingProvider(dimension=256)
    query, related, unrelated = provider.embed_documents(
        ["load the user config", "def load_user_config(path): read the config", "rotate the pdf page images"]
    )
    assert _cos(query, related) > _cos(query, unrelated)
    assert _cos(query, related) > 0.3


def test_snake_and_camel_spellings_of_one_identifier_get_the_same_vector() -> None:
    provider = HashingProvider(dimension=128)
    snake, camel = provider.embed_documents(["load_user_config", "loadUserConfig"])
    assert _cos(snake, camel) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [{"dimension": 0}, {"batch_size": 0}])
def test_nonsense_sizes_are_rejected(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        HashingProvider(**bad)

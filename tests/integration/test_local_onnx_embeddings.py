"""The local provider with the real shipped int8 all-MiniLM-L6-v2 model (no network, no torch).

int8 vectors shift slightly with batch composition (activations are quantised per batch), so
these tests compare vectors by cosine similarity and never expect exact equality.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from agent_brain_mcp.embeddings import local_onnx
from agent_brain_mcp.embeddings.base import EmbeddingIdentity
from agent_brain_mcp.embeddings.local_onnx import DEFAULT_MODEL_DIR, LocalOnnxProvider
from agent_brain_mcp.errors import EmbeddingError

QUERY = "how to open a database connection"
MATCHING_CODE = (
    "def connect_to_postgres(dsn: str):\n"
    "    import psycopg\n"
    "    conn = psycopg.connect(dsn)\n"
    "    conn.autocommit = True\n"
    "    return conn\n"
)
POEM = (
    "Shall I compare thee to a summer's day?\n"
    "Thou art more lovely and more temperate:\n"
    "Rough winds do shake the darling buds of May,\n"
)
RECIPE = "Whisk the eggs with sugar until pale, fold in the flour and bake for twenty minutes."

VARIED_TEXTS = [
    QUERY,
    MATCHING_CODE,
    POEM,
    RECIPE,
    "",
    "x",
    "SELECT id, name FROM users WHERE active ORDER BY name;",
    "function add(a, b) { return a + b; }",
    "Übergrößenträger — naïve café résumé 東京",
    "The indexer splits each file into chunks along syntax boundaries. " * 20,
    "class Stack:\n    def __init__(self):\n        self.items = []\n    def push(self, x):\n"
    "        self.items.append(x)\n",
]


def cosine(a: list[float], b: list[float]) -> float:
    va, vb = np.asarray(a), np.asarray(b)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


@pytest.fixture(scope="module")
def provider() -> LocalOnnxProvider:
    p = LocalOnnxProvider()
    p.load()
    return p


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_the_identity_names_the_local_minilm_model_with_384_dimensions() -> None:
    assert LocalOnnxProvider().identity == EmbeddingIdentity("local", "all-MiniLM-L6-v2", 384)


def test_every_vector_has_384_dimensions_and_unit_length(provider: LocalOnnxProvider) -> None:
    vectors = provider.embed_documents(VARIED_TEXTS)

    assert len(vectors) == len(VARIED_TEXTS)
    for vector in vectors:
        assert len(vector) == 384
        assert all(isinstance(x, float) and math.isfinite(x) for x in vector)
        assert math.isclose(float(np.linalg.norm(vector)), 1.0, abs_tol=1e-4)


def test_a_query_is_closer_to_the_code_that_answers_it_than_to_unrelated_texts(
    provider: LocalOnnxProvider,
) -> None:
    query = provider._embed([QUERY], is_query=True)[0]
    code, poem, recipe = provider.embed_documents([MATCHING_CODE, POEM, RECIPE])

    assert cosine(query, code) > cosine(query, poem) + 0.2
    assert cosine(query, code) > cosine(query, recipe) + 0.2


def test_vectors_reproduce_the_pytorch_sentence_transformers_vectors(
    provider: LocalOnnxProvider,
) -> None:
    # reference_vectors.json was written by scripts/export_onnx_model.py from the fp32 PyTorch
    # model. int8 keeps real texts at >= 0.99; a pooling, normalisation or tokenizer-setting
    # mistake drops them below 0.98 (truncating the ~200-token text at 128 tokens gives 0.96).
    items = json.loads((DEFAULT_MODEL_DIR / "reference_vectors.json").read_text(encoding="utf-8"))["items"]
    texts = [item["text"] for item in items]

    batched = provider.embed_documents(texts)
    alone = [provider._embed([t], is_query=False)[0] for t in texts]

    for item, b, a in zip(items, batched, alone, strict=True):
        floor = 0.95 if len(item["text"]) <= 1 else 0.98  # see the batching test below
        assert cosine(b, item["vector"]) >= floor, item["text"][:40]
        assert cosine(a, item["vector"]) >= floor, item["text"][:40]


def test_batching_gives_the_same_vectors_as_embedding_one_by_one(provider: LocalOnnxProvider) -> None:
    small_batches = LocalOnnxProvider(batch_size=4)  # several batches of mixed lengths

    batched = small_batches.embed_documents(VARIED_TEXTS)
    one_big_batch = provider.embed_documents(VARIED_TEXTS)
    alone = [provider._embed([t], is_query=False)[0] for t in VARIED_TEXTS]

    for text, s, b, a in zip(VARIED_TEXTS, batched, one_big_batch, alone, strict=True):
        # An empty or one-character text is two or three tokens: embedded alone, its int8
        # activation scale is fitted to those tokens only, and any batch-mate widens it
        # (measured 0.96-0.97). Texts of a few words and more stay >= 0.98.
        floor = 0.95 if len(text) <= 1 else 0.98
        assert cosine(s, a) >= floor, text[:40]
        assert cosine(b, a) >= floor, text[:40]


def test_results_come_back_in_the_order_of_the_inputs(provider: LocalOnnxProvider) -> None:
    # Distinct texts of very different lengths, in no particular order.
    texts = [VARIED_TEXTS[i] for i in (9, 0, 5, 2, 10, 3, 1, 6)]
    alone = [provider._embed([t], is_query=False)[0] for t in texts]

    batched = provider.embed_documents(texts)

    for i, vector in enumerate(batched):
        similarities = [cosine(vector, a) for a in alone]
        assert int(np.argmax(similarities)) == i


def test_texts_are_batched_by_token_count_so_the_model_pays_for_little_padding(
    provider: LocalOnnxProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Character length misleads: a rare long word is many tokens, a run of short common words few.
    texts = [
        "the " * 60,  # 240 characters, ~62 tokens
        "Pneumonoultramicroscopicsilicovolcanoconiosis " * 4,  # ~190 characters, many more tokens
        "a b",
        "zygomorphic xylophonist quixotry " * 5,
        "and " * 40,
        "x = 1",
    ]
    seen: list[list[int]] = []
    original = provider._run

    def recording(rows: Sequence[Sequence[int]]) -> list[list[float]]:
        seen.append([len(r) for r in rows])
        return original(rows)

    monkeypatch.setattr(provider, "_run", recording)
    small = provider.batch_size
    provider.batch_size = 2
    try:
        vectors = provider.embed_documents(texts)
    finally:
        provider.batch_size = small
    lengths = sorted(len(ids) for ids in provider._token_ids(texts))
    assert seen == [lengths[i : i + 2] for i in range(0, len(lengths), 2)]  # batch-mates have neighbouring counts
    alone = [original(provider._token_ids([t]))[0] for t in texts]
    assert all(cosine(v, a) >= 0.98 for v, a in zip(vectors, alone, strict=True))  # and in the input order


def test_a_10k_character_input_is_truncated_instead_of_failing(provider: LocalOnnxProvider) -> None:
    long_text = ("def handler(request):\n    return respond(request.user, status=200)\n" * 200)[:10_000]
    with_other_tail = long_text + "\nA completely different ending about gardening and tomatoes."

    first, second = provider.embed_documents([long_text, with_other_tail])

    assert len(first) == 384
    # Everything after the first 256 tokens is dropped, so the tails cannot matter.
    assert cosine(first, second) >= 0.999


def test_empty_and_blank_strings_get_unit_vectors(provider: LocalOnnxProvider) -> None:
    vectors = provider.embed_documents(["", "   ", "\n\t"])
    query = provider._embed([""], is_query=True)[0]

    for vector in [*vectors, query]:
        assert len(vector) == 384
        assert math.isclose(float(np.linalg.norm(vector)), 1.0, abs_tol=1e-4)


def test_an_empty_list_of_texts_gives_no_vectors(provider: LocalOnnxProvider) -> None:
    assert provider.embed_documents([]) == []


def test_the_first_embedding_loads_the_model_when_load_was_not_called() -> None:
    fresh = LocalOnnxProvider()
    assert not fresh.loaded

    vectors = fresh.embed_documents(["hello"])

    assert fresh.loaded
    assert len(vectors[0]) == 384


def test_concurrent_first_calls_create_a_single_inference_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import onnxruntime

    created: list[object] = []
    real_session = onnxruntime.InferenceSession

    def counting_session(*args: object, **kwargs: object) -> object:
        created.append(object())
        return real_session(*args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", counting_session)
    fresh = LocalOnnxProvider(threads=1)
    results: list[list[list[float]]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(fresh.embed_documents(["concurrent start"]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert len(created) == 1
    assert len(results) == 4


def test_inputs_the_model_does_not_declare_are_not_fed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A graph without token_type_ids (as some exports have) must not receive one."""
    import onnxruntime

    real_session = onnxruntime.InferenceSession
    fed: list[set[str]] = []

    class WithoutTokenTypeIds:
        def __init__(self, *args: object, **kwargs: object) -> None:
            self._real = real_session(*args, **kwargs)

        def get_inputs(self) -> list[object]:
            return [i for i in self._real.get_inputs() if i.name != "token_type_ids"]

        def get_outputs(self) -> list[object]:
            return self._real.get_outputs()

        def run(self, output_names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            fed.append(set(feeds))
            full = {**feeds, "token_type_ids": np.zeros_like(feeds["input_ids"])}
            return self._real.run(output_names, full)

    monkeypatch.setattr(onnxruntime, "InferenceSession", WithoutTokenTypeIds)

    vectors = LocalOnnxProvider().embed_documents(["one", "two words"])

    assert len(vectors) == 2
    assert fed and all(keys == {"input_ids", "attention_mask"} for keys in fed)


def test_a_missing_model_directory_raises_an_embedding_error_naming_the_missing_file(
    tmp_path: Path,
) -> None:
    broken = LocalOnnxProvider(model_dir=tmp_path / "no-such-model")

    with pytest.raises(EmbeddingError, match=r"model\.onnx"):
        broken.load()
    with pytest.raises(EmbeddingError, match=r"model\.onnx"):
        broken.embed_documents(["text"])


def test_missing_bundled_model_files_say_the_install_is_incomplete_and_how_to_reinstall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tokenizer.json").write_text("{}", encoding="utf-8")  # model.onnx is gone
    monkeypatch.setattr(local_onnx, "DEFAULT_MODEL_DIR", tmp_path)

    with pytest.raises(EmbeddingError) as raised:
        LocalOnnxProvider().load()

    message = str(raised.value)
    assert "model.onnx" in message
    assert "install is incomplete" in message
    assert "pip install --force-reinstall" in message


def test_a_corrupt_model_file_raises_an_embedding_error(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"not an onnx model")
    (tmp_path / "tokenizer.json").write_bytes((DEFAULT_MODEL_DIR / "tokenizer.json").read_bytes())

    with pytest.raises(EmbeddingError, match="could not be loaded"):
        LocalOnnxProvider(model_dir=tmp_path).load()


def test_the_shipped_tokenizer_config_limits_inputs_to_256_tokens() -> None:
    config = json.loads((DEFAULT_MODEL_DIR / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["model_max_length"] == 256


def test_the_model_ships_with_its_apache_license_and_attribution() -> None:
    licence = (DEFAULT_MODEL_DIR / "LICENSE").read_text(encoding="utf-8")
    notice = (DEFAULT_MODEL_DIR / "NOTICE").read_text(encoding="utf-8")

    assert "Apache License" in licence and "Version 2.0" in licence
    assert "sentence-transformers/all-MiniLM-L6-v2" in notice


@pytest.mark.anyio
async def test_async_query_embedding_matches_the_blocking_one(provider: LocalOnnxProvider) -> None:
    vector = await provider.aembed_query(QUERY)

    assert len(vector) == 384
    assert cosine(vector, provider._embed([QUERY], is_query=True)[0]) >= 0.999


@pytest.mark.anyio
async def test_async_document_embedding_returns_one_vector_per_text_in_order(
    provider: LocalOnnxProvider,
) -> None:
    vectors = await provider.aembed_documents([QUERY, MATCHING_CODE, POEM])

    assert len(vectors) == 3
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    alone = provider._embed([POEM], is_query=False)[0]
    assert cosine(vectors[2], alone) >= 0.98

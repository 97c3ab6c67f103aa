"""The OpenAI and Ollama providers against a real local HTTP stand-in server (no internet needed)."""

from __future__ import annotations

import json
import logging
import math
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agent_brain_mcp.embeddings.hashing import HashingProvider
from agent_brain_mcp.embeddings.ollama import OllamaProvider
from agent_brain_mcp.embeddings.openai import OpenAIProvider
from agent_brain_mcp.errors import EmbeddingError

SECRET = "sk-test-SECRET-0123456789abcdef"
WRONG_KEY = "sk-wrong-KEY-9876543210fedcba"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    query: str = ""
    at: float = field(default_factory=time.monotonic)


@dataclass
class StandIn:
    """What the stand-in server does and what it saw."""

    dimension: int = 16
    requests: list[Recorded] = field(default_factory=list)
    # Replies to send before behaving normally, as (status, body) pairs.
    scripted: list[tuple[int, str]] = field(default_factory=list)
    required_key: str | None = None
    shuffle: bool = False
    drop_last_vector: bool = False
    scale: float = 3.0  # vectors are sent un-normalised so the client must normalise them
    ollama_models: frozenset[str] = frozenset({"nomic-embed-text"})
    # Sent with every 429/5xx, as OpenAI does; a millisecond keeps the retry tests fast. None: no header.
    retry_after_ms: str | None = "1"
    # Requests wait for this event (up to 5 s) before they are answered: a server too slow for the client.
    hang: threading.Event | None = None
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def vectors(self, texts: list[str]) -> list[list[float]]:
        dimension = self.dimension
        return [[x * self.scale for x in HashingProvider(dimension).embed_one(t)] for t in texts]

    def handle(self, target: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, str]:
        path, _, query = target.partition("?")
        with self.lock:
            self.requests.append(Recorded(path, headers, body, query))
            hang = self.hang
        if hang is not None:
            hang.wait(timeout=5)
        with self.lock:
            if self.scripted:
                return self.scripted.pop(0)
        if path == "/v1/embeddings":
            return self._openai(headers, body)
        if path == "/api/embed":
            return self._ollama(body)
        return 404, "404 page not found"

    def _openai(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, str]:
        if self.required_key is not None:
            sent = headers.get("authorization", "")
            if sent != f"Bearer {self.required_key}":
                # Like a careless server, echo the key back in the error body.
                message = f"Incorrect API key provided: {sent.removeprefix('Bearer ')}"
                return 401, json.dumps({"error": {"message": message, "type": "invalid_request_error"}})
        texts = body["input"]
        if any(t == "" for t in texts):
            return 400, json.dumps({"error": {"message": "'$.input' is invalid: empty string"}})
        dimension = body.get("dimensions", self.dimension)
        vectors = StandIn(dimension=dimension, scale=self.scale).vectors(texts)
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        if self.drop_last_vector:
            data = data[:-1]
        if self.shuffle:
            random.Random(len(texts)).shuffle(data)
            if len(data) > 1 and data[0]["index"] == 0:
                data.reverse()
        return 200, json.dumps({"object": "list", "data": data, "model": body["model"]})

    def _ollama(self, body: dict[str, Any]) -> tuple[int, str]:
        model = body["model"]
        if model not in self.ollama_models:
            return 404, json.dumps({"error": f'model "{model}" not found, try pulling it first'})
        vectors = self.vectors(body["input"])
        if self.drop_last_vector:
            vectors = vectors[:-1]
        return 200, json.dumps({"model": model, "embeddings": vectors})


def _handler_for(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, text = state.handle(self.path, headers, json.loads(raw or b"{}"))
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if (status == 429 or status >= 500) and state.retry_after_ms is not None:
                self.send_header("Retry-After-Ms", state.retry_after_ms)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[StandIn]:
    state = StandIn()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        if state.hang is not None:
            state.hang.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _openai(server: StandIn, **kwargs: Any) -> OpenAIProvider:
    kwargs.setdefault("model", "stand-in-model")
    kwargs.setdefault("dimensions", None)
    kwargs.setdefault("timeout", 5.0)
    return OpenAIProvider(base_url=f"{server.url}/v1", **kwargs)


def _ollama(server: StandIn, **kwargs: Any) -> OllamaProvider:
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("retry_delay", 0.0)
    return OllamaProvider(base_url=server.url, **kwargs)


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def _expected(texts: list[str], dimension: int) -> list[list[float]]:
    return StandIn(dimension=dimension, scale=1.0).vectors(texts)


def _assert_close(got: list[list[float]], want: list[list[float]]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w, abs=1e-9)


# --- OpenAI-compatible ---------------------------------------------------------------------------


def test_openai_documents_are_split_into_batches_and_keep_their_order_when_data_comes_back_shuffled(
    server: StandIn,
) -> None:
    server.shuffle = True
    texts = [f"text number {i} about topic_{i % 3}" for i in range(7)]
    with closing(_openai(server, dimensions=16, batch_size=3)) as provider:
        vectors = provider.embed_documents(texts)
    assert [len(r.body["input"]) for r in server.requests] == [3, 3, 1]
    assert [t for r in server.requests for t in r.body["input"]] == texts
    _assert_close(vectors, _expected(texts, 16))


def test_openai_vectors_are_l2_normalised(server: StandIn) -> None:
    server.scale = 7.5
    with closing(_openai(server, dimensions=16)) as provider:
        vectors = provider.embed_documents(["alpha beta", "gamma"])
    assert all(_norm(v) == pytest.approx(1.0) for v in vectors)


def test_openai_sends_dimensions_only_when_configured(server: StandIn) -> None:
    plain = _openai(server, model="text-embedding-3-small")
    sized = _openai(server, model="text-embedding-3-small", dimensions=16)
    try:
        server.dimension = 1536
        plain.embed_documents(["one"])
        sized.embed_documents(["two"])
    finally:
        plain.close()
        sized.close()
    assert "dimensions" not in server.requests[0].body
    assert server.requests[1].body["dimensions"] == 16
    assert server.requests[1].body["model"] == "text-embedding-3-small"
    assert plain.identity.dimension == 1536
    assert sized.identity.dimension == 16


def test_openai_replaces_empty_strings_with_a_space_because_the_api_rejects_them(server: StandIn) -> None:
    with closing(_openai(server, dimensions=16)) as provider:
        vectors = provider.embed_documents(["", "text"])
    assert server.requests[0].body["input"] == [" ", "text"]
    assert len(vectors) == 2


def test_openai_sends_the_key_as_a_bearer_token_and_no_header_without_a_key(server: StandIn) -> None:
    server.required_key = SECRET
    keyed = _openai(server, api_key=SECRET, dimensions=16)
    try:
        keyed.embed_documents(["hello"])
    finally:
        keyed.close()
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"

    server.required_key = None
    keyless = _openai(server, dimensions=16)
    try:
        keyless.embed_documents(["hello"])
    finally:
        keyless.close()
    assert "authorization" not in server.requests[1].headers


def test_openai_rejected_key_gives_an_actionable_error_that_never_contains_the_key(
    server: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    server.required_key = SECRET
    with closing(_openai(server, api_key=WRONG_KEY, dimensions=16, api_key_env="MY_KEY_VAR")) as provider:
        caplog.set_level(logging.DEBUG)
        with pytest.raises(EmbeddingError) as caught:
            provider.embed_documents(["hello"])
    message = str(caught.value)
    assert "embedding.api_key_env" in message
    assert "MY_KEY_VAR" in message
    assert "401" in message
    assert WRONG_KEY not in message
    assert WRONG_KEY not in repr(provider)
    assert WRONG_KEY not in caplog.text
    assert len(server.requests) == 1, "a refused key is not retried"


def test_openai_error_bodies_that_echo_the_key_are_scrubbed(server: StandIn) -> None:
    server.scripted = [(400, json.dumps({"error": {"message": f"bad request from {SECRET}"}}))]
    with closing(_openai(server, api_key=SECRET, dimensions=16)) as provider, pytest.raises(EmbeddingError) as caught:
        provider.embed_documents(["hello"])
    message = str(caught.value)
    assert "HTTP 400" in message
    assert "bad request from ***" in message
    assert SECRET not in message


def test_openai_retries_a_server_error_and_then_succeeds(server: StandIn) -> None:
    server.scripted = [(500, "internal error"), (503, "busy")]
    with closing(_openai(server, dimensions=16, retries=2)) as provider:
        vectors = provider.embed_documents(["retry me"])
    assert len(server.requests) == 3
    _assert_close(vectors, _expected(["retry me"], 16))


def test_openai_gives_up_after_the_retry_budget_and_reports_status_and_body(server: StandIn) -> None:
    server.scripted = [(500, "boom 1"), (500, "boom 2"), (500, "boom 3"), (500, "never reached")]
    with (
        closing(_openai(server, dimensions=16, retries=2)) as provider,
        pytest.raises(EmbeddingError, match=r"HTTP 500.*boom 3"),
    ):
        provider.embed_documents(["x"])
    assert len(server.requests) == 3


def test_openai_client_errors_other_than_auth_are_not_retried(server: StandIn) -> None:
    server.scripted = [(400, json.dumps({"error": {"message": "input too long"}}))]
    with (
        closing(_openai(server, dimensions=16)) as provider,
        pytest.raises(EmbeddingError, match=r"HTTP 400: input too long"),
    ):
        provider.embed_documents(["x"])
    assert len(server.requests) == 1


def test_openai_connection_refused_names_the_url_and_the_config_key() -> None:
    url = f"http://127.0.0.1:{_unused_port()}/v1"
    with (
        closing(OpenAIProvider(base_url=url, dimensions=8, timeout=2.0, retries=0)) as provider,
        pytest.raises(EmbeddingError) as caught,
    ):
        provider.embed_documents(["x"])
    message = str(caught.value)
    assert f"cannot reach the embedding server at {url}" in message
    assert "embedding.base_url" in message


def test_openai_probes_an_unknown_model_for_its_dimension_on_load(server: StandIn) -> None:
    server.dimension = 24
    with closing(_openai(server, model="some-local-model")) as provider:
        provider.load()
        identity = provider.identity
    assert identity.provider == "openai"
    assert identity.model == "some-local-model"
    assert identity.dimension == 24
    assert len(server.requests) == 1


def test_openai_known_models_need_no_probe(server: StandIn) -> None:
    with closing(_openai(server, model="text-embedding-3-large")) as provider:
        provider.load()
        assert provider.identity.dimension == 3072
    assert server.requests == []


def test_openai_reply_with_the_wrong_number_of_vectors_is_an_error(server: StandIn) -> None:
    server.drop_last_vector = True
    with (
        closing(_openai(server, dimensions=16)) as provider,
        pytest.raises(EmbeddingError, match="returned 1 vectors for 2 texts"),
    ):
        provider.embed_documents(["a", "b"])


def test_openai_reply_with_the_wrong_dimension_is_an_error(server: StandIn) -> None:
    server.dimension = 12
    with (
        closing(_openai(server, model="text-embedding-3-small")) as provider,
        pytest.raises(EmbeddingError, match=r"12-dimensional vectors, expected 1536"),
    ):  # expects 1536
        provider.embed_documents(["a"])


def test_openai_wrong_base_url_gives_a_404_hint(server: StandIn) -> None:
    with (
        closing(OpenAIProvider(base_url=server.url, dimensions=16, timeout=5.0)) as provider,
        pytest.raises(EmbeddingError, match=r"404.*embedding.base_url"),
    ):  # no /v1
        provider.embed_documents(["a"])


def test_openai_rate_limit_is_retried_after_the_servers_retry_after(server: StandIn) -> None:
    server.retry_after_ms = "300"
    server.scripted = [(429, json.dumps({"error": {"message": "slow down"}}))]
    with closing(_openai(server, dimensions=16)) as provider:
        vectors = provider.embed_documents(["patience"])
    assert len(server.requests) == 2
    assert server.requests[1].at - server.requests[0].at >= 0.3
    _assert_close(vectors, _expected(["patience"], 16))


def test_openai_without_retry_after_backs_off_before_retrying(server: StandIn) -> None:
    server.retry_after_ms = None
    server.scripted = [(503, "busy")]
    with closing(_openai(server, dimensions=16, retries=1)) as provider:
        provider.embed_documents(["wait for me"])
    assert len(server.requests) == 2
    assert server.requests[1].at - server.requests[0].at >= 0.2, "the client's own backoff (0.5 s, jittered)"


def test_openai_a_rate_limit_that_outlasts_the_retries_says_to_lower_the_batch_size(server: StandIn) -> None:
    server.scripted = [(429, json.dumps({"error": {"message": "quota"}}))] * 2
    with (
        closing(_openai(server, dimensions=16, retries=1)) as provider,
        pytest.raises(EmbeddingError, match=r"HTTP 429 \(rate limited: lower embedding.batch_size.*quota"),
    ):
        provider.embed_documents(["x"])
    assert len(server.requests) == 2


def test_openai_a_server_slower_than_the_timeout_is_an_error_naming_the_setting(server: StandIn) -> None:
    server.hang = threading.Event()
    with closing(_openai(server, dimensions=16, timeout=0.3, retries=1)) as provider:
        started = time.monotonic()
        with pytest.raises(EmbeddingError) as caught:
            provider.embed_documents(["x"])
    message = str(caught.value)
    assert "did not answer within 0.3s (2 attempts)" in message
    assert "embedding.timeout_seconds" in message
    assert len(server.requests) == 2
    assert time.monotonic() - started < 4


def test_openai_keyless_server_gets_no_key_even_when_openai_api_key_is_set(
    server: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with closing(_openai(server, dimensions=16)) as provider:
        provider.embed_documents(["local only"])
    assert len(server.requests) == 1, "the configured base_url, not OPENAI_BASE_URL"
    assert "authorization" not in server.requests[0].headers


def test_openai_a_query_string_in_the_base_url_is_sent_with_every_request(server: StandIn) -> None:
    with closing(
        OpenAIProvider(base_url=f"{server.url}/v1?api-version=2024-06-01", dimensions=16, timeout=5.0)
    ) as provider:
        provider.embed_documents(["a"])
    assert server.requests[0].path == "/v1/embeddings"
    assert server.requests[0].query == "api-version=2024-06-01"


def test_openai_retries_never_log_the_key(server: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    server.required_key = SECRET
    server.scripted = [(500, f"upstream said {SECRET}")]
    caplog.set_level(logging.DEBUG)
    with closing(_openai(server, api_key=SECRET, dimensions=16)) as provider:
        provider.embed_documents(["hello"])
    assert len(server.requests) == 2
    assert "Retrying" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.anyio
async def test_openai_async_query_embedding_runs_off_the_event_loop(server: StandIn) -> None:
    with closing(_openai(server, dimensions=16)) as provider:
        vector = await provider.aembed_query("where is the config loaded")
        documents = await provider.aembed_documents(["one", "two"])
    _assert_close([vector], _expected(["where is the config loaded"], 16))
    assert len(documents) == 2


# --- Ollama ----------------------------------------------------------------------------------------


def test_ollama_embeds_in_batches_and_probes_the_dimension_on_load(server: StandIn) -> None:
    server.dimension = 20
    with closing(_ollama(server, batch_size=2)) as provider:
        provider.load()
        assert provider.identity.dimension == 20
        vectors = provider.embed_documents(["a", "b", "c"])
    assert [r.path for r in server.requests] == ["/api/embed"] * 3
    assert [r.body["input"] for r in server.requests[1:]] == [["a", "b"], ["c"]]
    assert server.requests[0].body["model"] == "nomic-embed-text"
    _assert_close(vectors, _expected(["a", "b", "c"], 20))
    assert provider.identity.provider == "ollama"


def test_ollama_configured_dimension_skips_the_probe(server: StandIn) -> None:
    with closing(_ollama(server, dimension=16)) as provider:
        provider.load()
        assert provider.identity.dimension == 16
    assert server.requests == []


def test_ollama_unknown_model_tells_you_to_pull_it(server: StandIn) -> None:
    with closing(_ollama(server, model="x")) as provider, pytest.raises(EmbeddingError) as caught:
        provider.load()
    assert "ollama pull x" in str(caught.value)
    assert len(server.requests) == 1, "a missing model is not retried"


def test_ollama_retries_a_server_error_and_then_succeeds(server: StandIn) -> None:
    server.scripted = [(500, json.dumps({"error": "loading model"}))]
    with closing(_ollama(server, dimension=16)) as provider:
        vectors = provider.embed_documents(["hello"])
    assert len(server.requests) == 2
    _assert_close(vectors, _expected(["hello"], 16))


def test_ollama_reply_with_the_wrong_number_of_vectors_is_an_error(server: StandIn) -> None:
    server.drop_last_vector = True
    with (
        closing(_ollama(server, dimension=16)) as provider,
        pytest.raises(EmbeddingError, match="returned 2 vectors for 3 texts"),
    ):
        provider.embed_documents(["a", "b", "c"])


def test_ollama_configured_dimension_that_disagrees_with_the_model_is_an_error(server: StandIn) -> None:
    with (
        closing(_ollama(server, dimension=32)) as provider,
        pytest.raises(EmbeddingError, match=r"16-dimensional vectors, expected 32.*embedding.dimension"),
    ):
        provider.embed_documents(["a"])


def test_ollama_connection_refused_names_the_url() -> None:
    url = f"http://127.0.0.1:{_unused_port()}"
    with (
        closing(OllamaProvider(base_url=url, dimension=8, timeout=2.0, retries=0)) as provider,
        pytest.raises(EmbeddingError, match=f"cannot reach the embedding server at {url}"),
    ):
        provider.embed_documents(["x"])


def test_ollama_retries_a_rate_limit_with_backoff(server: StandIn) -> None:
    server.scripted = [(429, json.dumps({"error": "too many requests"}))]
    with closing(_ollama(server, dimension=16, retry_delay=0.2)) as provider:
        provider.embed_documents(["hello"])
    assert len(server.requests) == 2
    assert server.requests[1].at - server.requests[0].at >= 0.2


def test_ollama_gives_up_after_the_retry_budget_and_reports_status_and_error(server: StandIn) -> None:
    server.scripted = [(500, json.dumps({"error": f"boom {i}"})) for i in range(4)]
    with (
        closing(_ollama(server, dimension=16, retries=2)) as provider,
        pytest.raises(EmbeddingError, match=r"HTTP 500.*boom 2"),
    ):
        provider.embed_documents(["x"])
    assert len(server.requests) == 3


def test_ollama_a_server_slower_than_the_timeout_is_an_error_naming_the_setting(server: StandIn) -> None:
    server.hang = threading.Event()
    with (
        closing(_ollama(server, dimension=16, timeout=0.3)) as provider,
        pytest.raises(EmbeddingError, match=r"did not answer within 0.3s.*embedding.timeout_seconds"),
    ):
        provider.embed_documents(["x"])
    assert len(server.requests) == 1, "a timeout is not retried: the next try would wait as long"


def test_ollama_a_reply_without_embeddings_asks_for_a_newer_ollama(server: StandIn) -> None:
    server.scripted = [(200, json.dumps({"model": "nomic-embed-text", "embedding": [0.1, 0.2]}))]
    with (
        closing(_ollama(server, dimension=16)) as provider,
        pytest.raises(EmbeddingError, match=r"without 'embeddings': is it Ollama 0.3 or newer"),
    ):
        provider.embed_documents(["x"])


def test_ollama_a_wrong_base_url_says_there_is_no_embed_endpoint(server: StandIn) -> None:
    with (
        closing(
            OllamaProvider(base_url=f"{server.url}/nothing-here", dimension=16, timeout=5.0, retry_delay=0.0)
        ) as provider,
        pytest.raises(EmbeddingError, match=r"no /api/embed endpoint.*embedding.base_url"),
    ):
        provider.embed_documents(["x"])


@pytest.mark.anyio
async def test_ollama_async_query_embedding_works(server: StandIn) -> None:
    with closing(_ollama(server, dimension=16)) as provider:
        vector = await provider.aembed_query("query text")
    _assert_close([vector], _expected(["query text"], 16))

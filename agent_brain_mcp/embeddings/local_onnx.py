"""The ``local`` provider: all-MiniLM-L6-v2 (int8 ONNX) run by onnxruntime, shipped in the package.

No network, no key, no torch. The model files live in ``models/all-MiniLM-L6-v2-int8`` next to
this module (made by ``scripts/export_onnx_model.py``). onnxruntime and tokenizers are imported in
``load()`` only, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_brain_mcp.embeddings.base import EmbeddingIdentity, EmbeddingProvider
from agent_brain_mcp.errors import EmbeddingError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models" / "all-MiniLM-L6-v2-int8"
_REQUIRED_FILES = ("model.onnx", "tokenizer.json")
_DEFAULT_DIMENSION = 384
_MAX_POSITIONS = 512  # BERT's position embeddings; the model was trained on 256 (the default)
# Suffixes that name how a model was stored, not which model it is: the vectors are compatible.
_STORAGE_SUFFIXES = ("-int8", "-onnx", "-fp32", "-fp16")
_REINSTALL_HINT = (
    "The agent-brain-mcp package install is incomplete. Reinstall it with "
    "`pip install --force-reinstall --no-deps agent-brain-mcp` (or the same with uv/pipx), "
    "or choose another embedding provider in the config."
)


def _model_name(model_dir: Path) -> str:
    name = model_dir.name
    for suffix in _STORAGE_SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def _dimension(model_dir: Path) -> int:
    """``hidden_size`` from config.json when it is there (cheap), else MiniLM's 384."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        return int(config["hidden_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return _DEFAULT_DIMENSION


def _default_threads() -> int:
    # The CPUs this process may run on, which can be fewer than the machine has.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _prepare_tokenizer(tokenizer: Any, max_length: int) -> int:
    """Truncate at ``max_length``, pad nothing (batches are padded here, to their own longest text);
    the id to pad with."""
    tokenizer.enable_truncation(max_length=max_length)
    padding = tokenizer.padding or {}
    pad_token = padding.get("pad_token") or "[PAD]"
    pad_id = int(padding.get("pad_id", tokenizer.token_to_id(pad_token) or 0))
    tokenizer.no_padding()
    return pad_id


class LocalOnnxProvider(EmbeddingProvider):
    """Sentence embeddings from the bundled int8 all-MiniLM-L6-v2: mean pooled, L2-normalised."""

    def __init__(
        self,
        model_dir: Path | None = None,
        batch_size: int = 32,
        max_length: int = 256,
        threads: int | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not 2 <= max_length <= _MAX_POSITIONS:
            raise ValueError(f"max_length must be between 2 (room for [CLS] and [SEP]) and {_MAX_POSITIONS}")
        self._custom_dir = model_dir is not None
        self.model_dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        self.batch_size = batch_size
        self.max_length = max_length
        self.threads = threads
        self._identity = EmbeddingIdentity("local", _model_name(self.model_dir), _dimension(self.model_dir))
        self._load_lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._input_names: frozenset[str] = frozenset()
        self._output_name: str = ""
        self._pad_id = 0

    @property
    def identity(self) -> EmbeddingIdentity:
        return self._identity

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def load(self) -> None:
        """Read the model and tokenizer (about 0.3 s on 2 cores); safe to call from many threads."""
        if self._session is not None:
            return
        with self._load_lock:
            if self._session is not None:
                return
            started = time.perf_counter()
            self._check_files()
            threads = self.threads or _default_threads()
            session, tokenizer = self._open(threads)
            self._pad_id = _prepare_tokenizer(tokenizer, self.max_length)
            self._input_names, self._output_name = self._check_signature(session)
            self._tokenizer = tokenizer
            self._session = session  # last: a non-None session means "ready"
            log.info(
                "loaded local embedding model %s from %s in %.2f s (%d threads)",
                self._identity.describe(),
                self.model_dir,
                time.perf_counter() - started,
                threads,
            )

    def _open(self, threads: int) -> tuple[Any, Any]:
        """The inference session and the tokenizer, read from ``model_dir``."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        # Memory patterns are planned per input shape; with ever-changing sequence lengths
        # they only cost memory: off, peak RSS at batch 32 x 256 tokens fell from ~660 MB
        # to ~390 MB at the same speed.
        options.enable_mem_pattern = False
        options.log_severity_level = 3  # errors only: onnxruntime logs to stderr itself
        try:
            session = ort.InferenceSession(
                str(self.model_dir / "model.onnx"),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )
            tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        except Exception as exc:  # corrupt or truncated files
            raise EmbeddingError(
                f"The local embedding model in {self.model_dir} could not be loaded ({exc}). " + self._fix_hint()
            ) from exc
        return session, tokenizer

    def _check_signature(self, session: Any) -> tuple[frozenset[str], str]:
        """The model's input names and the output to pool, after checking they are what ``embed`` feeds and reads."""
        input_names = frozenset(i.name for i in session.get_inputs())
        if not {"input_ids", "attention_mask"} <= input_names:
            raise EmbeddingError(
                f"{self.model_dir / 'model.onnx'} does not take input_ids and attention_mask "
                f"(it takes {sorted(input_names)}). " + self._fix_hint()
            )
        outputs = session.get_outputs()
        output = next((o for o in outputs if o.name == "last_hidden_state"), outputs[0])
        width = output.shape[-1] if output.shape else None
        if isinstance(width, int) and width != self._identity.dimension:
            raise EmbeddingError(
                f"{self.model_dir / 'model.onnx'} returns {width}-dimensional vectors, but its "
                f"config says {self._identity.dimension}. " + self._fix_hint()
            )
        return input_names, str(output.name)

    def _fix_hint(self) -> str:
        if self._custom_dir:
            return "Point model_dir at a folder holding model.onnx and tokenizer.json."
        return _REINSTALL_HINT

    def _check_files(self) -> None:
        missing = [name for name in _REQUIRED_FILES if not (self.model_dir / name).is_file()]
        if missing:
            raise EmbeddingError(
                f"The local embedding model is missing {', '.join(missing)} in {self.model_dir}. " + self._fix_hint()
            )

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed many texts, batching texts of the same token count together; results keep the input order.

        Each batch is padded to its longest text, so the model pays for padding tokens. Tokenised
        first, then sorted by token count: on real code chunks padding fell from 11.8% of the
        tokens (sorted by characters) to 7.1% (benchmarks/bench_padding.py).
        """
        if not texts:
            return []
        self.load()
        ids = self._token_ids(texts)
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for i, vector in zip(batch, self._run([ids[i] for i in batch]), strict=True):
                out[i] = vector
        return out

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        # all-MiniLM-L6-v2 uses no query/document prefixes, so ``is_query`` changes nothing.
        if not texts:
            return []
        self.load()
        return self._run(self._token_ids(texts))

    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids ([CLS] ... [SEP], truncated to ``max_length``), unpadded."""
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def _run(self, rows: Sequence[Sequence[int]]) -> list[list[float]]:
        """One batch through the model: padded to its longest row, mean pooled over real tokens."""
        import numpy as np

        width = max(len(row) for row in rows)
        input_ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = row
            attention_mask[r, : len(row)] = 1
        feeds: dict[str, np.ndarray] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)  # one segment
        hidden = self._session.run([self._output_name], feeds)[0]
        vectors: list[list[float]] = _pool_and_normalise(hidden, attention_mask).tolist()
        return vectors

    def close(self) -> None:
        with self._load_lock:
            self._session = None
            self._tokenizer = None


def _pool_and_normalise(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Mean over the real (unmasked) tokens, then unit length, as sentence-transformers does."""
    import numpy as np

    if hidden.ndim == 2:  # a graph that already pools
        pooled = hidden.astype(np.float32, copy=False)
    else:
        mask = attention_mask.astype(np.float32)
        summed = np.einsum("bsh,bs->bh", hidden, mask)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    normalised: np.ndarray = pooled / np.maximum(norms, 1e-12)
    return normalised

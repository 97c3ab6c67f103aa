"""SIGKILL at randomized points over the whole write path, many times; the index must converge exactly.

Each kill point is a real process running the service (open the store, ``index_path``), killed with
SIGKILL at a random moment of its run: during the writer's recovery, a first index, the absorb of a
child root, edits, deletions, a ``force`` run, the keyword snapshot at the end of a run; in either
phase of a run (files written keyword first, then their vectors filled in: a third of the kills wait
for the second phase, so that it gets kill points of its own). The next
process starts from whatever the kill left. After the last kill, one uninterrupted run must leave
every store exactly as a clean index of the same tree built in a store of its own.

Processes are forked by a multiprocessing fork server that imported the heavy libraries once, so a
kill point costs a fork, not a Python start-up; two lanes (each its own tree and store) run side by
side.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from stores import chroma_state, pg_state
from support import make_settings, open_service

from agent_brain_mcp.backends.base import SearchFilters
from agent_brain_mcp.backends.postgres.backend import PostgresBackend
from agent_brain_mcp.backends.postgres.keyword_plan import KeywordBudget
from agent_brain_mcp.embeddings.factory import create_embedding_provider
from agent_brain_mcp.query_terms import analyse, keyword_text

pytestmark = pytest.mark.anyio

FILES = 1000
KILLS_PER_LANE = 16  # two lanes: at least 32 real kill points per backend
MAX_ATTEMPTS = 60  # per lane: runs that finish before their kill do not count
BATCH = 4  # embedding.batch_size: a write every max(4 * 4, 64) = 64 chunks
_PRELOAD = [
    "agent_brain_mcp.runtime",
    "agent_brain_mcp.backends.chroma.backend",
    "agent_brain_mcp.backends.postgres.backend",
    "agent_brain_mcp.embeddings.hashing",
    "chromadb",
    "chromadb.api.rust",
    "sqlalchemy.ext.asyncio",
    "asyncpg",
]


# -- the tree and how it changes between runs -------------------------------------------------------
def _module(i: int, version: int) -> str:
    """A small module; every 10th is long enough for several chunks (their number changes with edits)."""
    body = f'"""Module {i} v{version}: helpers for case {i}."""\n\n\ndef compute_value_{i}(x):\n    return x * {i}\n'
    if i % 10 == 0:
        body += "".join(f"\n\ndef step_{i}_{k}_v{version}(y):\n    return y + {k}\n" for k in range(8 + version % 5))
    return body


def _make_tree(root: Path) -> Path:
    for i in range(FILES):
        path = root / ("sub" if i < FILES // 3 else f"pkg{i % 20:02d}") / f"module_{i:04d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_module(i, 0), encoding="utf-8")
    return root


def _edit(root: Path, rng: random.Random, step: int) -> None:
    """Rewrite some files, delete some, add some: the next run writes, replaces and removes chunks."""
    files = sorted(root.rglob("*.py"))
    for path in rng.sample(files, 40):
        i = int(path.stem.split("_")[1])
        path.write_text(_module(i, step), encoding="utf-8")
    for path in rng.sample(files, 25):
        path.unlink(missing_ok=True)
    for k in range(15):
        i = FILES + step * 100 + k
        (root / f"new{step % 3}" / f"module_{i:04d}.py").parent.mkdir(exist_ok=True)
        (root / f"new{step % 3}" / f"module_{i:04d}.py").write_text(_module(i, step), encoding="utf-8")


# -- a kill point: a forked process running index_path, SIGKILLed at a random moment ----------------
def _settings(lane: dict[str, Any]) -> Any:
    return make_settings(
        Path(lane["state"]),
        Path(lane["project"]),
        backend=lane["backend"],
        pg_url=lane.get("pg_url"),
        table=lane.get("table", "agent_brain"),
        embedding={"batch_size": BATCH},
    )


KEYWORDS, VECTORS = 0, 1  # the phase a child reports (shared memory), read when it is killed
MIN_VECTOR_KILLS = 4  # per backend: kills that landed while vectors were being filled in
PHASE_WAIT_S = 60.0  # a run's keyword phase can outlast the lane's estimate of the whole run under load


def _index_in_child(lane: dict[str, Any], path: str, force: bool, started: Any, phase: Any) -> None:
    async def progress(event: Any) -> None:
        phase.value = VECTORS if event.phase == "vectors" else KEYWORDS

    async def run() -> None:
        async with open_service(_settings(lane)) as service:
            started.set()
            await service.index_path(path, force=force, progress=progress)

    asyncio.run(run())


@dataclass
class _Lane:
    spec: dict[str, Any]
    rng: random.Random
    kills: int = 0
    vector_kills: int = 0
    attempts: int = 0
    estimate: dict[str, float] = field(default_factory=dict)  # seconds an uninterrupted run of a kind took
    log: list[str] = field(default_factory=list)


def _attempt(ctx: Any, lane: _Lane, kind: str, path: str, force: bool, kill: bool) -> bool:
    """One process; with ``kill``, SIGKILLed at a random moment of its run. True if it was killed."""
    started = ctx.Event()
    phase = ctx.Value("i", KEYWORDS)
    proc = ctx.Process(target=_index_in_child, args=(lane.spec, path, force, started, phase), daemon=True)
    proc.start()
    try:
        if not started.wait(60):
            raise AssertionError(f"the child did not open the store within 60 s ({kind})")
        began = time.monotonic()
        if kill:
            estimate = lane.estimate.get(kind, 2.0)
            in_vector_phase = lane.rng.random() < 1 / 3
            if in_vector_phase:  # wait for the vectors phase, however long a loaded machine makes the first
                while phase.value != VECTORS and proc.exitcode is None and time.monotonic() - began < PHASE_WAIT_S:
                    proc.join(0.005)
            floor = 0.3 if in_vector_phase else 0.05  # past the estimate: still a spread of kill points
            delay = lane.rng.uniform(0.0, max(estimate - (time.monotonic() - began), floor))
            proc.join(delay)  # the randomized kill point: the run's state at this moment, whatever it is
            if proc.exitcode is None:
                proc.kill()
                proc.join(10)
            if proc.exitcode == -9:
                lane.kills += 1
                in_vectors = phase.value == VECTORS
                lane.vector_kills += in_vectors
                lane.log.append(f"{kind} killed at {time.monotonic() - began:.2f}s{' (vectors)' if in_vectors else ''}")
                return True
        proc.join(120)
        assert proc.exitcode == 0, f"{kind} run failed (exit {proc.exitcode}); see the captured stderr"
        lane.estimate[kind] = time.monotonic() - began
        lane.log.append(f"{kind} finished in {lane.estimate[kind]:.2f}s")
        return False
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(10)


def _torture(ctx: Any, lane: _Lane) -> None:
    """Kill runs of every kind until enough kills landed; then one run to the end."""
    project = Path(lane.spec["project"])
    ops: list[tuple[str, str, bool]] = [("first index of a child root", "sub", False), ("absorb", ".", False)]
    step = 0
    while lane.kills < KILLS_PER_LANE:
        assert lane.attempts < MAX_ATTEMPTS, f"only {lane.kills} kills in {lane.attempts} runs: {lane.log}"
        if not ops:
            step += 1
            _edit(project, lane.rng, step)
            ops = [("edits and deletions", ".", False)]
            if step % 3 == 0:
                ops.append(("force", ".", True))
        kind, path, force = ops[0]
        lane.attempts += 1
        if not _attempt(ctx, lane, kind, path, force, kill=True) or lane.rng.random() < 0.5:
            ops.pop(0)  # killed runs are sometimes retried, sometimes followed by the next change
    _attempt(ctx, lane, "final", ".", False, kill=False)


def _run_lanes(specs: list[dict[str, Any]], seed: int) -> list[_Lane]:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    lanes = [_Lane(spec, random.Random(seed + n)) for n, spec in enumerate(specs)]
    errors: list[BaseException] = []

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # re-raised in the test's thread
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(lambda lane=lane: _torture(ctx, lane))) for lane in lanes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not any(t.is_alive() for t in threads), "a lane did not finish within 300 s"
    if errors:
        raise errors[0]
    return lanes


async def _clean_index(settings: Any) -> None:
    async with open_service(settings) as service:
        await service.index_path(str(settings.project_dir))


QUERIES = ("compute_value_17 helpers", "step_40_3 return y", "module 500 case")


async def _searches(settings: Any) -> list[Any]:
    """BM25 scores and the best keyword hit of a few queries: a recovered and a clean index must agree.

    The best hit is compared by name only when no other hit has its score (equal scores come in either order); vector
    rankings are left out: HNSW is approximate, and a graph that saw deletions may order differently.
    """
    if settings.storage.backend == "postgresql":
        return await _pg_exact_scores(settings)
    out: list[Any] = []
    async with open_service(settings) as service:
        for query in QUERIES:
            keyword = await service.keyword_search(query, top_k=10)
            out.append([round(h.score, 4) for h in keyword.hits])
            hits = keyword.hits
            if len(hits) > 1 and hits[0].score > hits[1].score:  # a best hit without a tie
                out.append((hits[0].file_path, hits[0].start_line))
    return out


async def _pg_exact_scores(settings: Any) -> list[Any]:
    """PostgreSQL's BM25 scores with every matching row ranked.

    By default a query ranks all rows of its rarest lexemes and only a bounded number of rows that hold
    just commoner ones, taken in the table's physical order (the first rows the GIN index or a page
    sample yields: docs/ARCHITECTURE.md). A table that saw kills and rewrites stores its rows in
    another order than a clean one, so those few candidates, and the scores at the bottom of a page,
    may differ: an approximation of the same kind as HNSW's, not a drift. With the bound lifted the
    scores depend only on the rows and the document frequencies (``<table>_terms``), which must
    equal a clean index's exactly.
    """
    state = Path(settings.storage.postgresql.data_dir)
    backend = PostgresBackend(settings, state, KeywordBudget(core=1 << 40))
    await backend.open()
    try:
        await backend.prepare(create_embedding_provider(settings.embedding).identity)
        out: list[Any] = []
        for query in QUERIES:
            hits = await backend.keyword_search(keyword_text(analyse(query)), 10, SearchFilters())
            out.append([round(h.score, 4) for h in hits])
            if len(hits) > 1 and hits[0].score > hits[1].score:
                out.append((hits[0].rel_path, hits[0].start_line))
        return out
    finally:
        await backend.close()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["chromadb", "postgresql"])
async def test_thirty_sigkills_over_the_whole_write_path_converge_to_exactly_a_clean_index(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    seed = random.randrange(1 << 30)
    specs: list[dict[str, Any]] = []
    for n in range(2):
        spec: dict[str, Any] = {
            "backend": backend,
            "project": str(_make_tree(tmp_path / f"lane{n}" / "project")),
            "state": str(tmp_path / f"lane{n}" / "state"),
        }
        if backend == "postgresql":
            spec |= {"pg_url": request.getfixturevalue("pg_url"), "table": f"{request.getfixturevalue('pg_table')}_{n}"}
        specs.append(spec)

    lanes = await asyncio.to_thread(_run_lanes, specs, seed)
    assert sum(lane.kills for lane in lanes) >= 2 * KILLS_PER_LANE, f"seed {seed}"
    assert sum(lane.vector_kills for lane in lanes) >= MIN_VECTOR_KILLS, f"seed {seed}: {[x.log for x in lanes]}"

    for n, lane in enumerate(lanes):
        recovered = _settings(lane.spec)
        clean_spec = lane.spec | {"state": str(tmp_path / f"lane{n}" / "clean")}
        if backend == "postgresql":
            clean_spec["table"] = lane.spec["table"] + "_clean"
        clean = _settings(clean_spec)
        await _clean_index(clean)
        context = f"seed {seed}, lane {n}: {lane.log}"
        if backend == "chromadb":
            got, want = chroma_state(Path(lane.spec["state"])), chroma_state(Path(clean_spec["state"]))
        else:
            got = await pg_state(lane.spec["pg_url"], lane.spec["table"])
            want = await pg_state(lane.spec["pg_url"], clean_spec["table"])
        assert got["manifest"] == want["manifest"], context
        assert got["chunks"] == want["chunks"], context
        assert got["ids"] == want["ids"], context
        if backend == "postgresql":
            assert got["terms"] == want["terms"], context  # BM25's document frequencies (<table>_terms)
        assert await _searches(recovered) == await _searches(clean), context

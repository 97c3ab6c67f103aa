"""Notebooks are indexed by their cells, at the lines of the .ipynb that hold each cell's source."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from agent_brain_mcp.indexing.chunking import ChunkLimits, chunk_text
from agent_brain_mcp.indexing.languages import detect_language
from agent_brain_mcp.indexing.notebooks import parse
from agent_brain_mcp.indexing.reader import read_text

LIMITS = ChunkLimits(max_lines=12, overlap_lines=2, max_chars=400)


def _cell(kind: str, source: str, **extra: Any) -> dict[str, Any]:
    return {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True), **extra}


def _notebook(cells: list[dict[str, Any]], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = metadata or {"kernelspec": {"name": "python3", "language": "python"}, "language_info": {"name": "python"}}
    return {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}


LONG_FUNCTION = "def train(model, data):\n" + "".join(f"    step_{i} = model.fit(data, epoch={i})\n" for i in range(20))
CELLS = [
    _cell("markdown", "# Training\n\nWe fit the model on the `sales` table.\n"),
    _cell(
        "code",
        "import pandas as pd\nsales = pd.read_csv('sales.csv')\n",
        execution_count=1,
        outputs=[{"output_type": "stream", "name": "stdout", "text": ["OUTPUT_ONLY_TOKEN\n"]}],
    ),
    _cell("raw", "raw text is not indexed\n"),
    _cell("code", LONG_FUNCTION, execution_count=2, outputs=[]),
    _cell("code", "   \n"),
]


def _chunks_of(path: Path) -> list[Any]:
    text = read_text(path, 1_000_000).text
    return chunk_text(text, detect_language(path), LIMITS)


def test_each_chunk_points_at_the_ipynb_lines_holding_its_cell_source(tmp_path: Path) -> None:
    path = tmp_path / "train.ipynb"
    path.write_text(json.dumps(_notebook(CELLS), indent=1) + "\n", encoding="utf-8")  # how Jupyter writes it
    file_lines = path.read_text(encoding="utf-8").split("\n")
    chunks = _chunks_of(path)

    assert [c.symbol.split(" / ")[0] for c in chunks][:2] == ["cell 1", "cell 2"]
    assert {c.symbol.split(" / ")[0] for c in chunks[2:]} == {"cell 4"}  # raw and blank cells are left out
    assert len(chunks) > 3, "the long cell is cut into several chunks"
    for chunk in chunks:
        lines = chunk.text.split("\n")
        first, last = lines[0], lines[-1]
        # the stored file line holds the JSON string of the chunk's first and last source lines
        assert json.dumps(first)[:-1] in file_lines[chunk.start_line - 1], chunk
        assert json.dumps(last)[:-1] in file_lines[chunk.end_line - 1], chunk
        assert chunk.end_line - chunk.start_line == chunk.text.count("\n")
        assert "OUTPUT_ONLY_TOKEN" not in chunk.text and '"cell_type"' not in chunk.text
    assert chunks[0].language == "markdown" and chunks[0].text.startswith("# Training")
    assert all(c.language == "python" for c in chunks[1:])
    assert "cell 4 / def train" in {c.symbol for c in chunks}


def test_a_source_stored_as_one_string_maps_to_its_line(tmp_path: Path) -> None:
    nb = _notebook([{"cell_type": "code", "metadata": {}, "source": "x = 1\ny = x + 1", "outputs": []}])
    path = tmp_path / "compact.ipynb"
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    (chunk,) = _chunks_of(path)
    line = path.read_text(encoding="utf-8").split("\n")[chunk.start_line - 1]
    assert chunk.start_line == chunk.end_line and '"source": "x = 1\\ny = x + 1"' in line
    assert chunk.text == "x = 1\ny = x + 1" and chunk.symbol == "cell 1"


def test_the_code_cells_language_comes_from_the_notebook_metadata() -> None:
    meta = {"kernelspec": {"name": "ir", "language": "R"}, "language_info": {"name": "R", "file_extension": ".r"}}
    nb = parse(json.dumps(_notebook([_cell("code", "x <- c(1, 2)\n")], meta)))
    assert nb.language == "r"
    assert parse(json.dumps(_notebook([], {"kernelspec": {"language": "julia"}}))).language == "julia"
    assert parse(json.dumps(_notebook([], {}))).language == "python"


def test_text_that_is_not_notebook_json_is_chunked_as_plain_text() -> None:
    chunks = chunk_text("not json at all\nsecond line\n", "jupyter", LIMITS)
    assert [(c.start_line, c.end_line, c.symbol, c.language) for c in chunks] == [(1, 2, None, None)]
    old_format = json.dumps({"worksheets": [{"cells": [{"input": ["x = 1"]}]}], "nbformat": 3}, indent=1)
    assert "x = 1" in "".join(c.text for c in chunk_text(old_format, "jupyter", LIMITS))
    broken = json.dumps(_notebook([_cell("code", "y = 2\n")]), indent=1)[:-40]
    assert chunk_text(broken, "jupyter", LIMITS), "a cut-off notebook is still read as text"


def test_a_large_notebook_with_image_outputs_is_read_quickly() -> None:
    image = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo" * 80_000}, "metadata": {}}
    cells = [_cell("code", f"plot({i})\n", outputs=[image] if i == 0 else []) for i in range(300)]
    text = json.dumps(_notebook(cells), indent=1)
    assert len(text) > 800_000
    started = time.perf_counter()
    chunks = chunk_text(text, "jupyter", LIMITS)
    assert time.perf_counter() - started < 2.0
    assert len(chunks) == 300 and chunks[0].text == "plot(0)"

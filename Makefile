# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench install clean airflow

# (Re)install whenever requirements.txt or pyproject.toml change.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/liftline demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The Airflow UI with this project's DAGs and the report page: http://localhost:$(PORT).
PORT ?= 8080
airflow: $(STAMP)
	$(BIN)/liftline airflow --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_generate.py --scale small --repeat 3

.PHONY: bench-ingest
# Ingest vs raw bulk load on SQLite and PostgreSQL, medium world (long: tens of minutes).
bench-ingest: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py --scale medium

clean:
	rm -rf $(VENV) .liftline .pytest_cache .ruff_cache

# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-services lint bench install clean airflow

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

# The DAGs under real Airflow services: the scheduler with the LocalExecutor, and two Celery
# workers on Redis and PostgreSQL (each skips where its services are missing). About 10 minutes.
test-services: $(STAMP)
	$(BIN)/python -m pytest --services -m services tests/dags

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
	rm -rf $(VENV) .venv-peers .liftline .pytest_cache .ruff_cache

.PHONY: bench-peers
# Liftline beside the libraries a user would pick instead (PyMC-Marketing, Nixtla's statsforecast
# and mlforecast), in a separate environment: the peers are never runtime dependencies.
# Long: the forecast comparison takes minutes, each PyMC-Marketing fit several more.
PEERS       := .venv-peers
PEERS_STAMP := $(PEERS)/.installed
PEERS_REQS  := benchmarks/peers/requirements.txt benchmarks/peers/requirements-nodeps.txt
$(PEERS_STAMP): requirements.txt pyproject.toml $(PEERS_REQS)
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet -r requirements.txt -r benchmarks/peers/requirements.txt
	$(PEERS)/bin/python -m pip install --quiet --no-deps -r benchmarks/peers/requirements-nodeps.txt
	$(PEERS)/bin/python -m pip install --quiet --no-deps -e .
	touch $(PEERS_STAMP)

DRAWS ?= 500
bench-peers: $(PEERS_STAMP)
	nice -n 15 $(PEERS)/bin/python benchmarks/peers/bench_forecast_peers.py
	nice -n 15 $(PEERS)/bin/python benchmarks/peers/bench_mmm_peers.py --world new \
		--draws $(DRAWS) --tune $(DRAWS) --chains 2

# espb: everything is driven from here. `make help` lists the targets.
# A fresh machine needs only Python 3.11: every target installs what it needs first.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= outputs
SEED ?= 0
DR ?= 0.25
DT ?= 365
PYTEST_ARGS ?=
# b-value cubes are cached here (content-addressed; safe to delete)
export ESPB_CACHE_DIR ?= $(abspath $(OUT))/cache

.DEFAULT_GOAL := help
.PHONY: help install run test test-slow lint catalog-demo catalog-paper cube-demo cube-paper bench-cube clean

help: ## list the targets
	@echo "espb make targets:"
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}'
	@echo "variables: OUT=$(OUT) SEED=$(SEED) PYTHON=$(PYTHON)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), f"espb needs Python >= 3.11, found {sys.version.split()[0]} at {sys.executable}; set PYTHON=/path/to/python3.11"'
	@echo ">> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo ">> installing torch 2.13.0 (CPU build) first, so no CUDA build is pulled in"
	$(BIN)/python -m pip install --quiet torch==2.13.0
	@echo ">> installing espb and its dev dependencies"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv (torch 2.13.0 CPU first, then espb[dev])

run: $(STAMP) ## the main job on the embedded default (demo synthetic catalog)
	@mkdir -p $(OUT)/demo
	$(BIN)/espb catalog synth --preset demo --seed $(SEED) -o $(OUT)/demo/catalog.parquet --isc $(OUT)/demo/catalog_isc.csv
	$(BIN)/espb catalog ingest $(OUT)/demo/catalog_isc.csv --format isc --mw-round 0.1 --region 37,43,139,145 -o $(OUT)/demo/catalog_from_isc.parquet
	$(BIN)/espb catalog info $(OUT)/demo/catalog.parquet --plot $(OUT)/demo/catalog_overview.png
	$(BIN)/espb cube build --catalog $(OUT)/demo/catalog.parquet --preset demo
	$(BIN)/espb cube show --catalog $(OUT)/demo/catalog.parquet --preset demo --day 2011-03-10 --cell 38.3,142.4 -o $(OUT)/demo/cube_b.png
	@echo
	@echo "== make run produced (catalog and b-value layers; training arrives with the next issue) =="
	@echo "  $(OUT)/demo/catalog.parquet          event table of the demo synthetic catalog (seed $(SEED))"
	@echo "  $(OUT)/demo/catalog.plants.parquet   planted precursor windows (the ground truth)"
	@echo "  $(OUT)/demo/catalog.truth.parquet    per-event truth: true magnitude, b used, planted flag, parent"
	@echo "  $(OUT)/demo/catalog_isc.csv          the same catalog as an ISC bulletin CSV export"
	@echo "  $(OUT)/demo/catalog_from_isc.parquet that export read back through the ISC reader"
	@echo "  $(OUT)/demo/catalog_overview.png     map, frequency-magnitude distribution, rate"
	@echo "  $(ESPB_CACHE_DIR)/cubes/            the demo b-value cube (zarr v3; list with: .venv/bin/espb cube ls)"
	@echo "  $(OUT)/demo/cube_b.png               its b map on 2011-03-10 and one cell's time series"

test: $(STAMP) ## run the test suite (not the slow, full-scale checks)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: $(STAMP) ## run only the slow, full-scale checks (paper-scale catalog etc.)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

lint: $(STAMP) ## ruff
	$(BIN)/ruff check espb tests benchmarks

catalog-demo: $(STAMP) ## generate the demo synthetic catalog into $(OUT)/demo
	$(BIN)/espb catalog synth --preset demo --seed $(SEED) -o $(OUT)/demo/catalog.parquet

catalog-paper: $(STAMP) ## generate the paper-scale synthetic catalog into $(OUT)/paper (~1.4 M events)
	$(BIN)/espb catalog synth --preset paper --seed $(SEED) -o $(OUT)/paper/catalog.parquet

cube-demo: $(STAMP) ## build the demo b-value cube (DR, DT) and draw it into $(OUT)/demo
	@test -f $(OUT)/demo/catalog.parquet || $(BIN)/espb catalog synth --preset demo --seed $(SEED) -o $(OUT)/demo/catalog.parquet
	$(BIN)/espb cube build --catalog $(OUT)/demo/catalog.parquet --preset demo --dr $(DR) --dt $(DT)
	$(BIN)/espb cube show --catalog $(OUT)/demo/catalog.parquet --preset demo --dr $(DR) --dt $(DT) --day 2011-03-10 -o $(OUT)/demo/cube_b.png

cube-paper: $(STAMP) ## build the paper's 12 (dr, dt) cubes from the paper-scale synthetic catalog
	@test -f $(OUT)/paper/catalog.parquet || $(BIN)/espb catalog synth --preset paper --seed $(SEED) -o $(OUT)/paper/catalog.parquet
	@for dr in 0.15 0.25 0.35 0.65; do for dt in 150 365 730; do \
	  $(BIN)/espb cube build --catalog $(OUT)/paper/catalog.parquet --preset paper --dr $$dr --dt $$dt || exit 1; \
	done; done

bench-cube: $(STAMP) ## benchmark the paper-size cube against the brute-force reference (docs/performance.md)
	$(BIN)/python benchmarks/cube.py

clean: ## remove generated outputs (keeps .venv)
	rm -rf $(OUT) .pytest_cache .ruff_cache

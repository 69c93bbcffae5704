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
.PHONY: help install run ui sweep sweep-demo sweep-demo-seeds sweep-prepare sweep-prepare-demo sweep-report optuna test-ui smoke train-paper-14-9 train-paper-14-0 signal-check bench-train bench-forecast test test-slow lint catalog-demo catalog-paper cube-demo cube-paper bench-cube clean bench-gpu rate-demo rate-seed rate-japan forecast-demo

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

run: $(STAMP) ## the main job: demo catalog (planted precursors) -> cube -> progressive training -> MLflow
	ESPB_OUT=$(OUT) $(BIN)/espb-train experiment=demo catalog.seed=$(SEED)
	@$(BIN)/espb cube show --catalog $(OUT)/catalogs/synthetic-demo-seed$(SEED)-planted.parquet --preset demo \
	  --dr 0.35 --dt 150 --day 2011-03-10 --cell 38.3,142.4 -o $(OUT)/demo_cube_b.png
	@echo
	@echo "== make run produced (under $(OUT)/) =="
	@echo "  catalogs/synthetic-demo-seed$(SEED)-planted.parquet   the demo synthetic catalog (+ .plants.parquet: the planted windows)"
	@echo "  runs/demo/<config hash>/      config.yaml, checkpoint.pt, weights/, predictions.parquet, metrics.csv, accuracy.png"
	@echo "  runs/demo/<config hash>/report/index.md   the run report: the paper's figures (docs/diagnostics.md)"
	@echo "  mlruns.db, mlartifacts/       the MLflow store: make ui  (or the command printed above)"
	@echo "  demo_cube_b.png               the demo cube's b map on 2011-03-10 and one cell's series"
	@echo "  $(ESPB_CACHE_DIR)/cubes/   the demo b-value cube (zarr v3; list with: .venv/bin/espb cube ls)"

ui: $(STAMP) ## MLflow UI on $(OUT)/mlruns.db (runs and sweeps) at http://127.0.0.1:5000
	@$(BIN)/espb links --store $(OUT)/mlruns.db || true
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(abspath $(OUT))/mlruns.db \

	  --default-artifact-root file://$(abspath $(OUT))/mlartifacts --host 127.0.0.1 --port 5000

# ---- sweeps (docs/sweeps.md): the paper's 432-configuration factorial, resumable ----
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SWEEP_ARGS ?=

sweep: $(STAMP) ## the paper's 432-config sweep at paper scale (GPUs; JOBS=, SWEEP_ARGS= e.g. hydra/launcher=espb_slurm)
	ESPB_OUT=$(OUT) $(BIN)/espb sweep run paper_432 name=paper_432 --jobs $(JOBS) $(SWEEP_ARGS)

sweep-demo: $(STAMP) ## all 432 configs at demo scale on this machine (30-75 min on 2 cores; docs/sweeps.md) + the report
	ESPB_OUT=$(OUT) $(BIN)/espb sweep run paper_432 experiment=sweep_demo name=demo_432 --jobs $(JOBS) $(SWEEP_ARGS)

sweep-demo-seeds: $(STAMP) ## the demo sweep with 3 seed replicates per configuration, fused (training.seeds; docs/sweeps.md); SEEDS_GRID= narrows the grid
	ESPB_OUT=$(OUT) $(BIN)/espb sweep run paper_432 experiment=sweep_demo name=demo_432_seeds 'training.seeds=[0,1,2]' $(SEEDS_GRID) --jobs $(JOBS) $(SWEEP_ARGS)

sweep-prepare: $(STAMP)
 ## build the paper sweep's 12 cubes and 36 autoencoders up front, in parallel
	ESPB_OUT=$(OUT) $(BIN)/espb sweep prepare paper_432 name=paper_432 --jobs $(JOBS) $(SWEEP_ARGS)

sweep-prepare-demo: $(STAMP) ## the same for sweep-demo (12 demo cubes, 36 autoencoders)
	ESPB_OUT=$(OUT) $(BIN)/espb sweep prepare paper_432 experiment=sweep_demo name=demo_432 --jobs $(JOBS) $(SWEEP_ARGS)

sweep-report: $(STAMP) ## the report of a sweep: EXPERIMENT=espb-demo_432 (default)
	ESPB_OUT=$(OUT) $(BIN)/espb report sweep --experiment $(or $(EXPERIMENT),espb-demo_432)

OPTUNA_ARGS ?=

optuna: $(STAMP) ## Optuna TPE study over the sweep space (sweeps/optuna_tpe.yaml; WORKERS=2, OPTUNA_ARGS=)
	ESPB_OUT=$(OUT) $(BIN)/espb optuna run sweeps/optuna_tpe.yaml --workers $(or $(WORKERS),2) $(OPTUNA_ARGS)

smoke: $(STAMP) ## the smoke experiment (seconds)
	ESPB_OUT=$(OUT) $(BIN)/espb-train experiment=smoke

train-paper-14-9: $(STAMP) ## paper Model14.9 at full scale (paper-scale synthetic catalog; meant for a GPU)
	ESPB_OUT=$(OUT) $(BIN)/espb-train experiment=paper_model14_9

train-paper-14-0: $(STAMP) ## paper Model14.0 at full scale (meant for a GPU)
	ESPB_OUT=$(OUT) $(BIN)/espb-train experiment=paper_model14_0

signal-check: $(STAMP) ## planted vs shuffled-label demo runs: AUC >= 0.7 vs 0.4-0.6 (docs/training.md)
	ESPB_CACHE_DIR=$(ESPB_CACHE_DIR) $(BIN)/python benchmarks/signal_check.py --out $(OUT)/signal_check

bench-train: $(STAMP) ## training throughput (in-memory gather vs zarr DataLoader) + demo-run overhead share (docs/performance.md)
	$(BIN)/python benchmarks/train_throughput.py --out $(OUT) --demo

bench-forecast: $(STAMP) ## dense forecast scoring vs per-block, side by side: demo test period + paper-scale projection (docs/performance.md)
	$(BIN)/python benchmarks/forecast.py --out $(OUT) --ae

bench-gpu: $(STAMP) ## samples/s of the reference and fast CNN-TCN on the GPU (CPU if none) + projected paper/sweep time (docs/performance.md)
	$(BIN)/python benchmarks/gpu.py
forecast-demo: $(STAMP) ## demo runs (planted, null catalog, shuffled labels) forecast and scored vs the baselines: one table + Molchan diagrams (docs/forecasts.md)
	ESPB_CACHE_DIR=$(ESPB_CACHE_DIR) $(BIN)/python benchmarks/forecast_demo.py --out $(OUT)/forecast_demo --runs-in $(OUT) $(FORECAST_DEMO_ARGS)

test: $(STAMP) ## run the test suite (not the slow, full-scale checks)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: $(STAMP) ## run only the slow, full-scale checks (paper-scale catalog etc.)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

test-ui: $(STAMP) ## headless-Chromium test of the MLflow UI over a smoke sweep (installs Debian chromium + chromium-driver if missing; screenshots in outputs/test-ui/)
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo ">> installing Debian's chromium and chromium-driver"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver || exit 1; \
	  else \
	    echo "test-ui needs /usr/bin/chromium and /usr/bin/chromedriver; install them as root:"; \
	    echo "  sudo apt-get install chromium chromium-driver"; \
	    exit 1; \
	  fi; \
	fi
	$(BIN)/python -m pytest -m ui $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check + ruff format --check (the same checks as .pre-commit-config.yaml)
	$(BIN)/ruff check espb tests benchmarks hydra_plugins
	$(BIN)/ruff format --check espb tests benchmarks hydra_plugins

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

# ---- rate forecasts (docs/rates.md): Poisson GLM, NB GLM, EarthquakeNet, each with and without b-value features ----
RATES_ARGS ?=
RATE_MODELS ?= model.kind=poisson_glm,nb_glm,earthquakenet features.bvalue=false,true
JAPAN_CSV ?= ../shared/data/real/comcat_japan_m45_2000_2026.csv

rate-demo: $(STAMP) ## rate forecasts on the demo catalog: 3 models x b-features walk-forward 2009-2014 + comparison table (minutes)
	ESPB_OUT=$(OUT) $(BIN)/espb-rates -m rates/preset=rate_demo $(RATE_MODELS) $(RATES_ARGS)
	$(BIN)/espb-rates-report $(OUT)/rates/rate_demo

rate-seed: $(STAMP) ## the seed paper's setting on your ComCat export: make rate-seed COMCAT=central_asia.csv
	@test -n "$(COMCAT)" || { echo "set COMCAT=<your ComCat CSV of 38-45 N, 65-85 E, 2010-2024, M>=3> (docs/rates.md says how to download it)"; exit 2; }
	$(BIN)/espb catalog ingest $(COMCAT) --format comcat --region none --max-depth none -o $(OUT)/catalogs/comcat_seed.parquet
	ESPB_OUT=$(OUT) $(BIN)/espb-rates -m rates/preset=rate_seed catalog.path=$(abspath $(OUT))/catalogs/comcat_seed.parquet $(RATE_MODELS) $(RATES_ARGS)
	$(BIN)/espb-rates-report $(OUT)/rates/rate_seed

rate-japan: $(STAMP) ## real-data check on the ComCat Japan M>=4.5 file (2 deg cells, walk-forward 2020-2025)
	$(BIN)/espb catalog ingest $(JAPAN_CSV) --format comcat --region none --max-depth none -o $(OUT)/catalogs/comcat_japan.parquet
	ESPB_OUT=$(OUT) $(BIN)/espb-rates -m rates/preset=rate_japan catalog.path=$(abspath $(OUT))/catalogs/comcat_japan.parquet $(RATE_MODELS) $(RATES_ARGS)
	$(BIN)/espb-rates-report $(OUT)/rates/rate_japan

clean: ## remove generated outputs (keeps .venv)
	rm -rf $(OUT) .pytest_cache .ruff_cache

# The README's commands. Each target creates the environment it needs from pinned versions.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

.PHONY: install run tune test test-fast lint format ui report bench bench-tune bench-scale datasets clean

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==24.3.1"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

## The seed practical: 4 methods x 10 seeds, then the ranges table. Extra Hydra overrides: ARGS="..."
run: install
	$(BIN)/imbsweep $(ARGS)

## Optuna tuning of one method (brf, smote_ann, weighted_ann): make tune METHOD=brf
METHOD ?= brf
tune: install
	$(BIN)/imbsweep sweeps=tune_$(METHOD) $(ARGS)

## Lint, then every test (slow ones included).
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow"

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## MLflow UI on the project's store: http://127.0.0.1:5000
ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --port 5000

## Rebuild the latest sweep's ranges table from MLflow (ARGS="<sweep id>" for another one).
report: install
	$(BIN)/imbsweep-report $(ARGS)

## Tracking overhead: the main job's work with tracking on and off, one process, as a ratio.
bench: install
	$(BIN)/python benchmarks/tracking_overhead.py $(ARGS)

## Tuning throughput: trials/min per method and the speedup of 2 workers over 1.
bench-tune: install
	$(BIN)/python benchmarks/tuning_throughput.py $(ARGS)

## Sweep engine: 2 workers vs 1 on the main job, a 500k-row CSV vs by hand, rerun after SIGKILL.
bench-scale: install
	$(BIN)/python benchmarks/scale.py $(ARGS)

clean:
	rm -rf $(VENV) multirun outputs reports bench-results .pytest_cache .ruff_cache

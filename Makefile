# The README's commands. Each target creates the environment it needs from pinned versions.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

SHELL  := /bin/bash
.PHONY: install browser smote-variants docs docs-serve dashboard run tune test test-fast lint format ui certs report bench bench-tune bench-scale datasets clean

# One line per step with its time; pip lists each package as it goes (the 2-3 minutes of a first
# install are mostly TensorFlow and MLflow).
$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) (set PYTHON=...)"; exit 1; }
	@set -e; t0=$$(date +%s); t=$$t0; \
	step() { now=$$(date +%s); echo "== $$1 ($$((now - t)) s)"; t=$$now; }; \
	echo "== [1/4] $(VENV) with $$($(PYTHON) --version)"; \
	$(PYTHON) -m venv $(VENV); step "[1/4] done"; \
	$(BIN)/python -m pip install --quiet --upgrade "pip==24.3.1"; step "[2/4] pip 24.3.1"; \
	echo "== [3/4] $$(grep -c == requirements.lock) pinned packages from requirements.lock" \
		"(pip lists them, then unpacks them all without output: the longest part)"; \
	$(BIN)/python -m pip install --progress-bar on -r requirements.lock \
		| grep --line-buffered -E "^(Collecting|Processing|Installing|Successfully)" \
		| sed -u -E "s/ \(from .*//; s|^Processing /.*/|Processing |"; \
	test "$${PIPESTATUS[0]}" = 0; step "[3/4] done"; \
	$(BIN)/python -m pip install --quiet --no-deps -e .; step "[4/4] imbsweep (editable)"; \
	echo "== installed in $$(( $$(date +%s) - t0 )) s"
	@touch $(STAMP)

# The environment only: `make install` and `make run` install no system package.
install: $(STAMP)

# The browser test (tests/test_browser.py) drives Debian's chromium through Playwright (Playwright's
# own browser download is not used). Only `make test` asks for it: installed when missing and we
# are root (CI is); otherwise that test is skipped.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "== chromium (Debian) for the browser test"; \
	    apt-get install -y -q chromium >/dev/null 2>&1 \
	      || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else echo "== no chromium: the browser test will be skipped (as root: apt-get install chromium)"; fi; }

## The optional smote-variants oversamplers (method.sampler=smote_variants): 3 pinned packages,
## ~4 MB, a few seconds, without the tensorflow + mkl its metadata asks for (docs/methods.md, "smote-variants").
SV_STAMP := $(VENV)/.smote-variants-stamp
$(SV_STAMP): $(STAMP) requirements-smote-variants.lock
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-smote-variants.lock
	@touch $(SV_STAMP)

smote-variants: install $(SV_STAMP)

## The documentation site (mkdocs.yml, docs/): requirements-docs.lock on top of the project's
## environment, then a strict build into site/ (any broken link, anchor or nav entry fails it).
## The pages open from disk: site/index.html.
DOCS_STAMP := $(VENV)/.docs-stamp
$(DOCS_STAMP): $(STAMP) requirements-docs.lock
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-docs.lock
	@touch $(DOCS_STAMP)

docs: install $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## The site with live reload while you edit: http://127.0.0.1:8000
docs-serve: install $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

## Optuna's dashboard on the tuning studies (sweeps/tune_*: optuna.db): http://127.0.0.1:8080
dashboard: install
	$(BIN)/optuna-dashboard sqlite:///$(CURDIR)/optuna.db --host 127.0.0.1 --port 8080

## The seed practical: 4 methods x 10 seeds, then the ranges table. Extra Hydra overrides: ARGS="..."
run: install
	$(BIN)/imbsweep $(ARGS)

## Optuna tuning of one method (brf, smote_ann, weighted_ann): make tune METHOD=brf
METHOD ?= brf
tune: install
	$(BIN)/imbsweep sweeps=tune_$(METHOD) $(ARGS)

## Lint, then every test (slow ones included; the smote-variants ones need the extra), after a
## strict build of the documentation site.
test: install smote-variants browser docs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

test-fast: install smote-variants
	$(BIN)/pytest -m "not slow"

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## MLflow UI on the project's store: http://127.0.0.1:5000
ui: install
	@echo "== open $$($(BIN)/python -m imbsweep.ui_view --tracking-uri sqlite:///$(CURDIR)/mlflow.db)"
	@echo "   (headline metrics as columns, best first; sweep rows expand into jobs and seeds)"
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port 5000

## Certificates for a Dask cluster on TLS in ./certs (ARGS="--host HEAD --host W1": its machines).
certs: install
	$(BIN)/python -m imbsweep.tls certs $(ARGS)

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
	rm -rf $(VENV) multirun outputs reports bench-results site .pytest_cache .ruff_cache

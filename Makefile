# `make demo` and `make test` work on a fresh machine: they create .venv, install, and run.
PYTHON ?= python3
VENV ?= .venv
# The CPU build of torch; override for GPUs, e.g. make install TORCH_SPEC="torch==2.13.0" \
#   TORCH_INDEX="--index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
EXTRAS ?= dev,deepspeed,kiwi,trackers,llm
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench gpu-check clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

demo: install  ## train the default job on the embedded Korean corpus
	$(PY) toolkit/train.py --config config/base_config.yaml

test: install  ## the whole suite: unit tests and CPU end-to-end runs
	$(PY) -m pytest -q

test-fast: install  ## unit tests only
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check .

bench: install  ## side-by-side throughput against the HF Trainer and no_trainer loop
	$(PY) benchmarks/run.py --quick

# On a GPU machine whose python already has CUDA torch (not the CPU .venv): about 8 minutes.
gpu-check:  ## the prepared GPU check (benchmarks/gpu_check.py); GPU_CHECK_ARGS=--dry-run on a CPU
	$(PYTHON) -m pip install -q -e ".[deepspeed,bench]"
	$(PYTHON) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

clean:
	rm -rf outputs experiments wandb .pytest_cache

# Regulab's front door. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MNIST_DIR ?= ../shared/data/mnist

.PHONY: demo test bench lint install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# Pin the CPU wheel first: an unpinned torch pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/regulab advise --data digits --budget 90s --seed 0 --report report.html --figures report_figures

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/train_speed.py --mnist-dir $(MNIST_DIR)
	$(PY) benchmarks/compare_speed.py --mnist-dir $(MNIST_DIR)
	$(PY) benchmarks/advise_mnist.py --mnist-dir $(MNIST_DIR)
	$(PY) benchmarks/generic_speed.py --mnist-dir $(MNIST_DIR)
	$(PY) benchmarks/advise_suite.py --budget 60s

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy src

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache report.html report_figures

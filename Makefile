# make demo: run the example scoring job on local Spark.  make test: run the whole suite.
# Both create the virtual environment first when it is missing or pyproject.toml changed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv demo test lint bench example clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

example: venv
	$(PY) examples/fraud/build.py

demo: example
	$(VENV)/bin/modelop-spark run examples/fraud/jobs/score.json

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check modelop_spark tests submit examples bench
	$(VENV)/bin/mypy

bench: example
	$(PY) -m bench

clean:
	rm -rf out spark-warehouse .pytest_cache

# make demo: run the example scoring job on local Spark.  make test: run the whole suite.
# Both create the virtual environment first when it is missing or pyproject.toml changed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv demo test lint bench example clean ui-assets screenshots

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

# The whole package is kept at radon grade C or better (complexity <= 20 per function; function
# length is checked by tests/test_code_shape.py). Migrations are frozen once released.

lint: venv
	$(VENV)/bin/ruff check modelop_spark tests submit examples bench
	$(VENV)/bin/mypy
	@tangled="$$($(VENV)/bin/radon cc --min D --show-complexity --exclude '*/migrations/*' modelop_spark)"; \
	if [ -n "$$tangled" ]; then echo "cyclomatic complexity over 20 (radon grade D or worse):"; echo "$$tangled"; exit 1; fi

bench: example
	$(PY) -m bench

clean:
	rm -rf out spark-warehouse .pytest_cache

# The Command Center's htmx, vendored from npm into the package (committed: pip installs need no node).
HTMX_VERSION ?= 2.0.7
ui-assets:
	rm -rf build/htmx && mkdir -p build/htmx
	cd build/htmx && npm pack --silent htmx.org@$(HTMX_VERSION) >/dev/null && tar xzf htmx.org-$(HTMX_VERSION).tgz
	cp build/htmx/package/dist/htmx.min.js modelop_spark/ui/static/htmx.min.js
	cp build/htmx/package/LICENSE modelop_spark/ui/static/htmx.LICENSE
	echo "htmx.org $(HTMX_VERSION) (BSD Zero Clause License), from npm" > modelop_spark/ui/static/htmx.VERSION
	rm -rf build/htmx

# Screenshots of every Command Center page (docs/screenshots/*.png), taken by the browser tests.
screenshots: venv
	UI_SCREENSHOTS=docs/screenshots $(PY) -m pytest tests/test_ui_pages.py -q

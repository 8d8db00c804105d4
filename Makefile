# Two commands: `make demo` (set up, then run the tour) and `make test` (set up, then run tests).
# Both create or refresh the virtual environment in $(VENV) when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.multiproj-installed
PYTEST_ARGS ?=

.PHONY: demo test bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints/ci.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints/ci.txt -e ".[all,test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m multiproj demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m multiproj bench --quick

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache

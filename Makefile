# Two commands: `make demo` (set up, then run the tour) and `make test` (set up, then run tests).
# Both create or refresh the virtual environment in $(VENV) when pyproject.toml changes.
# `make docs` builds the documentation site into docs/_build/html.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.multiproj-installed
PYTEST_ARGS ?=
SPHINXOPTS ?=

.PHONY: demo test bench docs venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints/ci.txt
	@echo "Setting up $(VENV): installing multiproj with numpy, numba, torch (CPU build), scikit-learn, pandas, matplotlib, rich, dask, pytest, hypothesis, mypy and Sphinx (about 1 GB once installed, three quarters of it torch): about 2 to 5 minutes on a first run, seconds afterwards; pip shows its progress below."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install --progress-bar on -c constraints/ci.txt -e ".[all,test,docs]"
	touch $(STAMP)

demo: $(STAMP)
	@echo "Running the tour (multiproj demo): speed, sparsity and feature selection, 1.5 to 3 minutes on 2 cores; figures and JSON go to demo-output/."
	$(PY) -m multiproj demo

test: $(STAMP)
	@echo "Running the test suite (pytest, including the docs build and the examples): about 5 to 10 minutes on 2 cores."
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m multiproj bench --quick

docs: $(STAMP)
	@echo "Building the documentation: installs the docs extra into $(VENV) (Sphinx, pydata-sphinx-theme, numpydoc, sphinx-gallery, myst-parser), then runs the examples and writes docs/_build/html (1 to 3 minutes)."
	$(PY) -m pip install --quiet -c constraints/ci.txt -e ".[docs]"
	$(PY) -m sphinx -b html $(SPHINXOPTS) docs docs/_build/html
	@echo "Open docs/_build/html/index.html"

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache docs/_build docs/auto_examples docs/generated

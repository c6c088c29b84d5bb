# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install

# pip's output (and setuptools' warning about editable installs, which --quiet keeps) goes
# to a log that is shown only if the install fails.
PIP_LOG := $(VENV)/pip-install.log

$(BIN)/driftline: pyproject.toml
	@echo "installing Driftline and its dependencies into $(VENV) (log: $(PIP_LOG))"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip > $(PIP_LOG) 2>&1 || { cat $(PIP_LOG); exit 1; }
	@$(BIN)/pip install --quiet -e '.[dev]' >> $(PIP_LOG) 2>&1 || { cat $(PIP_LOG); exit 1; }
	@# An editable install compiles nothing, and where imports write no bytecode
	@# (PYTHONDONTWRITEBYTECODE, set in many CI and container images) every start would compile
	@# the package again: ~0.17 s of each CLI call and worker start. `pip install .` compiles it.
	@$(BIN)/python -m compileall -q streams loadtest >> $(PIP_LOG) 2>&1 || { cat $(PIP_LOG); exit 1; }
	@touch $@

install: $(BIN)/driftline

demo: install
	$(BIN)/driftline demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

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

# The pure tests (~2 minutes of one core) run in a second process beside the server tests,
# which mostly wait on workers, brokers and timeouts; their report is printed after. Either
# run failing, or collecting nothing (pytest's exit 5), fails the target.
PURE_LOG := $(VENV)/pure-tests.log

test: lint
	@echo "pure tests in the background (report: $(PURE_LOG)); the server tests:"
	@$(BIN)/pytest -m "not integration" -p no:cacheprovider > $(PURE_LOG) 2>&1 & pure_pid=$$!; \
	$(BIN)/pytest -m integration; servers=$$?; \
	wait $$pure_pid; pure=$$?; \
	cat $(PURE_LOG); \
	echo "server tests: exit $$servers; pure tests: exit $$pure"; \
	[ $$servers -eq 0 ] && [ $$pure -eq 0 ]

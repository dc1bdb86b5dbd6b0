VENV ?= .venv
PY := $(VENV)/bin/python
RUN_DIR ?= var/dev
comma := ,

.PHONY: install run test bench lint conformance demo mutation

$(VENV)/.installed: pyproject.toml setup.py gateway/crypto/ua/_native.c
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	test -f $(RUN_DIR)/gateway.toml || $(VENV)/bin/gateway init $(RUN_DIR)
	$(VENV)/bin/gateway serve --config $(RUN_DIR)/gateway.toml

test: install
	$(VENV)/bin/pytest -n 2 -q

conformance: install
	$(PY) scripts/conformance.py

$(VENV)/.bench-installed: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $@

# writes docs/benchmarks.md and docs/benchmarks.png (< 15 min on 2 cores); QUICK=1: a short run
# whose document goes to var/bench/ instead
bench: $(VENV)/.bench-installed
	BENCH_QUICK=$(QUICK) $(PY) bench/run.py

$(VENV)/.mutation-installed: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test,mutation]'
	touch $@

# cosmic-ray over the security-critical modules (scripts/mutation.py); MODULES=edrpou,tsa: a subset.
# Survivors are listed; docs/mutation.md says how each was killed or why it is harmless.
mutation: $(VENV)/.mutation-installed
	$(PY) scripts/mutation.py $(subst $(comma), ,$(MODULES))

lint: install
	$(VENV)/bin/ruff check .

demo: install
	$(PY) scripts/demo.py

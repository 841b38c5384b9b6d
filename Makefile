# Everything runs from the project's own virtual environment, created on first use,
# so a fresh machine needs only Python 3.11+ (and Chromium for the browser tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench venv clean

venv: $(STAMP)

# Reinstall whenever the declared dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,redis]'
	touch $@

run: $(STAMP)
	$(BIN)/python -m web serve

test: $(STAMP)
	$(BIN)/python -m pytest

# Not part of `make test`: several minutes of load on loopback; see README, Performance.
# wrk drives the GETs; on Debian as root it is installed on first use.
bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m tests.bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache

# BNPL back office: build / run / test.
#
#   make run            migrate, seed demo data (once), serve on http://$(HOST):$(PORT)/ + qcluster
#   make test           ruff (lint + format check), then pytest: tests/ in parallel, e2e/ serially
#   make lint | fmt     ruff check + format check | ruff fix + format
#   make bench          build/reuse the 1M-customer PostgreSQL data set, measure, write bench/RESULTS.md
#   make clean          remove the virtualenv, caches, collected static and test artifacts
#
# The virtualenv (.venv) is created on first use with the newest Python >= 3.12 found on the
# machine (override with `make PYTHON=/path/to/python3.13 ...`); requirements are re-installed
# only when requirements*.txt change. No downloads besides pip from the package index.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

HOST ?= 127.0.0.1
PORT ?= 8000
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k refunds -x"`.
PYTEST_ARGS ?=
# Parallel workers for tests/ (pytest-xdist); e2e/ always runs in one process.
TEST_WORKERS ?= 2

VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp
REQUIREMENTS := requirements.txt requirements-dev.txt

# Candidates for the interpreter, best first. Each is really run: pyenv shims exist on PATH even
# when they cannot run, and plain `python3` may be too old.
define FIND_PYTHON
pyroot="$$(pyenv root 2>/dev/null || echo "$${PYENV_ROOT:-$$HOME/.pyenv}")"; \
candidates="python3.13 python3.12 \
  $$(ls -d "$$pyroot"/versions/3.13*/bin/python3 2>/dev/null | sort -rV) \
  $$(ls -d "$$pyroot"/versions/3.12*/bin/python3 2>/dev/null | sort -rV) python3"; \
if [ -n "$${PYTHON:-}" ]; then candidates="$$PYTHON"; fi; \
for c in $$candidates; do \
  if "$$c" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then \
    command -v "$$c"; exit 0; \
  fi; \
done; exit 1
endef
export FIND_PYTHON

# `make run`: runserver and qcluster side by side in the foreground. Each runs in its own process
# group (set -m), so a Ctrl-C reaches only this shell, whose trap stops both: runserver's group (the
# autoreloader and its child) and qcluster's main process, which shuts down its own workers; anything
# still alive after 20 s is killed. If either process exits on its own, the other is stopped too.
define RUN_BOTH
set -m
web=""; q=""
stop() {
  trap - INT TERM EXIT
  echo; echo ">> stopping web server and qcluster"
  [ -z "$$web" ] || kill -TERM -- "-$$web" 2>/dev/null || true
  [ -z "$$q" ] || kill -TERM "$$q" 2>/dev/null || true
  for _ in $$(seq 1 100); do [ -n "$$(jobs -pr)" ] || break; sleep 0.2; done
  for p in $$(jobs -pr); do kill -KILL -- "-$$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo ">> stopped"
}
trap 'stop; exit 130' INT TERM
trap stop EXIT
$(VPY) manage.py runserver $(HOST):$(PORT) & web=$$!
$(VPY) manage.py qcluster & q=$$!
set +m  # the jobs keep their own process groups; no "[1] Done" notices from here on
sleep 2
cat <<BANNER

==================================================================
  BNPL back office:  http://$(HOST):$(PORT)/
  demo logins:       support / support-demo
                     risk    / risk-demo
                     admin   / admin-demo
  web server + qcluster running; Ctrl-C stops both
==================================================================

BANNER
while kill -0 "$$web" 2>/dev/null && kill -0 "$$q" 2>/dev/null; do sleep 1; done
echo ">> a process exited on its own; stopping the other" >&2
exit 1
endef
export RUN_BOTH

# `make test`, see the comment at the target.
define TEST_STAGES
failed=()
stage() {  # stage KIND CMD...: run CMD, remember it if it failed (pytest's 5 = nothing collected is fine)
  local kind="$$1"; shift
  echo ">> $$*"
  "$$@" && return 0
  local rc=$$?
  if [ "$$kind" = pytest ] && [ "$$rc" -eq 5 ]; then return 0; fi
  failed+=("$$* (exit $$rc)")
}
stage ruff $(VENV)/bin/ruff check .
stage ruff $(VENV)/bin/ruff format --check .
stage pytest $(VPY) -m pytest -n $(TEST_WORKERS) tests $(PYTEST_ARGS)
stage pytest $(VPY) -m pytest e2e --output=e2e-artifacts/playwright --screenshot=only-on-failure $(PYTEST_ARGS)
echo
if [ $${#failed[@]} -gt 0 ]; then
  echo "make test: FAILED"; printf '  %s\n' "$${failed[@]}"; exit 1
fi
echo "make test: all passed"
endef
export TEST_STAGES

.PHONY: help install venv run test lint fmt clean bench

help:
	@echo "make run    [HOST=$(HOST)] [PORT=$(PORT)]  migrate, seed demo data, serve + qcluster"
	@echo "make test   [PYTEST_ARGS=...]                ruff + pytest (tests/ then e2e/)"
	@echo "make bench  [BENCH_ARGS=...]                 1M-customer data set (PostgreSQL), figures -> bench/RESULTS.md"
	@echo "make lint | make fmt | make clean"

$(VPY):
	@py="$$(bash -c "$$FIND_PYTHON")" || { \
	  echo "error: no Python >= 3.12 found (tried $${PYTHON:-python3.13, python3.12, pyenv versions 3.13*/3.12*, python3})." >&2; \
	  echo "       install one, or pass PYTHON=/path/to/python3.12+" >&2; exit 1; }; \
	echo ">> creating $(VENV) with $$py ($$("$$py" -V 2>&1))"; \
	"$$py" -m venv $(VENV)

$(STAMP): $(REQUIREMENTS) | $(VPY)
	@$(VPY) -c 'import sys; assert sys.version_info >= (3, 12), sys.version' 2>/dev/null || { \
	  echo "error: $(VENV) uses $$($(VPY) -V 2>&1); Django 6 needs >= 3.12. Run 'make clean' first." >&2; exit 1; }
	@echo ">> installing requirements-dev.txt into $(VENV)"
	$(VPY) -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
	@touch $@

venv install: $(STAMP)

run: $(STAMP)
	$(VPY) manage.py migrate --noinput
	$(VPY) manage.py seed_demo --if-empty
	@bash -c "$$RUN_BOTH"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Three stages, each run even when an earlier one fails (one CI run shows every problem); the target
# fails if any did. tests/ runs on TEST_WORKERS xdist workers. e2e/ runs in a single process: spread
# over the same workers it measured no faster (about 11 s either way on 2 CPUs), and keeping it apart
# keeps Playwright's event loop and DJANGO_ALLOW_ASYNC_UNSAFE out of the unit/integration tests.
# pytest's exit code 5 ("no tests collected", e.g. a -k in PYTEST_ARGS that matches nothing in one
# half) is not a failure.
test: $(STAMP)
	@bash -c "$$TEST_STAGES"

# The benchmark (see bench/run.py): builds or reuses the PostgreSQL database bnpl_bench, then measures
# with gunicorn + wrk. BENCH_ARGS passes options, e.g. `make bench BENCH_ARGS="--reuse --only reads"`.
BENCH_ARGS ?=
bench: $(STAMP)
	$(VPY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles e2e-artifacts test-results
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Crime Gun Atlas — the two commands a newcomer needs:
#   make demo   install what is missing, start the embedded PostGIS, load synthetic Baltimore, serve
#   make test   install what is missing (browser too), then lint and the whole test suite
SHELL := /bin/bash
CG := .venv/bin/crimegun
SCALES ?= 1

.PHONY: demo demo-rebuild test lint bench a11y install install-test install-bench stop clean-data help

help:
	@echo "make demo          run the product on synthetic Baltimore at http://127.0.0.1:8050"
	@echo "make demo-rebuild  regenerate and reload the synthetic data, then serve"
	@echo "make test          lint + unit, database and browser tests"
	@echo "make bench         benchmarks on the demo data, scale 1 (SCALES=1,10,100 adds copies built in SQL);"
	@echo "                   prints numbers and writes var/bench/latest.md and .json"
	@echo "make a11y          the WCAG 2.1 AA audit (axe-core) and keyboard tests alone (also in make test)"
	@echo "make stop          stop the embedded database"

install:
	@bash scripts/bootstrap.sh

install-test:
	@bash scripts/bootstrap.sh --browser

install-bench:
	@bash scripts/bootstrap.sh --bench

demo: install
	$(CG) demo

demo-rebuild: install
	$(CG) demo --rebuild

lint: install-test
	.venv/bin/ruff check .

test: install-test lint
	$(CG) db start --quiet
	CGA_NO_SKIPS=1 .venv/bin/python -m pytest -q -p no:cacheprovider --headless tests/unit tests/db tests/security tests/browser \
		--deselect tests/browser/test_unavailable.py
	# The stalled-database browser test runs in a process of its own: after other browser tests in the same
	# process its banner comes late (state shared between app instances, not yet found).
	CGA_NO_SKIPS=1 .venv/bin/python -m pytest -q -p no:cacheprovider --headless tests/browser/test_unavailable.py
	# A smoke run of the benchmark harness (tiny sizes: it checks the benchmark code and its report, not speed).
	CGA_NO_SKIPS=1 CGA_BENCH_SMOKE=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/bench

bench: install-bench
	$(CG) demo --no-serve
	CGA_BENCH_SCALES=$(SCALES) .venv/bin/python -m pytest -q -s -p no:cacheprovider tests/bench

a11y: install-test
	$(CG) db start --quiet
	.venv/bin/python -m pytest -q -p no:cacheprovider --headless tests/browser/test_accessibility.py tests/browser/test_keyboard.py

stop:
	$(CG) db stop

clean-data: install
	$(CG) db stop || true
	rm -rf var/

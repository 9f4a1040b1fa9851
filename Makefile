# Developer shortcuts. CI runs .ci/run; these are the same steps by name.
PYTHON ?= python3

.PHONY: all test lint bench docs man check-docs pins

all: lint test

test:
	$(PYTHON) -m pytest -q -n 3

# ruff on the whole tree; mypy as configured in pyproject.toml (strict on kgctl_py/mesh).
lint:
	ruff check kgctl_py tests tools bench
	mypy

bench:
	$(PYTHON) bench/bench_cli.py
	$(PYTHON) bench/bench_completion.py

# Completions, man pages, docs/cli.md and the example SVG, from the click tree.
docs:
	$(PYTHON) tools/gen_docs.py

man:
	$(PYTHON) tools/gen_docs.py --only man

check-docs:
	$(PYTHON) tools/gen_docs.py --check

# Re-pin the test environment (tests/constraints.txt) to what a fresh install resolves today.
pins:
	rm -rf .pins-venv && $(PYTHON) -m venv .pins-venv
	.pins-venv/bin/pip install -q -e '.[test]'
	{ sed -n '/^#/p' tests/constraints.txt; .pins-venv/bin/pip freeze --exclude-editable; } > tests/constraints.txt.new
	mv tests/constraints.txt.new tests/constraints.txt && rm -rf .pins-venv

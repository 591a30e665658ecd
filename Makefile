# The two commands of the README. Both set up a fresh machine first (scripts/setup.sh).
VENV ?= .venv
OUT ?= build/default

.PHONY: setup flow test test-slow clean
setup:
	bash scripts/setup.sh

flow: setup
	$(VENV)/bin/codesign flow --out $(OUT)

test: setup
	$(VENV)/bin/python -m pytest

test-slow: setup
	$(VENV)/bin/python -m pytest -m slow

clean:
	rm -rf build

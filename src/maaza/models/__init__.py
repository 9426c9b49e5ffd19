"""Model resolution (bundled GGUF, local folder, hub id) and loading with optional LoRA adapters."""

from maaza.models.loading import LoadedModel, load_model, load_tokenizer
from maaza.models.registry import BUILTIN_MODELS, resolve_model

__all__ = ["BUILTIN_MODELS", "LoadedModel", "load_model", "load_tokenizer", "resolve_model"]

"""Maaza: build, benchmark and ship micro language models for structured tasks on edge hardware."""

__version__ = "0.1.0"

__all__ = ["Extractor", "__version__"]


def __getattr__(name: str) -> object:
    """`from maaza import Extractor` without importing torch on `import maaza`."""
    if name == "Extractor":
        from maaza.extract import Extractor

        return Extractor
    raise AttributeError(f"module 'maaza' has no attribute {name!r}")

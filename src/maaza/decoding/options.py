"""The rules that tie decoding options together, checked the same way by every entry point.

`maaza eval`, the pipeline's eval section, `Extractor.load` and the server all call `check_decoding_options`,
so the rules are written once: grounded decoding is a constraint (it needs constrained decoding), and the
repeated-item rewind edits llama.cpp's KV cache (it needs constrained decoding on the llamacpp backend).
"""

from __future__ import annotations

from maaza.errors import MaazaError


def check_decoding_options(*, constrained: bool, grounded: bool, rewind_repeats: bool, backend: str) -> None:
    """The rules that tie decoding options together, for every entry point (eval, extract, pipeline)."""
    if grounded and not constrained:
        raise MaazaError("grounded decoding is a constraint: use it with constrained decoding "
                         "(--constrained, constrained=True)")
    if rewind_repeats and not (constrained and backend == "llamacpp"):
        raise MaazaError("the repeated-item rewind (--rewind-repeats, rewind_repeats=True) needs constrained decoding "
                         "on the llamacpp backend: it drops generated tokens from the KV cache and the grammar matcher")

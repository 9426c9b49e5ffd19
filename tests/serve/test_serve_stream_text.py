"""TextAssembler: streamed deltas of real tokenizer output concatenate to the final text; stops cut it."""

from __future__ import annotations

from typing import Any

import pytest

from maaza.serve.worker import TextAssembler

TEXT = "Héllo wörld 👋🏽 — order #A17, ship to Zoë; done.\nEND of text"


def _feed(tokenizer: Any, text: str, stops: tuple[str, ...]) -> tuple[TextAssembler, list[str], int]:
    assembler = TextAssembler(tokenizer, stops)
    deltas, fed = [], 0
    for token in tokenizer(text, add_special_tokens=False)["input_ids"]:
        fed += 1
        delta, stopped = assembler.add(token)
        deltas.append(delta)
        if stopped:
            break
    deltas.append(assembler.flush())
    return assembler, deltas, fed


def test_deltas_concatenate_and_never_split_a_character(smollm2_tokenizer: Any) -> None:
    assembler, deltas, _ = _feed(smollm2_tokenizer, TEXT, ())
    assert "".join(deltas) == assembler.text == TEXT
    assert not any("\ufffd" in delta for delta in deltas)  # byte tokens of 👋🏽 wait until the character is whole
    assert sum(1 for delta in deltas if delta) > 10


@pytest.mark.parametrize("stop,expected", [("#A17", "Héllo wörld 👋🏽 — order "), ("\nEND", TEXT.split("\n")[0]),
                                           ("never there", TEXT)])
def test_stop_strings_cut_the_text_and_are_never_streamed(smollm2_tokenizer: Any, stop: str, expected: str) -> None:
    assembler, deltas, fed = _feed(smollm2_tokenizer, TEXT, (stop, "zzz"))
    assert "".join(deltas) == assembler.text == expected
    assert assembler.stopped == (stop in TEXT)
    if stop in TEXT:  # generation ended at the token that completed the stop, not later
        assert fed < len(smollm2_tokenizer(TEXT, add_special_tokens=False)["input_ids"])
        assert not any(stop[:2] in delta for delta in deltas[:-1] if stop[:2] not in expected)

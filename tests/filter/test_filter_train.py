"""NLM filter training (maaza.train.filter_tokenizer, filter_model, filter_recipe): the tokenizer's offsets and
byte fallback, the parameter count of the plan's shape, the recipe's outputs, pinned losses and exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from maaza.config import load_config
from maaza.errors import MaazaError
from maaza.train.filter_recipe import FilterConfig, FilterRecipe
from maaza.train.filter_tokenizer import BYTE_TOKENS, UNK, chosen_alphabet, train_filter_tokenizer
from maaza.train.logs import read_curve

CORPUS = [
    "Call me on +44 7700 900123 tomorrow, ok?",
    "Invoice INV-2024-118 paid by card 4111 1111 1111 1111.",
    "Meet Anna at 10:30 near the station; bring the documents!",
    "server 10.0.0.12 rejected login for anna.k@example.com",
    "Free entry!! Text WIN to 80086 now",
] * 20
TRICKY = [
    "emoji 😀👍🏽 and flags 🇩🇪",
    "Привет, как дела? 你好世界 مرحبا",
    "tabs\tand\nnewlines  and   spaces",
    "café naïve e\u0301 (combining accent)",
    "literal <0x41> and [CLS] text",
    "",
]


def _bytes_of(token: str) -> bytes | None:
    return bytes([int(token[3:5], 16)]) if token in BYTE_TOKENS else None


@pytest.fixture(scope="module")
def tokenizer():
    return train_filter_tokenizer(CORPUS, vocab_size=300, limit_alphabet=60)


def test_training_is_reproducible_when_characters_tie_at_the_alphabet_limit() -> None:
    """Characters seen once each compete for the last alphabet places: `tokenizers` alone keeps a random
    half of them (an unstable sort over a hash map); the chosen alphabet keeps the lowest code points."""
    seen = set("".join(CORPUS))
    tied = sorted(set("ÀÉÎÕÜßäöüçñ") - seen)
    texts = [*CORPUS, "".join(tied)]
    limit = len(seen) + len(tied) // 2
    alphabet = chosen_alphabet(texts, limit)
    assert len(alphabet) == limit and seen <= set(alphabet)
    assert [char for char in tied if char in alphabet] == tied[: len(tied) // 2]
    files = {train_filter_tokenizer(texts, vocab_size=200, limit_alphabet=limit).to_str() for _ in range(8)}
    assert len(files) == 1


@pytest.mark.parametrize("text", CORPUS[:5] + TRICKY)
def test_offsets_and_byte_fallback_reproduce_every_character(tokenizer, text: str) -> None:
    encoding = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.token_to_id(UNK) not in encoding.ids  # byte fallback: no input maps to [UNK]
    pieces: dict[tuple[int, int], bytes] = {}
    for token, (start, end) in zip(encoding.tokens, encoding.offsets, strict=True):
        raw = _bytes_of(token)
        pieces[(start, end)] = pieces.get((start, end), b"") + (raw if raw is not None else token.encode())
    for (start, end), raw in pieces.items():
        assert raw.decode("utf-8") == text[start:end]  # offsets are characters of the text as given
    covered = [i for start, end in pieces for i in range(start, end)]
    assert covered == list(range(len(text)))  # every character once, whitespace included (word boundaries)


def test_digits_are_single_tokens_whitespace_marks_words_and_specials_wrap_the_text(tokenizer) -> None:
    encoding = tokenizer.encode("card 4111 2222")
    assert encoding.tokens[0] == "[CLS]" and encoding.tokens[-1] == "[SEP]"
    assert encoding.offsets[0] == encoding.offsets[-1] == (0, 0)
    assert encoding.tokens[-6:-1] == [" ", "2", "2", "2", "2"]  # the space before a digit group is a token
    glued, spaced = tokenizer.encode("Castro73").tokens, tokenizer.encode("Castro 73").tokens
    assert glued != spaced  # a word boundary is visible to the model
    vocab = tokenizer.get_vocab()
    assert all(vocab[token] >= tokenizer.get_vocab_size() - 256 for token in BYTE_TOKENS)  # appended last
    assert tokenizer.get_vocab_size() <= 300 + 256


def test_the_plans_shape_has_about_5m_parameters() -> None:
    import torch

    from maaza.tasks.filter.spans import BIO_TAGS
    from maaza.train.filter_model import FilterArchitecture, build_filter_model, count_parameters

    model = build_filter_model(FilterArchitecture(vocab_size=4096 + 256), len(BIO_TAGS))
    assert count_parameters(model) == 5_202_198
    ids = torch.tensor([[2, 10, 11, 3, 0]])
    spam, toxicity, pii = model.eval()(ids, torch.tensor([[1, 1, 1, 1, 0]]))
    assert spam.shape == (1, 2) and toxicity.shape == (1, 3) and pii.shape == (1, 5, 17)


def test_recipe_writes_model_tokenizer_summary_and_pinned_losses(tiny_filter_run: Path) -> None:
    from maaza.train.filter_model import load_filter_model, read_filter_config

    summary = json.loads((tiny_filter_run / "training_summary.json").read_text())
    assert summary["rows"]["spam"] == {"train": 48, "validation": 8}
    assert summary["rows"]["pii"] == {"train": 150, "validation": 30}
    assert summary["steps"] == summary["best_step"] or summary["best_step"] % 10 == 0
    config = read_filter_config(tiny_filter_run / "model")
    assert config["training"]["pii_tags"][0] == "O" and len(config["training"]["pii_tags"]) == 17
    assert config["training"]["tasks"] == ["pii", "spam", "toxicity"]
    assert load_filter_model(tiny_filter_run / "model").arch.hidden == 32
    curve = read_curve(tiny_filter_run)
    assert len(curve) == summary["steps"]
    val = read_curve(tiny_filter_run, split="val")
    assert val[-1][1] < val[0][1]  # it learns: the summed validation loss falls
    assert curve[0][1] == pytest.approx(PINNED_FIRST_LOSS, rel=1e-4), curve[0][1]


PINNED_FIRST_LOSS = 2.95188  # step 1 (a PII batch, ~ln 17 at random init); torch 2.13 CPU, seed 0, saved tokenizer


def test_resume_after_an_interruption_gives_the_same_run(tiny_filter_config: Path, tiny_filter_run: Path,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from safetensors.torch import load_file

    import maaza.train.checkpoint as checkpoint

    config = load_config(FilterConfig, tiny_filter_config, [f"output_dir={tmp_path / 'run'}"])
    real_save = checkpoint.save_checkpoint

    def save_then_stop(folder, name, **kwargs):
        path = real_save(folder, name, **kwargs)
        if name == "step-00000010":
            raise KeyboardInterrupt  # killed right after the step-10 checkpoint
        return path

    monkeypatch.setattr(checkpoint, "save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        FilterRecipe(config).run()
    monkeypatch.setattr(checkpoint, "save_checkpoint", real_save)
    with pytest.raises(MaazaError, match="--resume"):
        FilterRecipe(config).run()
    FilterRecipe(config).run(resume=True)
    assert read_curve(tmp_path / "run") == read_curve(tiny_filter_run)
    resumed = load_file(str(tmp_path / "run" / "model" / "model.safetensors"))
    original = load_file(str(tiny_filter_run / "model" / "model.safetensors"))
    assert all(torch.equal(resumed[name], original[name]) for name in original)


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"recipe": "filter", "model": {"hidden": 30, "heads": 4}}))
    with pytest.raises(MaazaError, match=r"model\.hidden"):
        load_config(FilterConfig, path)
    path.write_text(yaml.safe_dump({"recipe": "filter", "spam": {"repet": 2}}))
    with pytest.raises(MaazaError, match=r"spam\.repet"):
        load_config(FilterConfig, path)


def test_the_shipped_config_is_valid() -> None:
    config = load_config(FilterConfig, Path(__file__).resolve().parents[2] / "configs/filter/nlm_5m_filter.yaml")
    assert (config.model.layers, config.model.hidden, config.model.heads) == (6, 256, 4)
    assert config.train.max_length + 2 == 256

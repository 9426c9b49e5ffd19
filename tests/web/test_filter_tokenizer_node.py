"""web/filter/tokenizer.js under node: the same ids and offsets as Python's `tokenizers` (no browser needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from web_helpers import (
    NODE,
    TRICKY,
    make_tokenizer_folder,
    node_encode,
    probe_character_tables,
    python_encodings,
)

pytestmark = pytest.mark.skipif(
    NODE is None, reason="node is not on PATH (tokenizer.js runs under node >= 18)"
)


@pytest.fixture(scope="module")
def tokenizer_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    folder = tmp_path_factory.mktemp("filter_tokenizer")
    return make_tokenizer_folder(folder), folder


def test_tricky_strings_encode_exactly_as_python(tokenizer_folder: tuple[Any, Path], tmp_path: Path) -> None:
    tokenizer, folder = tokenizer_folder
    got = node_encode(folder / "tokenizer.json", TRICKY, tmp_path)["encodings"]
    want = python_encodings(tokenizer, TRICKY)
    assert len(got) == len(TRICKY)
    kinds = {"bytes": 0, "merged": 0}
    for text, js, py in zip(TRICKY, got, want, strict=True):
        assert {"ids": js["ids"], "offsets": js["offsets"]} == py, (text, js["tokens"], py)
        assert js["tokens"] == tokenizer.encode(text).tokens, text
        kinds["bytes"] += sum(t.startswith("<0x") for t in js["tokens"])
        kinds["merged"] += sum(len(t) > 1 and not t.startswith(("<0x", "[")) for t in js["tokens"])
    assert kinds["bytes"] > 50 and kinds["merged"] > 50, kinds  # both byte fallback and merges were exercised


def test_training_texts_encode_exactly_as_python(tokenizer_folder: tuple[Any, Path], tmp_path: Path) -> None:
    from web_helpers import training_texts

    tokenizer, folder = tokenizer_folder
    texts = training_texts(count=150, seed=99)  # unseen texts built from the same pieces
    got = node_encode(folder / "tokenizer.json", texts, tmp_path)["encodings"]
    want = python_encodings(tokenizer, texts)
    for text, js, py in zip(texts, got, want, strict=True):
        assert {"ids": js["ids"], "offsets": js["offsets"]} == py, text


def test_character_tables_match_installed_tokenizers(
    tokenizer_folder: tuple[Any, Path], tmp_path: Path
) -> None:
    """tokenizer.js carries the whitespace / punctuation / numeric classes of tokenizers 0.23; a `tokenizers`
    upgrade that changes them (a newer Unicode) fails here, with the ranges to paste into tokenizer.js. Its one
    whitespace table serves both the Split regex's `\\s` and WhitespaceSplit."""
    _, folder = tokenizer_folder
    tables = node_encode(folder / "tokenizer.json", [], tmp_path)["tables"]
    probed = probe_character_tables()
    probed_as = {"whitespace_split": "whitespace"}
    for name in ("whitespace", "whitespace_split", "punctuation", "numeric"):
        table = probed_as.get(name, name)
        assert tables[table] == probed[name], (
            f"{name}: tokenizer.js table {table!r} differs; probed ranges: {probed[name]}"
        )


def test_pre_tokenizer_is_the_whitespace_merging_split(tokenizer_folder: tuple[Any, Path]) -> None:
    """The tests train with `train_filter_tokenizer`, so they exercise the Split the JS mirrors."""
    tokenizer, _ = tokenizer_folder
    spec = json.loads(tokenizer.to_str())["pre_tokenizer"]
    assert spec["pretokenizers"][0] == {
        "type": "Split",
        "pattern": {"Regex": "\\s+"},
        "behavior": "MergedWithNext",
        "invert": False,
    }
    pieces = [p for p, _ in tokenizer.pre_tokenizer.pre_tokenize_str("Hi Anna, call (020) 4385 ")]
    assert pieces == ["Hi", " Anna", ",", " call", " ", "(", "0", "2", "0", ")", " ", "4", "3", "8", "5", " "]


def test_refuses_a_split_it_cannot_reproduce(tokenizer_folder: tuple[Any, Path], tmp_path: Path) -> None:
    import subprocess

    from web_helpers import FILTER_WEB

    _, folder = tokenizer_folder
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    variants = [
        {"pattern": {"Regex": "\\s"}},
        {"pattern": {"String": " "}},
        {"behavior": "Isolated"},
        {"invert": True},
    ]
    for change in variants:
        spec = json.loads(json.dumps(data))
        spec["pre_tokenizer"]["pretokenizers"][0].update(change)
        path = tmp_path / "variant.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        script = (
            'import { readFileSync } from "node:fs";'
            f"const {{ Tokenizer }} = await import({json.dumps((FILTER_WEB / 'tokenizer.js').as_uri())});"
            f"new Tokenizer(JSON.parse(readFileSync({json.dumps(str(path))}, 'utf8')));"
        )
        result = subprocess.run(
            [str(NODE), "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60
        )
        assert result.returncode != 0 and "only Split" in result.stderr, (change, result.stderr[-500:])


def test_whitespace_runs_encode_exactly_as_python(tokenizer_folder: tuple[Any, Path], tmp_path: Path) -> None:
    """Random runs of every whitespace-like character (tokenizer whitespace, Python-only space, JS-only \\s,
    zero-width) between words, digits and punctuation, at the ends too."""
    import random

    tokenizer, folder = tokenizer_folder
    rng = random.Random(11)
    spaces = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u00a0", "\u1680", "\u2003"]
    spaces += ["\u200a", "\u200b", "\u2028", "\u202f", "\u205f", "\u3000", "\ufeff", "\u180e", "\u2060"]
    others = ["Anna", "Schmidt", "4385", "(020)", ",", ".", "😀", "é", "[CLS]", "x", "东京"]
    texts = []
    for _ in range(300):
        parts = []
        for _ in range(rng.randint(0, 12)):
            parts.append("".join(rng.choice(spaces) for _ in range(rng.randint(1, 4))))
            parts.append(rng.choice(others))
        if rng.random() < 0.5:
            parts.append("".join(rng.choice(spaces) for _ in range(rng.randint(1, 4))))
        texts.append("".join(parts))
    got = node_encode(folder / "tokenizer.json", texts, tmp_path)["encodings"]
    for text, js, py in zip(texts, got, python_encodings(tokenizer, texts), strict=True):
        assert {"ids": js["ids"], "offsets": js["offsets"]} == py, ascii(text)
    whitespace_tokens = sum(any(c.isspace() for c in t) for e in got for t in e["tokens"])
    assert whitespace_tokens > 500, whitespace_tokens  # tokens do carry whitespace


def test_decode_bio_matches_python(tmp_path: Path) -> None:
    """spans.js's decodeBio (with the text: trimmed of whitespace, whitespace-only spans dropped) equals
    `maaza.tasks.filter.spans.decode_bio` on random tags over whitespace-heavy texts; its isspace table is
    Python's over every code point."""
    import random

    from web_helpers import node_decode, python_space_table

    from maaza.tasks.filter.spans import BIO_TAGS, decode_bio

    rng = random.Random(5)
    alphabet = [" ", "  ", "\t", "\n", "\u00a0", "\u2003", "\u3000", "\ufeff", "\x1c", "\x1f", "\u200b"]
    alphabet += ["a", "Bo", "7", ",", "😀", "é"]
    cases = []
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        n = len(text)
        cuts = sorted(rng.sample(range(1, n), min(n - 1, rng.randint(0, n))) if n > 1 else [])
        bounds = [0, *cuts, n] if n else []
        offsets = [[0, 0], *([bounds[k], bounds[k + 1]] for k in range(len(bounds) - 1)), [0, 0]]
        weights = [4 if tag == "O" else 1 for tag in BIO_TAGS]
        tag_ids = [rng.choices(range(len(BIO_TAGS)), weights)[0] for _ in offsets]
        scores = [rng.random() for _ in offsets]
        cases.append(
            {"text": text, "offsets": offsets, "tags": [BIO_TAGS[t] for t in tag_ids], "scores": scores}
        )
        cases[-1]["tag_ids"] = tag_ids
    out = node_decode(cases, tmp_path)
    assert out["table"] == python_space_table(), f"spans.js isspace table; Python's: {python_space_table()}"
    trimmed = dropped = 0
    for case, js in zip(cases, out["spans"], strict=True):
        text, offsets = case["text"], [tuple(o) for o in case["offsets"]]
        py = decode_bio(offsets, case["tag_ids"], case["scores"], text)
        untrimmed = decode_bio(offsets, case["tag_ids"], case["scores"])
        assert [(s["start"], s["end"], s["label"]) for s in js] == [(s.start, s.end, s.label) for s in py], (
            ascii(text)
        )
        for span, reference in zip(js, py, strict=True):
            assert span["score"] == pytest.approx(reference.score, abs=1e-12)
        trimmed += len({(s.start, s.end) for s in py} - {(s.start, s.end) for s in untrimmed})
        dropped += len(untrimmed) - len(py)
    assert trimmed > 50 and dropped > 20, (trimmed, dropped)  # both trimming and dropping were exercised


def _fuzz_texts(count: int, seed: int) -> list[str]:
    """Random strings over special tokens, table-boundary characters and any code point of any plane."""
    import random

    from web_helpers import training_texts

    rng = random.Random(seed)
    pieces = ["[CLS]", "[SEP]", "[PAD]", "[", "]", "<0x41>", " ", "\t", "\n", "\u00a0", "\u200b", "\u0301"]
    pieces += ["  ", "\r\n", "\u2003", "\u3000", "\ufeff", "\x1c", "\x85"]
    words = [w for text in training_texts(50, seed) for w in text.split()]

    def any_char() -> str:
        while True:
            c = rng.choice((rng.randrange(0x80), rng.randrange(0x3000), rng.randrange(0x110000)))
            if not 0xD800 <= c <= 0xDFFF:
                return chr(c)

    texts = []
    for _ in range(count):
        parts = [
            rng.choice((rng.choice(pieces), rng.choice(words), any_char())) for _ in range(rng.randint(0, 30))
        ]
        texts.append("".join(parts))
    return texts


def test_random_strings_encode_exactly_as_python(tokenizer_folder: tuple[Any, Path], tmp_path: Path) -> None:
    tokenizer, folder = tokenizer_folder
    texts = _fuzz_texts(400, seed=3)
    got = node_encode(folder / "tokenizer.json", texts, tmp_path)["encodings"]
    for text, js, py in zip(texts, got, python_encodings(tokenizer, texts), strict=True):
        assert {"ids": js["ids"], "offsets": js["offsets"]} == py, ascii(text)


def test_constrained_decoding_matches_python(tmp_path: Path) -> None:
    """spans.js's gluedBoundaries and constrainedTags equal `glued_boundaries` / `constrained_tags` on random
    texts (letters, digits, punctuation, whitespace, characters split into byte tokens) and random peaked
    log-probabilities; its isWordChar is `is_word_character` on every code point."""
    import math
    import random

    from web_helpers import node_decode

    from maaza.tasks.filter.spans import BIO_TAGS, constrained_tags, glued_boundaries, is_word_character

    rng = random.Random(11)
    alphabet = ["a", "Bo", "7", "42", "-", "@", ".", " ", "\n", "ą", "😀", "é", "ß", "٣", "Ⅻ", "_"]
    cases = []
    for _ in range(300):
        pieces = [rng.choice(alphabet) for _ in range(rng.randint(0, 14))]
        text = "".join(pieces)
        offsets, position = [[0, 0]], 0
        for piece in pieces:
            for char in piece:
                if ord(char) > 0x7F and rng.random() < 0.5:  # byte fallback: pieces sharing one character
                    offsets += [[position, position + 1]] * len(char.encode("utf-8"))
                else:
                    offsets.append([position, position + 1])
                position += 1
        offsets.append([0, 0])
        kept = [o for o in offsets if o[1] > o[0]]
        log_probs = []
        for _ in kept:
            weights = [rng.random() ** 4 for _ in BIO_TAGS]
            weights[rng.randrange(len(BIO_TAGS))] += rng.random() * 5
            total = sum(weights)
            log_probs.append([math.log(w / total) for w in weights])
        cases.append({"text": text, "offsets": kept, "log_probs": log_probs, "tag_names": list(BIO_TAGS)})
    out = node_decode(cases, tmp_path)
    changed = 0
    for case, glued, path in zip(cases, out["glued"], out["paths"], strict=True):
        offsets = [tuple(o) for o in case["offsets"]]
        want_glued = glued_boundaries(offsets, case["text"])
        assert glued == want_glued, ascii(case["text"])
        want = constrained_tags(case["log_probs"], want_glued)
        assert path == want, ascii(case["text"])
        changed += want != [max(range(len(BIO_TAGS)), key=row.__getitem__) for row in case["log_probs"]]
    assert changed > 100  # the constraints changed the argmax path in many cases
    js_words = {cp for start, end in out["words"] for cp in range(start, end + 1)}
    differ = {
        cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and is_word_character(chr(cp)) != (cp in js_words)
    }
    assert not differ, sorted(differ)[:20]

"""The web demo (`web/filter/`) in headless Chromium: its tokenizer and its INT8/fp32 filter give what Python
gives (`tokenizers`, `maaza.filter.Filter`), and the demo page highlights the spans.

The page runs from a loopback `http.server` of the repository root (wasm cannot load from file://), the
fixtures mounted beside it under /__fixture__/. test.html POSTs its JSON back to that server in real time;
the demo page is read with `--dump-dom` (virtual time, enough for a DOM check)."""

from __future__ import annotations

import html
import json
import re
import statistics
from pathlib import Path
from typing import Any

import pytest
from web_helpers import (
    CHROMIUM,
    ORT_DIST,
    TRICKY,
    Server,
    chromium_dump_dom,
    chromium_report,
    make_filter_folder,
    python_encodings,
    training_texts,
)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not on PATH (Debian: apt-get install -y chromium)"
)
needs_ort = pytest.mark.skipif(
    not (ORT_DIST / "ort.wasm.min.mjs").is_file(),
    reason="web/node_modules/onnxruntime-web is missing (cd web && npm ci)",
)

PII_TEXTS = [
    "Hi, I'm Anna Schmidt. Call me on +44 7700 900123 or mail anna.schmidt@example.com",
    "Transfer to IBAN DE89 3704 0044 0532 0130 00, card 4111 1111 1111 1111, SSN 123-45-6789.",
    "Server 192.168.0.1 at 221B Baker Street, London; ask John Smith. " * 3,
    "FREE prize!!! Claim now at www.example.com/win or text WIN to 80082 😀😀",
    "привет, меня зовут Иван Петров, мой телефон +7 912 345-67-89",
    "  Dear\u00a0Anna  Schmidt,\n\n\tcall  +44\u20037700 900123\t or\u3000mail anna@example.com \ufeff\n",
    "Name:\tJohn Smith\nIBAN:\tDE89 3704 0044 0532 0130 00\nIP:\t10.0.0.1\n\n",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("web_site")
    with Server({"__fixture__": root}) as server:
        yield server, root


@pytest.fixture(scope="module")
def filter_folder(site: tuple[Server, Path]) -> Path:
    pytest.importorskip("onnxruntime")
    try:
        import maaza.export.onnx_filter
        import maaza.filter  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"filter runtime missing ({exc})")
    _, root = site
    return make_filter_folder(root / "filter")


def _write_texts(root: Path, name: str, texts: list[str]) -> str:
    (root / name).write_text(json.dumps(texts), encoding="utf-8")
    return f"/__fixture__/{name}"


def test_tokenizer_in_chromium_matches_python(site: tuple[Server, Path], tmp_path: Path) -> None:
    from web_helpers import make_tokenizer_folder

    server, root = site
    tokenizer = make_tokenizer_folder(root / "tokenizer")
    texts = TRICKY + training_texts(count=100, seed=5)
    report = chromium_report(
        server,
        "web/filter/test.html",
        {
            "texts": _write_texts(root, "tokenizer_texts.json", texts),
            "tokenizer": "/__fixture__/tokenizer/tokenizer.json",
        },
        tmp_path / "profile",
    )
    for text, js, py in zip(texts, report["encodings"], python_encodings(tokenizer, texts), strict=True):
        assert {"ids": js["ids"], "offsets": js["offsets"]} == py, ascii(text)


def _python_results(folder: Path, texts: list[str], *, int8: bool) -> list[Any]:
    from maaza.filter import Filter

    model = Filter.load(folder, int8=int8, threads=1)
    return [model.check(text) for text in texts]  # one text per batch, as the page runs them


@needs_ort
@pytest.mark.parametrize("int8", [True, False], ids=["int8", "fp32"])
def test_filter_in_chromium_matches_python(
    site: tuple[Server, Path], filter_folder: Path, tmp_path: Path, int8: bool
) -> None:
    server, root = site
    texts = PII_TEXTS + TRICKY
    params = {"texts": _write_texts(root, "filter_texts.json", texts), "model": "/__fixture__/filter/export/"}
    if not int8:
        params["fp32"] = "1"
    report = chromium_report(server, "web/filter/test.html", params, tmp_path / "profile")
    assert report["ort_version"] == json.loads((ORT_DIST.parent / "package.json").read_text())["version"]
    assert report["num_threads"] == 1 and report["cross_origin_isolated"] is False
    expected = _python_results(filter_folder, texts, int8=int8)
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(filter_folder / "tokenizer.json"))
    tolerance = 1e-3
    spans_seen = windows_seen = trimmed_seen = 0
    largest = 0.0  # the largest score difference, printed
    for text, js, py in zip(texts, report["results"], expected, strict=True):
        where = ascii(text[:60])
        assert js["windows"] == py.windows, where
        assert js["spam_score"] == pytest.approx(py.spam_score, abs=tolerance), where
        assert js["toxicity_label"] == py.toxicity_label, where
        assert js["toxicity_score"] == pytest.approx(py.toxicity_score, abs=tolerance), where
        got = [(s["start"], s["end"], s["label"]) for s in js["pii"]]
        want = [(s.start, s.end, s.label) for s in py.pii]
        assert got == want, where
        for span, reference in zip(js["pii"], py.pii, strict=True):
            assert span["score"] == pytest.approx(reference.score, abs=tolerance), where
            largest = max(largest, abs(span["score"] - reference.score))
        largest = max(
            largest, abs(js["spam_score"] - py.spam_score), abs(js["toxicity_score"] - py.toxicity_score)
        )
        spans_seen += len(want)
        windows_seen += py.windows > 1
        # a span that does not start where a token does began with a token carrying leading whitespace
        token_starts = {start for start, end in tokenizer.encode(text).offsets if end > start}
        trimmed_seen += sum(s.start not in token_starts for s in py.pii)
    # decoding, windows and the trimming of a first token's leading whitespace were all exercised
    assert spans_seen > 20 and windows_seen > 5 and trimmed_seen > 5, (spans_seen, windows_seen, trimmed_seen)
    times = [r["ms"] for r in report["results"]]
    inference = [r["timings"]["inference_ms"] for r in report["results"]]
    tokens = [r["tokens"] for r in report["results"]]
    print(
        f"\nbrowser filter ({'int8' if int8 else 'fp32'}, onnxruntime-web {report['ort_version']}, wasm, 1 thread): "
        f"load {report['load_ms']:.0f} ms; per text median {statistics.median(times):.2f} ms "
        f"(inference {statistics.median(inference):.2f} ms), max {max(times):.2f} ms over {len(texts)} texts "
        f"of {min(tokens)}-{max(tokens)} tokens; {spans_seen} spans ({trimmed_seen} trimmed of a leading space), all "
        f"equal; largest score difference "
        f"vs Python {largest:.2g}"
    )
    for text, r in list(zip(texts, report["results"], strict=True))[: len(PII_TEXTS)]:
        print(f"  {r['ms']:7.2f} ms  {r['tokens']:4d} tokens  {r['windows']} window(s)  {text[:50]!r}")


@needs_ort
def test_demo_page_highlights_the_spans(
    site: tuple[Server, Path], filter_folder: Path, tmp_path: Path
) -> None:
    """index.html?model=... scores its example text on load and marks each PII span with its label."""
    server, _ = site
    dom = chromium_dump_dom(
        f"{server.url}/web/filter/index.html?model=/__fixture__/filter/export/", tmp_path / "profile"
    )
    assert 'class="error"' not in dom, re.search(r'<div id="status"[^>]*>(.*?)</div>', dom, re.S)
    textarea = re.search(r'<textarea id="text"[^>]*>(.*?)</textarea>', dom, re.S)
    assert textarea is not None
    text = html.unescape(textarea.group(1))
    (expected,) = _python_results(filter_folder, [text], int8=True)
    box = re.search(r'<div id="highlighted"[^>]*>(.*?)</div>', dom, re.S)
    assert box is not None, dom[-2000:]
    marks = re.findall(r'<mark data-label="([A-Z_]+)"[^>]*>(.*?)</mark>', box.group(1), re.S)
    assert [(label, html.unescape(value)) for label, value in marks] == [
        (s.label, text[s.start : s.end]) for s in expected.pii
    ]
    assert (
        html.unescape(re.sub(r"<[^>]+>", "", box.group(1))) == text
    )  # nothing lost or added around the marks
    spam = re.search(r'<div class="value" id="spam">([\d.]+)%</div>', dom)
    assert spam is not None and float(spam.group(1)) == pytest.approx(100 * expected.spam_score, abs=0.1)
    assert re.search(r'<div class="value" id="ms">[\d.]+ ms</div>', dom)

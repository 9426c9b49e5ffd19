"""Shared pieces of the web demo tests (`web/filter`): a small filter tokenizer trained on varied texts, the
tricky strings its JS port must encode exactly as Python's `tokenizers`, and runners for node and Chromium."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: chromium_helpers (also for benchmarks)
from chromium_helpers import CHROMIUM, chromium_command

__all__ = [
    "CHROMIUM",
    "chromium_command",
]  # re-exported: the web tests and benchmarks/filter_browser.py use both

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
FILTER_WEB = WEB / "filter"
ORT_DIST = WEB / "node_modules" / "onnxruntime-web" / "dist"
NODE = shutil.which("node")
REPORT_PATH = "/__report__"

_WORDS = (  # noqa: SIM905  (a word list is easier to read as one string)
    "the quick brown fox jumps over lazy dog hello world call me at free prize winner claim now "
    "meeting tomorrow office address street avenue road card number account bank transfer please "
    "send reply stop offer limited time click link email phone contact john smith maria garcia "
    "привет мир как дела спасибо москва улица 東京 日本語 中文 你好 世界 こんにちは 한국어 안녕하세요 "
    "café naïve résumé über straße señor ñandú façade Ελληνικά שלום مرحبا हिन्दी"
).split()
# fmt: off
_PIECES = (
    "😀", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "🎉", "!", "?", "...", ",", ";", ":", "'", '"', "(", ")", "[", "]", "{",
    "}", "-", "_", "@", "#", "$", "%", "&", "*", "+", "=", "/", "\\", "|", "~", "^", "`", "<", ">", "«", "»",
    "…", "—", "e\u0301", "a\u0300", "<0x41>", "\t", "\n", "  ", "2024", "555-0199", "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00", "10.0.0.1", "123-45-6789", "john.doe@example.com", "١٢٣", "½", "①",
    "\u00a0", "\u2003", "\u3000", "\ufeff", " \n", "\r\n",
)
# fmt: on


def training_texts(count: int = 400, seed: int = 7) -> list[str]:
    """`count` varied texts: words in several scripts mixed with emoji, punctuation, digits, whitespace."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(3, 25)):
            parts.append(rng.choice(_WORDS) if rng.random() < 0.7 else rng.choice(_PIECES))
            parts.append(rng.choice((" ", " ", " ", "", "\n", "\t", "  ", "\n\n")))
        texts.append("".join(parts))
    return texts


TRICKY = [
    "",
    " ",
    "\t\n \r\n",
    "hello",
    "Hello, world!",
    "don't stop: it's fine; really?!",
    "e-mail: john.doe@example.com, or JOHN_DOE+spam@mail.example.org",
    "call +1 (555) 123-4567 or 555.123.4567 now",
    "card 4111 1111 1111 1111 exp 12/29 cvv 123",
    "IBAN DE89 3704 0044 0532 0130 00",
    "server 192.168.0.1 and ::1 and 2001:db8::ff00:42:8329",
    "SSN 123-45-6789",
    "Привет, мир! Как дела, Иван Петров?",
    "東京タワーは333メートルです。ありがとう！",
    "你好，世界。电话：13800138000",
    "😀😃 emoji 👍🏽 family 👨\u200d👩\u200d👧 flag 🇫🇷 done🎉",
    "abc😀def😀😀ghi",
    "café vs cafe\u0301 vs CAFÉ",
    "a\u0300\u0301\u0302 stacked marks",
    "<0x41> is a literal, <0xZZ> too, <0x> and <>",
    "[CLS] in the text [SEP] and [PAD][MASK][UNK]",
    "[cls] [MASK [[SEP]] [CLS",
    "no\u00a0break\u00a0space",
    "zero\u200bwidth\u200bspace",
    "ideographic\u3000space",
    "\u001c\u001d\u001e\u001f information separators",
    "line\u2028separator\u2029para",
    "next\u0085line",
    "\ufeffBOM at start",
    "null\x00char and \x07 bell",
    "١٢٣ Arabic digits ۴۵۶ and ߁߂",
    "½ ² ³ ① ⑳ Ⅻ 〇 superscripts",
    "𝟘𝟙𝟚 math digits and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "\U00010d40\U00010d41 Garay digits (Unicode 16)",
    "$100+50=150 ^_^ `code` |pipe| ~tilde <tag>",
    "«quotes» „German“ ‘single’ “double”",
    "ellipsis… em—dash en–dash ‐hyphen",
    "⸻ three-em dash, ⹃ ⹒ newer punctuation, \u166d \U000111c9",
    "   leading and trailing   ",
    "repeated !!!???... and ---",
    "a" * 40,
    "supercalifragilisticexpialidocious" * 9,
    "12345678901234567890",
    "ÅÄÖ åäö ÆØÅ æøå",
    "ǅemal titlecase and ß ẞ",
    "Ελληνικά γράμματα",
    "עברית: שלום, עולם",
    "مرحبا بالعالم، 2024",
    "हिन्दी पाठ और ०१२३",
    "한국어 텍스트입니다",
    "mixed日本語English123русский",
    "https://www.example.com/path?query=1&b=2#frag",
    "C:\\Users\\name\\file.txt",
    "ﬁ ligature and ﬀ",
    "👩🏽\u200d💻 woman technologist",
    "ＦＵＬＬＷＩＤＴＨ　１２３！",
    "tabs\tand\nnewlines\r\nmixed\x0bvt\x0cff",
    "Maria Garcia lives at 221B Baker Street, London NW1 6XE.",
    "\U0001f600" * 10,
    # whitespace: a run is kept as the prefix of the next piece (Split(r"\s+", merged_with_next))
    "Hi Anna, call (020) 4385",
    "  leading",
    "trailing ",
    "trailing run \t\n ",
    "\n\nleading newlines and trailing newlines\n\n",
    "two  spaces   three    four",
    "tab\tseparated\t\tvalues\t",
    "lines\nand\n\n\nparagraphs\r\n\r\nend",
    " \t \n mixed \u00a0\u2003\u3000 runs \ufeff ",
    "nbsp\u00a0\u00a0Anna\u00a0Schmidt\u00a0",
    "em\u2003space\u2003\u2003and ideographic\u3000\u3000run\u3000",
    "\ufeff\ufeffBOMs \ufeff inside\ufeffwords \ufeff",
    "\u00a0leading nbsp and trailing em\u2003",
    "\u3000",
    "\u2003\u2003",
    "\ufeff",
    "space before punctuation , ; . ! and ( 1 2 3 ) digits",
    "[CLS]  [SEP]\t[PAD] spaces around specials [MASK] ",
    "\u001c\u001d\u001e\u001f between \u001cwords\u001f",
    "\x0b\x0c vertical tab and form feed \x0b",
    "\u1680ogham\u2028\u2029\u202f\u205f\u0085\u180e\u200b\u2060 spaces",
    "emoji after spaces   😀  👍🏽\t🇫🇷\n",
]


def make_tokenizer_folder(folder: Path, *, vocab_size: int = 900, limit_alphabet: int = 150) -> Any:
    """Train the filter tokenizer on `training_texts()` and save it as `folder/tokenizer.json`."""
    from maaza.train.filter_tokenizer import save_filter_tokenizer, train_filter_tokenizer

    tokenizer = train_filter_tokenizer(
        training_texts(), vocab_size=vocab_size, min_frequency=2, limit_alphabet=limit_alphabet
    )
    save_filter_tokenizer(tokenizer, folder)
    return tokenizer


def python_encodings(tokenizer: Any, texts: list[str]) -> list[dict[str, Any]]:
    out = []
    for text in texts:
        encoding = tokenizer.encode(text)
        out.append({"ids": encoding.ids, "offsets": [list(o) for o in encoding.offsets]})
    return out


_NODE_SCRIPT = """
import { readFileSync } from "node:fs";
const [tokenizerUrl, tokenizerJson, textsJson] = process.argv.slice(1);
const { Tokenizer, CHARACTER_TABLES } = await import(tokenizerUrl);
const tokenizer = new Tokenizer(JSON.parse(readFileSync(tokenizerJson, "utf8")));
const texts = JSON.parse(readFileSync(textsJson, "utf8"));
const encodings = texts.map((text) => {
  const e = tokenizer.encode(text);
  return { ids: e.ids, offsets: e.offsets, tokens: e.tokens };
});
process.stdout.write(JSON.stringify({ encodings, tables: CHARACTER_TABLES }));
"""


def node_encode(tokenizer_json: Path, texts: list[str], work: Path) -> dict[str, Any]:
    """Run web/filter/tokenizer.js under node on `texts`: {encodings: [{ids, offsets, tokens}], tables}."""
    assert NODE is not None
    texts_file = work / "texts.json"
    texts_file.write_text(json.dumps(texts), encoding="utf-8")
    result = subprocess.run(
        [
            NODE,
            "--input-type=module",
            "-e",
            _NODE_SCRIPT,
            (FILTER_WEB / "tokenizer.js").as_uri(),
            str(tokenizer_json),
            str(texts_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def _ranges(points: set[int]) -> list[int]:
    flat: list[int] = []
    for point in sorted(points):
        if flat and flat[-1] == point - 1:
            flat[-1] = point
        else:
            flat += [point, point]
    return flat


def probe_character_tables() -> dict[str, list[int]]:
    """The whitespace / punctuation / numeric classes of the installed `tokenizers`, probed over every code
    point through its own pre-tokenizers, as flat [start, end, ...] ranges (tokenizer.js's tables).

    Whitespace is probed both as the filter tokenizer's `Split(Regex("\\s+"), merged_with_next)` sees it and
    as the older `WhitespaceSplit` does ("whitespace_split"): tokenizer.js uses one table for both."""
    from tokenizers import Regex, pre_tokenizers

    probes = {
        "whitespace": pre_tokenizers.Split(Regex(r"\s+"), behavior="merged_with_next"),
        "whitespace_split": pre_tokenizers.WhitespaceSplit(),
        "punctuation": pre_tokenizers.Punctuation(behavior="isolated"),
        "numeric": pre_tokenizers.Digits(individual_digits=True),
    }
    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and c != ord("a")]
    found: dict[str, set[int]] = {name: set() for name in probes}
    for start in range(0, len(points), 65536):
        chunk = points[start : start + 65536]
        text = "".join("a" + chr(c) for c in chunk)  # char k sits at index 2k+1
        for name, probe in probes.items():
            pieces = probe.pre_tokenize_str(text)
            if name == "whitespace":  # a matched character starts a piece (it joins the "a" after it)
                found[name].update(ord(p[0]) for p, _ in pieces if p[0] != "a")
            elif name == "whitespace_split":  # removed characters
                covered = bytearray(len(text))
                for _, (begin, end) in pieces:
                    covered[begin:end] = b"\x01" * (end - begin)
                found[name].update(c for k, c in enumerate(chunk) if not covered[2 * k + 1])
            else:  # isolated characters
                found[name].update(ord(p) for p, (b, e) in pieces if e - b == 1 and p != "a")
    return {name: _ranges(values) for name, values in found.items()}


def python_space_table() -> list[int]:
    """Python's `str.isspace()` over every code point, as flat ranges (spans.js's table)."""
    return _ranges({c for c in range(0x110000) if chr(c).isspace()})


_SPANS_SCRIPT = """
import { readFileSync } from "node:fs";
const [spansUrl, casesJson] = process.argv.slice(1);
const { codePoints } = await import(new URL("tokenizer.js", spansUrl).href);
const { constrainedTags, decodeBio, gluedBoundaries, isWordChar, SPACE_TABLE } = await import(spansUrl);
const cases = JSON.parse(readFileSync(casesJson, "utf8"));
const spans = cases.map((c) => (c.tags ? decodeBio(c.offsets, c.tags, c.scores, c.text) : null));
const glued = cases.map((c) => (c.log_probs ? gluedBoundaries(c.offsets, codePoints(c.text)) : null));
const paths = cases.map((c, i) => (c.log_probs ? constrainedTags(c.log_probs, glued[i], c.tag_names) : null));
const words = []; // [start, end] inclusive ranges of isWordChar over every code point but surrogates
for (let cp = 0; cp < 0x110000; cp++) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue;
  if (!isWordChar(cp)) continue;
  if (words.length && words[words.length - 1][1] === cp - 1) words[words.length - 1][1] = cp;
  else words.push([cp, cp]);
}
process.stdout.write(JSON.stringify({ spans, table: SPACE_TABLE, glued, paths, words }));
"""


def node_decode(cases: list[dict[str, Any]], work: Path) -> dict[str, Any]:
    """Run web/filter/spans.js under node on `cases`: decodeBio where a case has {offsets, tags, scores, text},
    gluedBoundaries + constrainedTags where it has {offsets, text, log_probs, tag_names}: {spans, glued,
    paths (tag indices), table: its isspace table, words: its isalnum code point ranges}."""
    assert NODE is not None
    cases_file = work / "cases.json"
    cases_file.write_text(json.dumps(cases), encoding="utf-8")
    result = subprocess.run(
        [
            NODE,
            "--input-type=module",
            "-e",
            _SPANS_SCRIPT,
            (FILTER_WEB / "spans.js").as_uri(),
            str(cases_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def make_filter_folder(root: Path, *, max_length: int = 32, stride: int = 8, seed: int = 0) -> Path:
    """A tiny random NLM filter exported by `export_filter_onnx` into `root/export` (fp32 + INT8).

    2 layers x 32 wide; the heads get large random weights so every head's argmax is decisive (BERT's
    0.02-std init leaves the 17 PII tags within ~1e-3 of each other, where INT8 noise flips the argmax) and
    the random tags give many spans. `max_length` 32 with `stride` 8 makes any text over 30 tokens several
    windows."""
    import torch

    from maaza.export.onnx_filter import export_filter_onnx
    from maaza.tasks.filter import SPAM_LABELS, TOXICITY_LABELS
    from maaza.tasks.filter.spans import BIO_TAGS
    from maaza.train.filter_model import FilterArchitecture, build_filter_model, save_filter_model

    run = root / "run"
    tokenizer = make_tokenizer_folder(run)
    torch.manual_seed(seed)
    arch = FilterArchitecture(
        vocab_size=tokenizer.get_vocab_size(), layers=2, hidden=32, heads=2, intermediate=64, context=64
    )
    model = build_filter_model(arch, len(BIO_TAGS))
    with torch.no_grad():
        for head in (model.spam, model.toxicity, model.pii):
            head.weight.normal_(0.0, 0.5)
            head.bias.normal_(0.0, 1.0)
    training = {
        "name": "nlm-filter-test",
        "spam_labels": list(SPAM_LABELS),
        "toxicity_labels": list(TOXICITY_LABELS),
        "pii_tags": list(BIO_TAGS),
        "tasks": ["spam", "toxicity", "pii"],
    }
    save_filter_model(model.eval(), run / "model", extra={"training": training})
    export_filter_onnx(run, root / "export", max_length=max_length, stride=stride)
    return root / "export"


class Server:
    """A loopback HTTP server (a thread) for the repository root, plus `mounts` {url prefix: folder} for
    fixtures outside it (wasm cannot load from file:// pages, and onnxruntime-web fetches its .wasm).
    A POST to /__report__ (test.html's `report`) is kept in `reports`."""

    def __init__(self, mounts: dict[str, Path] | None = None) -> None:
        import functools
        import http.server
        import posixpath
        import queue
        import threading
        import urllib.parse

        reports: queue.Queue[bytes] = queue.Queue()
        self.reports = reports
        mounted = {prefix.strip("/"): Path(folder) for prefix, folder in (mounts or {}).items()}

        class Handler(http.server.SimpleHTTPRequestHandler):
            extensions_map = {  # noqa: RUF012  (the stdlib's attribute)
                **http.server.SimpleHTTPRequestHandler.extensions_map,
                ".mjs": "text/javascript",
                ".js": "text/javascript",
                ".wasm": "application/wasm",
                ".json": "application/json",
                ".onnx": "application/octet-stream",
            }

            def translate_path(self, path: str) -> str:
                clean = posixpath.normpath(urllib.parse.unquote(path.split("?", 1)[0].split("#", 1)[0]))
                head, _, rest = clean.lstrip("/").partition("/")
                if head in mounted:
                    target = (mounted[head] / rest).resolve()
                    if target == mounted[head].resolve() or mounted[head].resolve() in target.parents:
                        return str(target)
                    return str(mounted[head] / "__outside__")
                return super().translate_path(path)

            def do_POST(self) -> None:
                if self.path.split("?", 1)[0] != REPORT_PATH:
                    self.send_error(404)
                    return
                reports.put(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.send_response(204)
                self.end_headers()

            def end_headers(self) -> None:
                self.send_header("Cache-Control", "no-store")
                super().end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                self.server.requests.append(format % args)  # type: ignore[attr-defined]

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(REPO))
        )
        self.httpd.requests = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests  # type: ignore[attr-defined]

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def chromium_report(
    server: Server, page: str, params: dict[str, str], profile: Path, *, timeout: float = 180
) -> Any:
    """Open `page` (test.html) with `params` in headless Chromium, in real time, and return the JSON it POSTs
    to the server's /__report__ (test.html's `report`); then stop that Chromium.

    Not `--dump-dom`: that needs `--virtual-time-budget` to wait for the async model run, and virtual time
    freezes `performance.now()`, so the page could not time its inference."""
    import os
    import queue
    import signal
    import time
    import urllib.parse

    url = f"{server.url}/{page.lstrip('/')}?{urllib.parse.urlencode({**params, 'report': REPORT_PATH})}"
    while not server.reports.empty():  # a late report of an earlier page that timed out
        server.reports.get_nowait()
    log = profile.parent / f"{profile.name}.log"
    profile.mkdir(parents=True, exist_ok=True)
    with log.open("w") as stderr:
        process = subprocess.Popen(
            chromium_command(profile, url), stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    body = server.reports.get(timeout=0.5)
                    break
                except queue.Empty:
                    if process.poll() is not None:
                        raise AssertionError(
                            f"chromium exited ({process.returncode}) before the page reported: "
                            f"{log.read_text()[-3000:]}"
                        ) from None
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"the page did not report within {timeout:.0f} s; chromium: "
                            f"{log.read_text()[-3000:]}"
                        ) from None
        finally:
            if process.poll() is None:  # our own Chromium, in its own process group
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=15)
    report = json.loads(body)
    if "error" in report:
        raise AssertionError(f"the page failed: {report['error']}")
    return report


def chromium_dump_dom(url: str, profile: Path, *, budget_ms: int = 60_000, timeout: float = 120) -> str:
    """The DOM of `url` after headless Chromium ran it (`--dump-dom`); `--virtual-time-budget` keeps the page
    alive until its network fetches and timers settle (up to `budget_ms` of virtual time)."""
    command = chromium_command(profile, f"--virtual-time-budget={budget_ms}", "--dump-dom", url)
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if not result.stdout:
        raise AssertionError(f"chromium printed no DOM (exit {result.returncode}): {result.stderr[-3000:]}")
    return result.stdout

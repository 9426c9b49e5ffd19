"""NLM-5M-Filter in the browser: the web demo (`web/filter/`, onnxruntime-web wasm, 1 thread) in headless
Chromium, timed per text and compared with Python's `maaza.filter.Filter`.

    python benchmarks/filter_browser.py                          # the shipped folder, 200 SMS spam test texts
    python benchmarks/filter_browser.py --model runs/filter/onnx --texts 500
    python benchmarks/filter_browser.py --model /tmp/f --out /tmp/filter_browser   # a dev run

Texts: the first `--texts` texts of the SMS spam test set (`maaza.paths.data_root()/sms_spam/test.jsonl`), or
of benchmarks/data/pii_handwritten.jsonl when there is no data root. The page (web/filter/test.html) loads the
filter, checks the first text once (warm-up), then checks every text one at a time; per text it reports the
wall time of `Filter.check` and the time of `session.run` alone (inference). INT8 (model.int8.onnx) always;
fp32 (model.onnx) too when the folder has it (the shipped folder is INT8 only) unless `--int8-only`.

Recorded per precision: the model load time in the page (fetch + session creation), per-text latency p50 /
p95 / mean (ms; check() and inference only), texts/s (texts / the sum of check() times), the tokens and
windows of the texts, and the agreement with `Filter.load(DIR, int8=..., threads=1).check` on the same
texts: the fraction of texts whose PII spans (start, end, label) are identical, the fraction with the same
toxicity label and window count, the largest spam / toxicity score differences. Also the Chromium version
(`chromium --version`) and the onnxruntime-web version (web/package.json, the installed one, and the one
the page reports).

The loopback server and the Chromium runner are the web tests' (`tests/web/web_helpers.py`, imported from
there so there is one definition of each; a benchmark importing a test helper is accepted here). Needs
/usr/bin/chromium (Debian: apt-get install -y chromium) and web/node_modules/onnxruntime-web (cd web && npm
ci). Writes `--out`.json|md (default benchmarks/results/filter_browser).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ARTIFACTS_DIR, RESULTS_DIR, num, pct, provenance_header
from maaza.envinfo import environment
from maaza.errors import MaazaError
from maaza.io import atomic_write_json, atomic_write_text, file_sha256, iter_jsonl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "web"))
import web_helpers  # noqa: E402  (the web tests' server and Chromium runner: one definition)

HANDWRITTEN = REPO / "benchmarks" / "data" / "pii_handwritten.jsonl"
PAGE = "web/filter/test.html"
INT8_FILE, FP32_FILE = "model.int8.onnx", "model.onnx"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def load_texts(count: int) -> tuple[list[str], Path]:
    """The first `count` texts of the SMS spam test set, else of the hand-written PII set."""
    from maaza.paths import data_root

    root = data_root()
    path = root / "sms_spam" / "test.jsonl" if root is not None else None
    if path is None or not path.is_file():
        log(f"no SMS spam test set ({path or 'no data root'}); using {shown(HANDWRITTEN)}")
        path = HANDWRITTEN
    texts = []
    for _, row in iter_jsonl(path):
        texts.append(row["text"])
        if len(texts) == count:
            break
    return texts, path


def chromium_version() -> str:
    assert web_helpers.CHROMIUM is not None
    result = subprocess.run(
        [web_helpers.CHROMIUM, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    return result.stdout.strip() or f"unknown (exit {result.returncode})"


def ort_versions() -> dict[str, str | None]:
    declared = json.loads((web_helpers.WEB / "package.json").read_text())["dependencies"].get(
        "onnxruntime-web"
    )
    installed_file = web_helpers.ORT_DIST.parent / "package.json"
    installed = json.loads(installed_file.read_text()).get("version") if installed_file.is_file() else None
    return {"package_json": declared, "installed": installed}


def stats_ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 3),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "mean": round(statistics.fmean(ordered), 3),
        "max": round(ordered[-1], 3),
    }


def agreement(texts: list[str], browser: list[dict[str, Any]], folder: Path, *, int8: bool) -> dict[str, Any]:
    """The page's results against `Filter.check` in Python (one text per call, as the page runs them)."""
    from maaza.filter import Filter

    model = Filter.load(folder, int8=int8, threads=1)
    spans_same = labels_same = windows_same = spans_total = 0
    spam_diff = toxicity_diff = span_score_diff = 0.0
    python_ms = []
    for text, js in zip(texts, browser, strict=True):
        start = time.perf_counter()
        py = model.check(text)
        python_ms.append(1000 * (time.perf_counter() - start))
        want = [(s.start, s.end, s.label) for s in py.pii]
        got = [(s["start"], s["end"], s["label"]) for s in js["pii"]]
        spans_total += len(want)
        if got == want:
            spans_same += 1
            for span, reference in zip(js["pii"], py.pii, strict=True):
                span_score_diff = max(span_score_diff, abs(span["score"] - reference.score))
        labels_same += js["toxicity_label"] == py.toxicity_label
        windows_same += js["windows"] == py.windows
        spam_diff = max(spam_diff, abs(js["spam_score"] - py.spam_score))
        toxicity_diff = max(toxicity_diff, abs(js["toxicity_score"] - py.toxicity_score))
    n = max(1, len(texts))
    return {
        "spans_identical": round(spans_same / n, 4),
        "python_spans": spans_total,
        "toxicity_label_same": round(labels_same / n, 4),
        "windows_same": round(windows_same / n, 4),
        "max_spam_score_diff": float(f"{spam_diff:.3g}"),
        "max_toxicity_score_diff": float(f"{toxicity_diff:.3g}"),
        "max_span_score_diff": float(f"{span_score_diff:.3g}"),  # over the texts whose spans are identical
        "python_ms_per_text_1_thread": stats_ms(python_ms),
    }


def run_precision(
    server: Any, texts_url: str, folder: Path, texts: list[str], work: Path, *, int8: bool, timeout: float
) -> dict[str, Any]:
    name = "int8" if int8 else "fp32"
    params = {"texts": texts_url, "model": "/__model__/"}
    if not int8:
        params["fp32"] = "1"
    started = time.perf_counter()
    report = web_helpers.chromium_report(server, PAGE, params, work / f"profile_{name}", timeout=timeout)
    page_seconds = time.perf_counter() - started
    results = report["results"]
    check_ms = [r["ms"] for r in results]
    inference = [r["timings"]["inference_ms"] for r in results if "inference_ms" in r.get("timings", {})]
    tokens = [r["tokens"] for r in results]
    out: dict[str, Any] = {
        "model_file": INT8_FILE if int8 else FP32_FILE,
        "model_bytes": (folder / (INT8_FILE if int8 else FP32_FILE)).stat().st_size,
        "texts": len(results),
        "load_ms": round(report["load_ms"], 1),
        "check_ms": stats_ms(check_ms),
        "inference_ms": stats_ms(inference) if len(inference) == len(results) else None,
        "texts_per_s": round(len(results) / (sum(check_ms) / 1000), 1),
        "tokens": {"mean": round(statistics.fmean(tokens), 1), "max": max(tokens)},  # all windows of a text
        "multi_window_texts": sum(r["windows"] > 1 for r in results),
        "ort_version_reported": report.get("ort_version"),
        "num_threads": report.get("num_threads"),
        "cross_origin_isolated": report.get("cross_origin_isolated"),
        "user_agent": report.get("user_agent"),
        "page_seconds": round(page_seconds, 1),  # Chromium start to report, warm-up included
    }
    log(
        f"{name}: load {out['load_ms']:.0f} ms; check() p50 {out['check_ms']['p50']:.2f} / p95 "
        f"{out['check_ms']['p95']:.2f} / mean {out['check_ms']['mean']:.2f} ms"
        + (f" (inference p50 {out['inference_ms']['p50']:.2f} ms)" if out["inference_ms"] else "")
        + f"; {out['texts_per_s']} texts/s over {len(results)} texts"
    )
    out["python_agreement"] = agreement(texts, results, folder, int8=int8)
    a = out["python_agreement"]
    log(
        f"{name} vs Python: spans identical {pct(a['spans_identical'])} ({a['python_spans']} Python spans), "
        f"toxicity label {pct(a['toxicity_label_same'])}, max spam score diff {a['max_spam_score_diff']:.3g}, "
        f"max toxicity score diff {a['max_toxicity_score_diff']:.3g}"
    )
    return out


def write_results(stem: Path, payload: dict[str, Any]) -> None:
    env = payload["environment"]
    atomic_write_json(f"{stem}.json", payload)
    browser, texts = payload["browser"], payload["texts"]
    lines = [
        provenance_header("NLM-5M-Filter in the browser (onnxruntime-web wasm, 1 thread)", env),
        f"- browser: {browser['chromium']}, headless; onnxruntime-web {browser['onnxruntime_web']['package_json']} "
        f"(installed {browser['onnxruntime_web']['installed']})",
        f"- filter: `{payload['model']['folder']}` ({payload['model'].get('name')}, "
        f"{payload['model'].get('parameters')} parameters, max_length {payload['model'].get('max_length')})",
        f"- texts: the first {texts['count']} of `{texts['path']}`, one check() each after one warm-up",
        "",
        "| precision | model MB | load ms | check() p50 / p95 / mean ms | inference p50 / p95 / mean ms | texts/s "
        "| Python 1-thread p50 ms | spans identical | max spam score diff | max toxicity score diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in payload["runs"].items():
        check, inference, agree = run["check_ms"], run["inference_ms"], run["python_agreement"]
        inference_cell = (
            f"{num(inference['p50'], 2)} / {num(inference['p95'], 2)} / {num(inference['mean'], 2)}"
            if inference
            else "-"
        )
        lines.append(
            f"| {name} | {run['model_bytes'] / 1e6:.2f} | {run['load_ms']:.0f} | "
            f"{num(check['p50'], 2)} / {num(check['p95'], 2)} / {num(check['mean'], 2)} | {inference_cell} | "
            f"{run['texts_per_s']} | {num(agree['python_ms_per_text_1_thread']['p50'], 2)} | "
            f"{pct(agree['spans_identical'])} | {agree['max_spam_score_diff']:.3g} | "
            f"{agree['max_toxicity_score_diff']:.3g} |"
        )
    first = next(iter(payload["runs"].values()))
    lines += [
        "",
        f"Tokens run per text (all its windows, [CLS]/[SEP] included): {first['tokens']['mean']} on average, "
        f"max {first['tokens']['max']}; {first['multi_window_texts']} texts span several windows. check() is the page's wall "
        "time of `Filter.check` (tokenize, session.run, decode); inference is session.run alone; texts/s is the "
        "texts over the sum of check() times. Load: fetching maaza.json, tokenizer.json and the model, and "
        "creating the session. Spans identical: the fraction of texts whose PII spans (start, end, label) "
        "equal Python's `Filter.check` (onnxruntime, 1 thread) exactly.",
    ]
    if payload.get("skipped"):
        lines += ["", *(f"Not run: {reason}." for reason in payload["skipped"])]
    atomic_write_text(f"{stem}.md", "\n".join(lines) + "\n")
    log(f"wrote {stem}.json|md")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=str(ARTIFACTS_DIR / "nlm_5m_filter"), help="the filter folder")
    parser.add_argument("--texts", type=int, default=200, help="how many texts (default 200)")
    parser.add_argument("--int8-only", action="store_true", help="skip fp32 even when model.onnx exists")
    parser.add_argument(
        "--out", default=str(RESULTS_DIR / "filter_browser"), help="results stem (.json, .md)"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds one page may take (default 600)")
    args = parser.parse_args()

    folder = Path(args.model).resolve()
    if web_helpers.CHROMIUM is None:
        print("error: chromium is not on PATH (Debian: apt-get install -y chromium)", file=sys.stderr)
        return 1
    if not (web_helpers.ORT_DIST / "ort.wasm.min.mjs").is_file():
        print(f"error: {shown(web_helpers.ORT_DIST.parent)} is missing (cd web && npm ci)", file=sys.stderr)
        return 1
    if not (folder / "maaza.json").is_file() or not (folder / INT8_FILE).is_file():
        print(
            f"error: {folder} is not a filter folder with {INT8_FILE} (ship one: python benchmarks/filter.py "
            "--stages export eval ship, or pass --model)",
            file=sys.stderr,
        )
        return 1
    if args.texts < 1:
        print("error: --texts must be at least 1", file=sys.stderr)
        return 1

    texts, texts_path = load_texts(args.texts)
    meta = json.loads((folder / "maaza.json").read_text())
    precisions = [True]
    skipped = []
    if args.int8_only:
        skipped.append("fp32 (--int8-only)")
    elif (folder / FP32_FILE).is_file():
        precisions.append(False)
    else:
        skipped.append(f"fp32 (no {FP32_FILE} in the folder)")
    browser = {"chromium": chromium_version(), "onnxruntime_web": ort_versions(), "backend": "wasm, 1 thread"}
    log(
        f"{browser['chromium']}; onnxruntime-web {browser['onnxruntime_web']['installed']}; "
        f"{len(texts)} texts of {shown(texts_path)}"
    )
    runs: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="filter_browser_") as tmp:
            work = Path(tmp)
            (work / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
            with web_helpers.Server({"__bench__": work, "__model__": folder}) as server:
                for int8 in precisions:
                    runs["int8" if int8 else "fp32"] = run_precision(
                        server, "/__bench__/texts.json", folder, texts, work, int8=int8, timeout=args.timeout
                    )
    except AssertionError as exc:  # web_helpers' failures: Chromium exited, timed out, or the page failed
        print(f"error: the browser run failed: {exc}", file=sys.stderr)
        return 1
    except MaazaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    payload = {
        "environment": environment(),
        "browser": browser,
        "model": {
            "folder": shown(folder),
            "name": meta.get("name"),
            "parameters": meta.get("parameters"),
            "max_length": meta.get("max_length"),
            "stride": meta.get("stride"),
        },
        "texts": {"path": shown(texts_path), "sha256": file_sha256(texts_path), "count": len(texts)},
        "runs": runs,
        "skipped": skipped,
    }
    write_results(Path(args.out), payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())

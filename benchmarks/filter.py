"""NLM-5M-Filter end to end: peers, training, ONNX fp32 + INT8 export, every test set, timing, shipping.

    python benchmarks/filter.py                      # every stage (resumes where it stopped)
    python benchmarks/filter.py --stages eval        # only some stages
    python benchmarks/filter.py --report             # rewrite results from what the run folder holds
    python benchmarks/filter.py --onnx benchmarks/artifacts/nlm_5m_filter --stages data peers eval ship
                                                     # re-measure the shipped INT8 file (no training run here)

Stages (the run folder is runs/filter/; results per system and test set in runs/filter/results/):
- data: the generated PII test set (seed 1000, never a training seed) and the check that none of its texts
  occurs among the training texts; the hand-written set is benchmarks/data/pii_handwritten.jsonl.
- peers: TF-IDF (word 1-2 + char_wb 2-5 grams) + logistic regression for spam and toxicity (C chosen on the
  same validation carve-out the filter uses); the regular-expression PII detector (maaza.tasks.filter.
  pii_rules) on both PII sets. Presidio's analyzer is not a peer: its default engine downloads a spaCy
  model at start (not reachable here) and PyPI carries none.
- train: `maaza train configs/filter/nlm_5m_filter.yaml` (resumes from its checkpoints).
- export: ONNX fp32 + INT8 (maaza.export.onnx_filter).
- eval: fp32 and INT8 (INT8 only for a folder without model.onnx, e.g. `--onnx benchmarks/artifacts/
  nlm_5m_filter`, the shipped file on a machine without the training run) on SMS spam test (all 1115 rows, and the rows whose text is not in train), Davidson
  test (macro-F1, toxic-vs-neither accuracy), generated PII test and the hand-written set (exact span and
  label F1, with constrained BIO decoding and, for comparison, per-token argmax; INT8 also with the
  regular-expression rules, `Filter(pii_rules=True)`); fp32/INT8 agreement; batch-1 latency of 40-token texts (p50/p95, 1 and 2 threads) and batched
  inferences/s; file sizes.
- ship: the INT8 folder (model.int8.onnx, tokenizer.json, maaza.json) to benchmarks/artifacts/nlm_5m_filter/.
Writes benchmarks/results/filter.json|md and per-system results JSONs under benchmarks/results/filter/.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import ARTIFACTS_DIR, RESULTS_DIR, maaza_cli, num, pct, provenance_header
from maaza.envinfo import environment
from maaza.errors import MaazaError
from maaza.io import atomic_write_json, atomic_write_text, read_json, write_jsonl

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "filter" / "nlm_5m_filter.yaml"
HANDWRITTEN = REPO / "benchmarks" / "data" / "pii_handwritten.jsonl"
STAGES = ("data", "peers", "train", "export", "eval", "ship")
PII_TEST_SEED, PII_TEST_ROWS = 1000, 1500
LATENCY_TOKENS = (38, 42)  # "a 40-token text": texts of 38-42 tokens (specials included)
SHIPPED_NAME = "nlm-5m-filter"
PUBLISHED = {
    "spam": "DistilBERT 99.2-99.35% accuracy (SMS Spam Collection)",
    "toxicity": "DistilBERT macro-F1 0.77-0.78 (Davidson)",
    "pii": "piiranha (mDeBERTa-v3-base, 86M) token F1 93.1 (its own test set)",
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Run:
    def __init__(self, root: Path, onnx_dir: Path | None = None) -> None:
        import yaml

        self.root = root
        self.results = root / "results"
        self.results.mkdir(parents=True, exist_ok=True)
        self.config = yaml.safe_load(CONFIG.read_text())
        self.train_dir = REPO / self.config["output_dir"]
        self.onnx_dir = onnx_dir or root / "onnx"  # --onnx: an export folder to evaluate (the shipped one)

    def save(self, name: str, result: dict[str, Any]) -> None:
        atomic_write_json(self.results / f"{name}.json", result)

    def done(self, name: str) -> bool:
        return (self.results / f"{name}.json").is_file()

    # ---------------------------------------------------------------------------------------------- rows

    def label_rows(self, task_name: str) -> dict[str, list[Any]]:
        """train / val (the recipe's carve-out: fraction 0.1, the config's seed) / test / test_dedup rows."""
        from maaza.tasks import get_task

        task = get_task(task_name)
        train_data, test_data = task.default_data("train"), task.default_data("test")
        if train_data is None or test_data is None:
            raise MaazaError(f"the data root has no {task_name} train/test files")
        train, val = task.carve_validation(task.load_rows(train_data.rows), 0.1, self.config.get("seed", 0))
        test = task.load_rows(test_data.rows)
        seen = {row.text for row in [*train, *val]}
        return {"train": train, "val": val, "test": test, "test_dedup": [r for r in test if r.text not in seen]}

    def pii_files(self) -> dict[str, Path]:
        return {"pii_test": self.root / "data" / "pii_test.jsonl", "pii_handwritten": HANDWRITTEN}

    def pii_rows(self) -> dict[str, list[Any]]:
        from maaza.tasks.filter.pii import load_pii_rows

        return {split: load_pii_rows(path) for split, path in self.pii_files().items()}


# ------------------------------------------------------------------------------------------------ data


def stage_data(run: Run) -> None:
    from maaza.tasks.filter.pii_generator import generate_pii_rows
    from maaza.train.filter_recipe import generated_pii_rows

    path = run.root / "data" / "pii_test.jsonl"
    if path.is_file():
        return
    seed = run.config.get("seed", 0)
    train_texts = {row.text for row in generated_pii_rows(run.config["pii"]["generated"], seed=seed + 1)}
    rows = generate_pii_rows(PII_TEST_ROWS, seed=PII_TEST_SEED)
    overlap = [row for row in rows if row["text"] in train_texts]
    kept = [row for row in rows if row["text"] not in train_texts]
    write_jsonl(path, kept)
    atomic_write_json(run.root / "data" / "pii_test.meta.json", {
        "seed": PII_TEST_SEED, "generated": len(rows), "in_training_texts": len(overlap), "kept": len(kept),
    })
    log(f"data: {len(kept)} generated PII test rows ({len(overlap)} equal to a training text, dropped)")


# ----------------------------------------------------------------------------------------------- peers


def stage_peers(run: Run) -> None:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion

    from maaza.eval.classifier import evaluate_probabilities
    from maaza.tasks import get_task

    for task_name in ("spam", "toxicity"):
        if run.done(f"tfidf_logreg_{task_name}_test"):
            continue
        task = get_task(task_name)
        rows = run.label_rows(task_name)
        labels = list(task.labels)
        union = FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ])
        x_train = union.fit_transform([r.text for r in rows["train"]])
        y_train = [labels.index(r.label) for r in rows["train"]]
        x_val = union.transform([r.text for r in rows["val"]])
        y_val = np.array([labels.index(r.label) for r in rows["val"]])
        best = None
        for c in (1.0, 10.0, 100.0):
            for weight in (None, "balanced"):
                model = LogisticRegression(C=c, max_iter=3000, class_weight=weight).fit(x_train, y_train)
                score = _val_score(task_name, model.predict(x_val), y_val, labels)
                log(f"tfidf_logreg {task_name}: C={c} class_weight={weight} validation {score:.4f}")
                if best is None or score > best[0]:
                    best = (score, c, weight, model)
        assert best is not None
        model = best[3]

        def predict(texts: Any, model: Any = model, union: Any = union) -> list[list[float]]:
            return model.predict_proba(union.transform(list(texts))).tolist()

        for split in ("test", "test_dedup") if task_name == "spam" else ("test",):
            result = evaluate_probabilities(
                task, rows[split], predict, data_path=task.default_data("test").rows,
                model={"name": "tfidf_logreg", "backend": "scikit-learn", "precision": "fp64"},
                config={"system": "tfidf_logreg", "kind": "peer", "C": best[1], "class_weight": best[2],
                        "val_score": best[0], "split": split},
            )
            result.pop("examples", None)
            run.save(f"tfidf_logreg_{task_name}_{split}", result)
    from maaza.tasks.filter.pii_rules import detect_pii_rules

    for split, rows in run.pii_rows().items():
        if not run.done(f"regex_{split}"):
            run.save(f"regex_{split}", pii_result(rows, lambda texts: [detect_pii_rules(t) for t in texts],
                                                  {"name": "regex_rules", "backend": "python re"}, split,
                                                  run.pii_files()[split]))


def _val_score(task_name: str, predicted: Any, gold: Any, labels: list[str]) -> float:
    """Validation score that picks a peer's C: accuracy for spam, macro-F1 for toxicity."""
    from sklearn.metrics import f1_score

    if task_name == "toxicity":
        return float(f1_score(gold, predicted, average="macro"))
    return float((predicted == gold).mean())


def pii_result(rows: list[Any], predict: Any, model: dict[str, Any], split: str, path: Path) -> dict[str, Any]:
    """A PII system's results on `rows` of `path` (the shape of `maaza eval`'s results JSON, no per-row
    examples; the first 25 rows it got wrong instead)."""
    from maaza.io import file_sha256
    from maaza.tasks import get_task

    task = get_task("pii")
    start = time.perf_counter()
    predicted = predict([row.text for row in rows])
    seconds = time.perf_counter() - start
    examples = [task.score_spans(row, spans) for row, spans in zip(rows, predicted, strict=True)]
    metrics = task.aggregate(examples)
    errors = [
        {"text": row.text[:300], "gold": e["gold"], "predicted": e["predicted"]}
        for row, e in zip(rows, examples, strict=True) if not e["exact"]
    ]
    return {
        "task": "pii", "status": "complete", "model": model,
        "config": {"split": split, "prompt_format": "text", "constrained": False},
        "data": {"path": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path),
                 "sha256": file_sha256(path), "rows": len(rows)},
        "metrics": metrics,
        "timing": {"batched_per_s": round(len(rows) / seconds, 1)},
        "errors_sample": errors[:25], "environment": environment(),
    }


# --------------------------------------------------------------------------------------- train, export


def stage_train(run: Run) -> None:
    if (run.train_dir / "training_summary.json").is_file():
        return
    command = [maaza_cli(), "train", str(CONFIG)]
    if (run.train_dir / "checkpoints").is_dir() and any((run.train_dir / "checkpoints").iterdir()):
        command.append("--resume")
    log("train: " + " ".join(command))
    subprocess.run(command, check=True, cwd=REPO)


def stage_export(run: Run) -> None:
    from maaza.export.onnx_filter import export_filter_onnx

    if (run.onnx_dir / "maaza.json").is_file():
        return
    meta = export_filter_onnx(run.train_dir, run.onnx_dir)
    log(f"export: {meta['files']} check {meta['check']}")


# ------------------------------------------------------------------------------------------------ eval


def _latency_texts(filter_: Any, texts: list[str], count: int = 50) -> list[str]:
    low, high = LATENCY_TOKENS
    chosen = [t for t in texts if low <= len(filter_.windows(t)[0][0]) <= high]
    return chosen[:count]


def _latency_ms(filter_: Any, texts: list[str], repeats: int = 4) -> dict[str, float]:
    filter_.check(texts[0])  # warm-up
    times = []
    for _ in range(repeats):
        for text in texts:
            start = time.perf_counter()
            filter_.check(text)
            times.append(1000 * (time.perf_counter() - start))
    times.sort()
    return {"p50": round(statistics.median(times), 3), "p95": round(times[int(0.95 * (len(times) - 1))], 3),
            "mean": round(statistics.fmean(times), 3), "calls": len(times)}


def stage_eval(run: Run) -> None:
    from maaza.envinfo import peak_rss_mb
    from maaza.eval.classifier import evaluate_probabilities
    from maaza.export.onnx_filter import FP32_FILE, INT8_FILE
    from maaza.filter import Filter
    from maaza.tasks import get_task

    label_rows = {name: run.label_rows(name) for name in ("spam", "toxicity")}
    pii_rows = run.pii_rows()
    meta = read_json(run.onnx_dir / "maaza.json")
    outputs: dict[str, dict[str, Any]] = {}
    precisions = [p for p in ("fp32", "int8") if (run.onnx_dir / (INT8_FILE if p == "int8" else FP32_FILE)).is_file()]
    if "int8" not in precisions:
        raise MaazaError(f"eval: {run.onnx_dir} has no {INT8_FILE} (--stages export, or --onnx FOLDER)")
    if "fp32" not in precisions:  # results of a file this folder does not have
        for stale in ("nlm_5m_filter_fp32", "int8_agreement"):
            for path in run.results.glob(f"{stale}*.json"):
                path.unlink()
    for precision in precisions:
        system = f"nlm_5m_filter_{precision}"
        filter_ = Filter.load(run.onnx_dir, int8=precision == "int8")
        per_token = Filter.load(run.onnx_dir, int8=precision == "int8", pii_decoding="argmax")
        model_file = filter_.model_file
        files = [model_file, run.onnx_dir / "tokenizer.json"]
        model = {"name": system, "params": meta["parameters"], "backend": "onnxruntime", "precision": precision}

        def check(texts: Any, filter_: Any = filter_) -> list[Any]:
            return filter_.check_batch(list(texts))

        for task_name in ("spam", "toxicity"):
            task = get_task(task_name)
            for split in ("test", "test_dedup"):
                if task_name == "toxicity" and split == "test_dedup":
                    continue

                def predict(texts: Any, task_name: str = task_name) -> list[list[float]]:
                    results = check(texts)
                    if task_name == "spam":
                        return [[1 - r.spam_score, r.spam_score] for r in results]
                    return [[r.toxicity_probs[label] for label in ("hate", "offensive", "neither")] for r in results]

                result = evaluate_probabilities(
                    task, label_rows[task_name][split], predict, files=files,
                    data_path=task.default_data("test").rows, model=model,
                    config={"system": system, "split": split, "threads": "physical cores"},
                )
                outputs.setdefault(system, {})[f"{task_name}_{split}"] = [
                    e["predicted"] for e in result.get("examples", [])
                ]
                result.pop("examples", None)
                run.save(f"{system}_{task_name}_{split}", result)
                log(f"{system} {task_name} {split}: {result['metrics']['overall'].get('top1')} "
                    f"macro-F1 {result['metrics']['overall'].get('macro_f1')}")
        for split, rows in pii_rows.items():
            found: list[list[Any]] = []

            def predict_spans(texts: Any, found: list[list[Any]] = found) -> list[list[Any]]:
                found[:] = [r.pii for r in check(texts)]
                return found

            result = pii_result(rows, predict_spans, model, split, run.pii_files()[split])
            result["config"]["pii_decoding"] = filter_.pii_decoding
            outputs.setdefault(system, {})[split] = [[(s.start, s.end, s.label) for s in spans] for spans in found]
            run.save(f"{system}_{split}", result)
            log(f"{system} {split}: span F1 {result['metrics']['overall']['f1']}")
            # the same file with each token's most probable tag (the decoding before constrained_tags)
            result = pii_result(rows, lambda texts, f=per_token: [r.pii for r in f.check_batch(list(texts))],
                                {**model, "name": f"{system}_argmax"}, split, run.pii_files()[split])
            result["config"]["pii_decoding"] = "argmax"
            run.save(f"{system}_argmax_{split}", result)
            log(f"{system} {split} argmax decoding: span F1 {result['metrics']['overall']['f1']}")
            if precision == "int8":  # the shipped file with the regular-expression rules (Filter pii_rules=True)
                result = pii_result(rows, lambda texts, f=filter_: [r.pii for r in f.check_batch(list(texts),
                                                                                          pii_rules=True)],
                                    {**model, "name": f"{system}_rules"}, split, run.pii_files()[split])
                result["config"]["pii_rules"] = True
                run.save(f"{system}_rules_{split}", result)
                log(f"{system} {split} with rules: span F1 {result['metrics']['overall']['f1']}")
        texts = [r.text for r in label_rows["spam"]["test"]]
        latency_texts = _latency_texts(filter_, texts)
        timing: dict[str, Any] = {"latency_texts": len(latency_texts), "tokens": list(LATENCY_TOKENS)}
        for threads in (1, 2):
            timed = Filter.load(run.onnx_dir, int8=precision == "int8", threads=threads)
            timing[f"latency_ms_{threads}_threads"] = _latency_ms(timed, latency_texts)
            start = time.perf_counter()
            timed.check_batch(texts, batch_size=32)
            timing[f"batched_per_s_{threads}_threads"] = round(len(texts) / (time.perf_counter() - start), 1)
        timing["file_bytes"] = {path.name: path.stat().st_size for path in files}
        timing["file_mb_total"] = round(sum(path.stat().st_size for path in files) / 1e6, 2)
        timing["peak_rss_mb"] = round(peak_rss_mb(), 1)
        run.save(f"{system}_timing", {"system": system, "timing": timing, "environment": environment()})
        log(f"{system} timing {timing}")
    if "fp32" not in precisions:
        log(f"eval: {run.onnx_dir} has no {FP32_FILE}: INT8 only, no INT8-vs-fp32 agreement")
        return
    agreement = {}
    for key in outputs["nlm_5m_filter_fp32"]:
        a, b = outputs["nlm_5m_filter_fp32"][key], outputs["nlm_5m_filter_int8"][key]
        agreement[key] = round(sum(x == y for x, y in zip(a, b, strict=True)) / max(1, len(a)), 4)
    run.save("int8_agreement", {"agreement": agreement})


# ------------------------------------------------------------------------------------------------ ship


def stage_ship(run: Run) -> None:
    from maaza.export.onnx_filter import INT8_FILE

    target = ARTIFACTS_DIR / "nlm_5m_filter"
    int8 = _overall(run, "nlm_5m_filter_int8_spam_test")
    if int8 is None:
        raise MaazaError("ship: evaluate first (--stages eval)")
    if run.onnx_dir.resolve() == target.resolve():  # --onnx on the shipped folder: its files stay, card and summary
        meta = read_json(target / "maaza.json")
    else:
        staging = target.with_name(f".{target.name}.new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name in (INT8_FILE, "tokenizer.json", "maaza.json"):
            shutil.copy2(run.onnx_dir / name, staging / name)
        meta = read_json(staging / "maaza.json")
        meta["files"] = {k: v for k, v in meta["files"].items() if k != "model.onnx"}
        meta["sha256"] = {k: v for k, v in meta["sha256"].items() if k != "model.onnx"}
        meta["shipped_note"] = "INT8 only; the fp32 model.onnx is rebuilt by python benchmarks/filter.py --stages export"
        atomic_write_json(staging / "maaza.json", meta)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    shipped_file = ARTIFACTS_DIR / "shipped.json"
    shipped = read_json(shipped_file)
    spam, tox, pii = (_overall(run, f"nlm_5m_filter_int8_{k}") for k in ("spam_test", "toxicity_test", "pii_test"))
    hand = _overall(run, "nlm_5m_filter_int8_pii_handwritten")
    shipped[SHIPPED_NAME] = {
        "task": "filter",
        "path": target.name,
        "backend": "onnx",
        "summary": (f"INT8 ONNX NLM-5M-Filter: SMS spam {pct(spam['top1'])}, Davidson macro-F1 {num(tox['macro_f1'])}, "
                    f"PII span F1 {num(pii['f1'])} generated / {num(hand['f1'])} hand-written"),
        "results": "benchmarks/results/filter.md",
    }
    atomic_write_json(shipped_file, shipped)
    from maaza.report.filter_card import build_filter_card

    systems = {p.stem: read_json(p) for p in sorted(run.results.glob("*.json"))}
    summary = training_summary(run)
    atomic_write_text(target / "README.md", build_filter_card(meta, summary, systems, PUBLISHED,
                                                              "benchmarks/results/filter.md"))
    log(f"ship: {target} (+ README.md, the model card)")


# ---------------------------------------------------------------------------------------------- report


def _overall(run: Run, name: str) -> dict[str, Any] | None:
    path = run.results / f"{name}.json"
    return read_json(path)["metrics"]["overall"] if path.is_file() else None


def training_summary(run: Run) -> dict[str, Any] | None:
    """The training run's summary; without the run folder (evaluating the shipped file on another machine) the
    one the last report recorded, when it describes the same export (the same INT8 file's sha256)."""
    summary_file = run.train_dir / "training_summary.json"
    if summary_file.is_file():
        return read_json(summary_file)
    previous = RESULTS_DIR / "filter.json"
    meta_file = run.onnx_dir / "maaza.json"
    if not previous.is_file() or not meta_file.is_file():
        return None
    recorded = read_json(previous)
    from maaza.export.onnx_filter import INT8_FILE

    digest = read_json(meta_file)["sha256"].get(INT8_FILE)
    same = digest is not None and (recorded.get("export") or {}).get("sha256", {}).get(INT8_FILE) == digest
    return recorded.get("training") if same else None


def report(run: Run) -> None:
    from maaza.report.filter_card import report_body

    systems = {p.stem: read_json(p) for p in sorted(run.results.glob("*.json"))}
    stale = RESULTS_DIR / "filter"
    for path in stale.glob("*.json") if stale.is_dir() else []:
        if path.stem not in systems:
            path.unlink()  # a system this run no longer has (fp32 when only the INT8 file was evaluated)
    for name, result in systems.items():
        atomic_write_json(RESULTS_DIR / "filter" / f"{name}.json", result)
    env = environment()
    meta_file = run.onnx_dir / "maaza.json"
    summary = training_summary(run)
    meta = read_json(meta_file) if meta_file.is_file() else None
    payload = {"environment": env, "systems": systems, "training": summary, "export": meta,
               "published_context": PUBLISHED}
    atomic_write_json(RESULTS_DIR / "filter.json", payload)
    lines = [provenance_header("NLM-5M-Filter: spam, toxicity and PII on one 5M-parameter encoder", env),
             *report_body(systems, PUBLISHED)]
    if meta:
        lines += ["", f"Parameters: {meta['parameters']:,} (the exported graph; architecture {meta['architecture']})."]
    if summary:
        lines += [f"Training: {summary['steps']} steps ({summary['epochs']} epochs) in {summary['train_seconds']} s; "
                  f"rows {summary['rows']}; best validation loss {summary['best_val_loss']} at step "
                  f"{summary['best_step']}."]
    atomic_write_text(RESULTS_DIR / "filter.md", "\n".join(lines) + "\n")
    log(f"wrote {RESULTS_DIR / 'filter'}.json|md")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--run-dir", default=str(REPO / "runs" / "filter"))
    parser.add_argument("--onnx", default=None, help="evaluate (and ship) this export folder instead of the run's, "
                        "e.g. benchmarks/artifacts/nlm_5m_filter: INT8 only when it has no model.onnx")
    parser.add_argument("--report", action="store_true", help="only rewrite the results files")
    args = parser.parse_args()
    run = Run(Path(args.run_dir), Path(args.onnx) if args.onnx else None)
    try:
        if not args.report:
            for stage in args.stages:
                log(f"stage {stage}")
                globals()[f"stage_{stage}"](run)
        report(run)
    except MaazaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

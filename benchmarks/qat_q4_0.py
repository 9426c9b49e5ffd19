"""Quantization-aware fine-tuning (issue #6): can a plain Q4_0 file keep the F16 model's answers?

    python benchmarks/qat_q4_0.py                          # train (resumes), export, eval, report
    python benchmarks/qat_q4_0.py --stages export eval report
    python benchmarks/qat_q4_0.py --run control            # the same fine-tune without the rounding

Design: start from the merged model of data_lift.py's best adapter, (f) `warm_start_3` (exported to
runs/qat_q4_0/source with `maaza export --formats merged` if missing). Fine-tune all its weights for one
epoch over EdgeJSON v3 train with `model.fake_quant: q4_0` (maaza.train.fake_quant): every matrix
llama.cpp stores 4-bit is seen through its Q4_0 round trip, with a straight-through gradient. The rest is
configs/mlm_135m_json.yaml, with `model.method full` and lr 1e-4 (weights must move a fair part of a Q4_0
step, about 0.02, for codes to change).

The result is exported as `gguf-q4_0-pure` (plain rounding, which holds exactly the trained weights; the
token embedding / tied head Q4_0 too: the fastest layout, 203 decode tok/s in edge_speed.md) and evaluated
as constrained_quality.py evaluates the GPTQ files: llama.cpp, JSON-schema constrained, loop guard,
grounded values, 2048-token budget, all 158 EdgeJSON v3 test rows. The report sets it beside (f)'s F16 and
GPTQ rows. The same weights are also evaluated as F16 (the "vs F16" the issue asks of a 4-bit file).
`--run control` trains the same epoch with no rounding in the forward pass (`model.fake_quant` unset) and
evaluates it the same two ways: does the rounding in training matter, or the extra epoch? `--run long`
(after `--run qat`) trains one more QAT epoch from the QAT model at 3072-token context, so 43 of the 52 long
v3 train rows (dropped at 1536) are learnt too. `--run mix` (after `qat`) trains one more QAT epoch from the
QAT model over v3 train + 450 new generated rows (`maaza data generate`, seed 5), lr 5e-5. `--run listing`
(after `qat`) trains one more QAT epoch from the QAT model over v3 train + 400 new rows in the v3 layout
(`maaza data generate --styles listing`, seed 6: list items with no marker, as in the failing complex test
rows) at 2048-token context; `--run listing2` (after `listing`) one more from that model over 400 further
such rows alone (seed 7), lr 5e-5. `--run long_clean` (after `qat`) is `long` over the 565 v3 train rows
whose text determines their answer (answerability.py drops the 64 whose gold differs from its text, holds an
empty item or splits items a reader joins); `--run listing_mc` adds to those the determined rows of 200 listing
rows (seed 8) of the medium and complex schemas only, with lists up to 5 items as in v3. The trained
weights (270 MB, 78 MB as Q4_0) are not committed: the command regenerates them (about 27 minutes here).

Writes benchmarks/results/qat_q4_0.json|md, and per run (`qat`: no infix, others: `_RUN`)
qat_q4_0{infix}_training_summary.json and qat_q4_0{infix}_constrained.json (Q4_0) /
qat_q4_0{infix}_f16_constrained.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from common import ARTIFACTS_DIR, RESULTS_DIR, num, pct, provenance_header
from constrained_quality import MAX_NEW_TOKENS, OUT_DIR, short_commit
from data_lift import generate
from maaza.config import load_config
from maaza.envinfo import environment
from maaza.eval.runner import EvalConfig, EvalRun
from maaza.export.command import export_model
from maaza.io import atomic_write_json, atomic_write_text
from maaza.schemas import load_schema_folder
from maaza.tasks.edgejson import default_paths
from maaza.tasks.edgejson.answerability import answer_class
from maaza.train.checkpoint import latest_checkpoint
from maaza.train.config import TrainConfig
from maaza.train.recipe import Recipe

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "runs" / "qat_q4_0"
SOURCE_ADAPTER = ARTIFACTS_DIR / "mlm_135m_json_warm_start_3"
# the final weights are exported, not the best by val loss: one epoch on from a converged model has a flat val
# loss that only noise moves (listing_mc's "best" was step 10 of 44); in every earlier run best was final
OVERRIDES = ["model.method=full", "train.epochs=1.0", "train.lr=1e-4", "checkpoint.export_best=false"]
RUNS = {  # run -> its own overrides
    "qat": ["model.fake_quant=q4_0"],
    "control": [],
    # a second QAT epoch from `qat`'s output at full context: the 52 v3 train rows over 1536 tokens (most of
    # them complex, like the test rows that fail) are trained on instead of dropped
    "long": ["model.fake_quant=q4_0", "data.max_length=3072", "train.micro_batch_tokens=3072"],
    # a second QAT epoch from `qat`'s output over v3 train + 450 new generated rows (RUN_DATA), at half the rate
    "mix": ["model.fake_quant=q4_0", "train.lr=5e-5"],
    # a second QAT epoch from `qat`'s output over v3 train + 400 new rows in the v3 listing layout (RUN_DATA:
    # unmarked list items), at 2048-token context
    "listing": ["model.fake_quant=q4_0", "data.max_length=2048"],
    # a third QAT epoch, from `listing`'s output, over 400 more such rows only (no v3 train), at half the rate
    "listing2": ["model.fake_quant=q4_0", "data.max_length=2048", "train.lr=5e-5"],
    # `long` over the v3 train rows whose text determines their answer only (CLEAN; answerability.py: 565 of
    # 629)
    "long_clean": ["model.fake_quant=q4_0", "data.max_length=3072", "train.micro_batch_tokens=3072"],
    # `long_clean` + listing rows of the medium and complex schemas only (RUN_SCHEMAS), with lists up to 5
    # items as in v3 (the generator's default is 4), also only those their text determines
    "listing_mc": ["model.fake_quant=q4_0", "data.max_length=3072", "train.micro_batch_tokens=3072"],
}
RUN_LABELS = {"qat": "QAT", "control": "control (no rounding)", "long": "QAT + epoch at 3072 context",
              "mix": "QAT + epoch on v3 + generated", "listing": "QAT + epoch on v3 + generated listings",
              "listing2": "QAT + listings epoch + epoch on generated listings only",
              "long_clean": "QAT + epoch at 3072 context on the v3 rows their text determines",
              "listing_mc": "QAT + epoch at 3072 context on determined v3 + medium/complex listings"}
# run -> the merged model it starts from (default: (f)'s)
RUN_BASES = {**{run: WORK / "train" / "merged" for run in ("long", "mix", "listing", "long_clean", "listing_mc")},
             "listing2": WORK / "train_listing" / "merged"}
RUN_MC_ROWS = 200  # sized for about 50 minutes of CPU training with v3 at 3072 tokens (their rows are ~2x as long)
# run -> the `maaza data generate` rows (95% train), seed and options it adds to v3 train ((f) was trained on
# seeds 1-4 of the default styles), and the folder they go to
RUN_DATA = {"mix": (450, 5, []), "listing": (400, 6, ["--styles", "listing"]),
            "listing2": (400, 7, ["--styles", "listing"]),
            "listing_mc": (RUN_MC_ROWS, 8, ["--styles", "listing", "--max-items", "5"])}
GENERATED_ONLY = {"listing2"}  # runs that train on their generated rows without v3 train
# runs that train on the rows of v3 train (and of their generated data) whose text determines their answer
CLEAN = {"long_clean", "listing_mc"}
RUN_SCHEMAS = {"listing_mc": ("medium", "complex")}  # run -> the v3 schema folders its rows come from (default all)


def schema_subset(run: str) -> Path | None:
    """A folder of links to the schema files in the run's RUN_SCHEMAS folders of v3 (made on first use), or
    None for all schemas. Nothing is copied, and each link sits in a folder named for its complexity, as in v3
    (files, not folders, are linked: a schema search does not follow a linked folder)."""
    if run not in RUN_SCHEMAS:
        return None
    _, schemas = default_paths()
    folder = WORK / f"schemas_{run}"
    for complexity in RUN_SCHEMAS[run]:
        (folder / complexity).mkdir(parents=True, exist_ok=True)
        for schema in sorted((schemas / complexity).glob("*.json")):
            link = folder / complexity / schema.name
            if not link.is_symlink():
                link.symlink_to(schema)
    return folder


def determined_rows(source: Path, out: Path) -> Path:
    """`source`'s rows whose text determines their answer (`maaza.tasks.edgejson.answerability`), written to `out` on
    first use with their lines as they are."""
    if not out.is_file():
        _, schemas_dir = default_paths()
        schemas = load_schema_folder(schemas_dir)
        lines = source.read_text().splitlines()
        rows = [json.loads(line) for line in lines]
        kept = [line for line, row in zip(lines, rows, strict=True)
                if answer_class(row["prompt"], row["expected_output"], schemas[row["schema_id"]]) == "determined"]
        atomic_write_text(out, "".join(line + "\n" for line in kept))
        print(f"{source}: kept {len(kept)} of {len(lines)} rows, whose text determines their answer -> {out}")
    return out


def clean_files(run: str) -> list[tuple[Path, Path]]:
    """(source, its determined rows) for each training file of a CLEAN run: v3 train, then its generated rows."""
    _, schemas_dir = default_paths()
    pairs = [(schemas_dir.parent / "train.jsonl", WORK / "v3_train_determined.jsonl")]
    if run in RUN_DATA:
        pairs.append((generated_data(run) / "train.jsonl", generated_data(run) / "train_determined.jsonl"))
    return pairs


def generated_data(run: str) -> Path:
    """The run's generated dataset folder (`mix` keeps the name its data was first generated under)."""
    rows, seed, _ = RUN_DATA[run]
    return WORK / (f"generated_{rows}_seed{seed}" if run == "mix" else f"generated_{run}_{rows}_seed{seed}")


PRECISION_LABELS = {"q4_0-pure": "Q4_0 (pure)", "f16": "F16"}  # export format (without `gguf-`) -> label
REFERENCES = {  # (f)'s rows of constrained_quality.md, same decoding
    "F16 (no rounding)": OUT_DIR / "llamacpp_f16_third_warm-start_adapter_loop_guard_grounded.json",
    "GPTQ Q4_0": OUT_DIR / "llamacpp_q4_0-gptq_third_warm-start_adapter_loop_guard_grounded.json",
    "GPTQ IQ4_NL": OUT_DIR / "llamacpp_iq4_nl-gptq_third_warm-start_adapter_loop_guard_grounded.json",
}
STAGES = ("train", "export", "eval", "speed", "report")
# `speed`: the QAT file against files of the same layout, interleaved, in one run (this VM's speed drifts
# within a run, so one pass in a row would rank them by their place in the queue)
SPEED_FILES = {
    "q4_0-pure of the v3-only adapter (edge_speed.md)": REPO / "runs" / "edge_exports" / "mlm-135m-json-q4_0-pure.gguf",
    "GPTQ Q4_0 of (f)": REPO / "runs" / "data_lift" / "exports_warm_start_3" / "warm_start_3-q4_0-gptq.gguf",
}
SPEED_ROUNDS = 3


def qat_config(run: str, config_path: str, overrides: list[str]) -> TrainConfig:
    config = load_config(TrainConfig, config_path, [*OVERRIDES, *RUNS[run], *overrides])
    config.model.base = str(RUN_BASES.get(run, WORK / "source" / "merged"))  # (f)'s: written when missing
    config.output_dir = str(WORK / ("train" if run == "qat" else f"train_{run}"))
    config.name = "mlm-135m-json-qat-q4_0" if run == "qat" else f"mlm-135m-json-{run}-full"
    if run in RUN_DATA:
        v3 = [] if run in GENERATED_ONLY else config.data.train
        config.data.train = [*v3, str(generated_data(run) / "train.jsonl")]  # made by the train stage
    if run in CLEAN:  # made by the train stage
        config.data.train = [str(determined) for _, determined in clean_files(run)]
    return config


def infix(run: str) -> str:
    """The run's part of its results file names (none for `qat`)."""
    return "" if run == "qat" else f"_{run}"


def summary_file(run: str) -> Path:
    """The run's training summary in benchmarks/results."""
    return RESULTS_DIR / f"qat_q4_0{infix(run)}_training_summary.json"


def run_files(run: str) -> dict[str, tuple[Path, Path]]:
    """Per precision (PRECISION_LABELS), the run's exported GGUF (`qat-q4_0-pure.gguf`, `control-f16.gguf`)
    and its results file."""
    name = infix(run)
    return {kind: (WORK / f"exports{name}" / f"{run}-{kind}.gguf",
                   RESULTS_DIR / f"qat_q4_0{name}{'' if kind == 'q4_0-pure' else '_' + kind}_constrained.json")
            for kind in PRECISION_LABELS}


def evaluate(gguf: Path, out: Path, limit: int | None) -> dict[str, Any]:
    data, schemas = default_paths()
    config = EvalConfig(data=str(data), schemas=str(schemas), model=str(gguf), backend="llamacpp", batch_size=1,
                        constrained=True, limit=limit, max_new_tokens=MAX_NEW_TOKENS, loop_guard=True, grounded=True)
    return EvalRun(config, out).run()


def row(label: str, results: dict[str, Any], reference: dict[str, Any] | None) -> dict[str, Any]:
    overall = results["metrics"]["overall"]
    by = results["metrics"]["by_complexity"]
    return {
        "label": label,
        "rows": overall["n"],
        "json_exact": overall["json_exact"],
        "field_f1": overall["field_f1"],
        "schema_compliance": overall["schema_compliance"],
        "schema_valid": overall["schema_valid"],
        "by_complexity": {name: values["json_exact"] for name, values in by.items()},
        "delta_vs_f16": None if reference is None else overall["json_exact"]
        - reference["metrics"]["overall"]["json_exact"],
        "file_bytes": results["model"].get("file_size_bytes"),
        "commit": results["environment"]["git_commit"],
    }


def report(rows: list[dict[str, Any]], training: dict[str, dict[str, Any]], speed: dict[str, Any] | None) -> str:
    lines = [
        provenance_header("Quantization-aware fine-tuning to Q4_0: MLM-135M-JSON (f), EdgeJSON v3 test"),
        "Every row: llama.cpp, JSON-schema constrained, loop guard, grounded values, 2048-token budget. The "
        "QAT rows are (f)'s merged model fine-tuned in full for one epoch of v3 train through the Q4_0 round "
        "trip (`model.fake_quant: q4_0`, lr 1e-4), then exported `gguf-q4_0-pure` (and F16: the same weights); "
        "control rows the same epoch without the rounding; \"QAT + epoch at 3072 context\" rows one more QAT "
        "epoch from the QAT model with rows up to 3072 tokens kept (1536 before); \"QAT + epoch on v3 + "
        "generated\" one more QAT epoch from the QAT model over v3 train + 450 generated rows, lr 5e-5; \"QAT + "
        "epoch on v3 + generated listings\" one more QAT epoch from the QAT model over v3 train + 400 rows "
        "generated in the v3 layout (`--styles listing`), 2048-token context; \"QAT + listings epoch + epoch on "
        "generated listings only\" one more from that model over 400 further such rows alone, lr 5e-5; \"... on the "
        "v3 rows their text determines\" the 3072-context epoch over the 565 v3 train rows `answerability.py` "
        "keeps, \"... on determined v3 + medium/complex listings\" those + 171 listing rows of the medium and complex "
        "schemas (determined too, lists up to 5 items). "
        "\"vs F16\" is against (f)'s F16, the model all start from. (f)'s rows come from "
        "constrained_quality.md.",
        "",
        "| model | size MB | rows | JSONExact | vs F16 | Field F1 | compliance | simple / medium / complex | commit |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for item in rows:
        size = item["file_bytes"]
        delta = item["delta_vs_f16"]
        by = item["by_complexity"]
        lines.append(
            f"| {item['label']} | {'-' if not size else f'{size / 1e6:.1f}'} | {item['rows']} | "
            f"{pct(item['json_exact'])} | {'-' if delta is None else f'{100 * delta:+.1f}'} | "
            f"{num(item['field_f1'])} | {pct(item['schema_compliance'])} | "
            f"{' / '.join(pct(by.get(k)) for k in ('simple', 'medium', 'complex'))} | `{short_commit(item['commit'])}` |"
        )
    for run, summary in training.items():
        lines += [
            "",
            f"Training ({run}): {summary['steps']} steps of {summary['config']['train']['batch_size']} rows in "
            f"{summary['train_seconds'] / 60:.1f} min ({summary.get('useful_tokens_per_s') or 0:.1f} useful "
            f"tokens/s), lr {summary['config']['train']['lr']}, best val loss {num(summary.get('best_val_loss'), 4)} "
            f"(measured through the rounding when `fake_quant` is set).",
        ]
    if speed:
        means = ", ".join(f"{label} {value}" for label, value in speed["mean_decode_tokens_per_s"].items())
        lines += ["", f"Decode tok/s, mean of {speed['rounds']} interleaved rounds (`qat_q4_0_speed.md`): {means}."]
    return "\n".join(lines) + "\n"


def measure_speed() -> None:
    """Decode tok/s of SPEED_FILES, SPEED_ROUNDS interleaved rounds, with each file's mean."""
    from statistics import mean

    from maaza.eval.speed import Target, format_table, run_targets

    files = {**SPEED_FILES, "QAT Q4_0 of (f)": run_files("qat")["q4_0-pure"][0]}
    present = {label: path for label, path in files.items() if path.is_file()}
    targets = [Target("llamacpp", str(path), draft=0) for _ in range(SPEED_ROUNDS) for path in present.values()]
    results = run_targets(targets, report=print)
    by_file = {label: [r["decode_tokens_per_s"] for r in results if r["target"].get("model") == str(path)
                       and r.get("decode_tokens_per_s")] for label, path in present.items()}
    means = {label: round(mean(values), 1) for label, values in by_file.items() if values}
    env = environment()
    atomic_write_json(RESULTS_DIR / "qat_q4_0_speed.json", {"files": {k: str(v) for k, v in present.items()},
                                                             "rounds": SPEED_ROUNDS, "results": results,
                                                             "mean_decode_tokens_per_s": means, "environment": env})
    lines = [provenance_header("Decode speed of the QAT Q4_0 file against files of the same layout", env),
             f"{SPEED_ROUNDS} interleaved rounds; llama.cpp, single stream, greedy, ~200-token prompts.", "",
             "| file | decode tok/s per round | mean |", "|---|---|---:|"]
    lines += [f"| {label} | {', '.join(str(v) for v in by_file[label])} | {means[label]} |" for label in means]
    lines += ["", format_table(results)]
    atomic_write_text(RESULTS_DIR / "qat_q4_0_speed.md", "\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "configs" / "mlm_135m_json.yaml"))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N test rows")
    parser.add_argument("--run", choices=list(RUNS), default="qat")
    parser.add_argument("--precisions", nargs="+", choices=list(PRECISION_LABELS), default=list(PRECISION_LABELS),
                        help="the exports the eval stage evaluates (default: all)")
    args = parser.parse_args()
    config = qat_config(args.run, args.config, args.overrides)
    files = run_files(args.run)
    if "train" in args.stages:
        if args.run in RUN_BASES and not Path(config.model.base, "config.json").is_file():
            parser.error(f"--run {args.run} starts from {config.model.base}: train the run it continues first")
        if args.run in RUN_DATA and not (generated_data(args.run) / "train.jsonl").is_file():
            rows, seed, options = RUN_DATA[args.run]
            generate(rows, generated_data(args.run), seed, options, schema_subset(args.run))
        for source, determined in clean_files(args.run) if args.run in CLEAN else []:
            determined_rows(source, determined)
        if not Path(config.model.base, "config.json").is_file():
            export_model(Path(config.model.base).parent, ["merged"], adapter=str(SOURCE_ADAPTER), report=print)
        recipe = Recipe(config)
        summary = recipe.run(resume=latest_checkpoint(recipe.ckpt_dir) is not None)
        atomic_write_json(summary_file(args.run), summary)
    if "export" in args.stages:
        wanted = [f"gguf-{kind}" for kind, (path, _) in files.items() if not path.is_file()]
        if wanted:
            export_model(files["q4_0-pure"][0].parent, wanted, model=str(Path(config.output_dir) / "merged"),
                         name=args.run, report=print)
    if "eval" in args.stages:
        for kind in args.precisions:
            evaluate(*files[kind], args.limit)
    if "speed" in args.stages and args.run == "qat":
        measure_speed()
    if "report" in args.stages:
        f16 = json.loads(REFERENCES["F16 (no rounding)"].read_text())
        rows = [row(label, json.loads(path.read_text()), f16) for label, path in REFERENCES.items() if path.is_file()]
        training = {}
        for run in RUNS:
            for kind, (_, out) in run_files(run).items():
                if out.is_file():
                    rows.append(row(f"{RUN_LABELS[run]} {PRECISION_LABELS[kind]}", json.loads(out.read_text()), f16))
            if summary_file(run).is_file():
                training[run] = json.loads(summary_file(run).read_text())
        atomic_write_json(RESULTS_DIR / "qat_q4_0.json", {"environment": environment(), "rows": rows,
                                                           "training": training})
        speed_file = RESULTS_DIR / "qat_q4_0_speed.json"
        speed = json.loads(speed_file.read_text()) if speed_file.is_file() else None
        atomic_write_text(RESULTS_DIR / "qat_q4_0.md", report(rows, training, speed))
        print((RESULTS_DIR / "qat_q4_0.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Write a generated dataset folder: train/val/test JSONL, stats.json and a dataset card README.md.

Everything is written atomically. The JSONL files and the README are byte-identical for the same
seed and inputs; stats.json differs only in its `timing` section (wall time and samples/s).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from maaza import __version__
from maaza.data.engine import GenerationResult, Sample, TaskModule, split_samples
from maaza.io import atomic_write_json, atomic_write_text

SPLIT_FILES = {"train": "train.jsonl", "val": "val.jsonl", "test": "test.jsonl"}


def _counts(samples: list[Sample], key: Any) -> dict[str, int]:
    return dict(sorted(Counter(key(s) for s in samples).items()))


def build_stats(
    task: TaskModule,
    result: GenerationResult,
    splits: dict[str, list[Sample]],
    *,
    seed: int,
    teacher: dict[str, Any],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Counts by spec/group/style (overall and per split), rejects by reason, config, seed and timing."""
    everything = result.samples

    def breakdown(samples: list[Sample]) -> dict[str, Any]:
        return {
            "count": len(samples),
            f"by_{task.group_field}": _counts(samples, lambda s: s.spec.group),
            f"by_{task.spec_field}": _counts(samples, lambda s: s.spec.id),
            "by_style": _counts(samples, lambda s: s.style),
        }

    try:
        from importlib.metadata import version

        faker_version: str | None = version("faker")
    except Exception:  # pragma: no cover - Faker is required to generate at all
        faker_version = None
    seconds = result.seconds
    return {
        "task": task.name,
        "seed": seed,
        "requested": result.requested,
        "written": len(everything),
        "splits": {name: len(samples) for name, samples in splits.items()},
        **{key: value for key, value in breakdown(everything).items() if key != "count"},
        "by_split": {name: breakdown(samples) for name, samples in splits.items()},
        "candidates": result.candidates,
        "dropped_slots": result.dropped_slots,
        "rejects": {
            "total": sum(result.rejects.values()),
            "by_reason": dict(sorted(result.rejects.items(), key=lambda kv: (-kv[1], kv[0]))),
        },
        "generator": {
            "maaza_version": __version__,
            "faker_version": faker_version,
            "teacher": teacher,
            **task.config,
            **settings,
        },
        "timing": {
            "seconds": round(seconds, 3),
            "samples_per_s": round(len(everything) / seconds, 1) if seconds > 0 else None,
        },
    }


def write_dataset(
    out: str | Path,
    task: TaskModule,
    result: GenerationResult,
    *,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    teacher_name: str,
    teacher: dict[str, Any],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Split, write the three JSONL files, stats.json and README.md into `out`; returns the stats."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    splits = split_samples(result.samples, val_fraction, test_fraction, seed)
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, samples in splits.items():
        rows[name] = [task.to_row(sample, teacher_name) for sample in samples]
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows[name])
        atomic_write_text(folder / SPLIT_FILES[name], text)
    stats = build_stats(task, result, splits, seed=seed, teacher=teacher,
                        settings={**settings, "val_fraction": val_fraction, "test_fraction": test_fraction})
    atomic_write_json(folder / "stats.json", stats)
    pool = rows["train"] or rows["val"] or rows["test"]
    example = min(pool, key=lambda r: (len(str(r.get("prompt", ""))), str(r.get("id")))) if pool else None
    atomic_write_text(folder / "README.md", dataset_card(stats, example))
    return stats


def _table(title: str, counts: dict[str, int]) -> list[str]:
    lines = [f"| {title} | rows |", "|---|---:|"]
    lines += [f"| {name} | {count} |" for name, count in counts.items()]
    return lines


def dataset_card(stats: dict[str, Any], example: dict[str, Any] | None) -> str:
    """A Hugging Face style dataset card built only from the (deterministic parts of the) stats."""
    task = stats["task"]
    gen = stats["generator"]
    group_key = next((k for k in stats if k.startswith("by_") and k not in ("by_style", "by_split")), "by_group")
    spec_keys = [k for k in stats if k.startswith("by_") and k not in ("by_style", "by_split", group_key)]
    lines = [
        "---",
        f"pretty_name: maaza synthetic {task}",
        "language:",
        "- en",
        "tags:",
        "- synthetic",
        "- json-extraction",
        "- maaza",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        "    path: train.jsonl",
        "  - split: validation",
        "    path: val.jsonl",
        "  - split: test",
        "    path: test.jsonl",
        "---",
        "",
        f"# maaza synthetic {task} data",
        "",
        f"Generated with `maaza data generate --task {task}` (maaza {gen['maaza_version']}, seed {stats['seed']}).",
        "",
        "## How it was made",
        "",
        "1. **Record first.** A record is drawn from each JSON Schema (types, enums, formats, bounds, nested "
        "objects and arrays, required vs optional fields) with values chosen by field meaning "
        "(names, e-mails, prices, ids, dates...). Every record validates against its schema, so the label "
        "is right by construction.",
        "2. **Rendered as text** in one of several styles (key-value listing, prose, e-mail, chat message, "
        "log line, table, document) with paraphrased field labels and varied closing instructions.",
        f"3. **Teacher:** `{gen['teacher'].get('kind', 'template')}`"
        + (f" (`{gen['teacher'].get('model')}`)" if gen["teacher"].get("model") else "")
        + " (template = the rendered text is final; an LLM teacher rewrites it keeping every value verbatim).",
        "4. **Validated:** every leaf value of the record must appear in the text in its JSON form "
        "(rejects are counted as `ungrounded:<key>`); exact and near-duplicate texts are dropped; texts equal "
        f"or close to any of the {gen.get('excluded_texts', 0)} excluded (held-out test) texts are dropped.",
        "",
        "## Rows",
        "",
        "JSONL, one object per line: `id`, `schema_id`, `complexity`, `prompt` (the text), `expected_output` "
        "(the target JSON object), `style`, `teacher`.",
        "",
        f"Requested {stats['requested']}, written {stats['written']} "
        f"(train {stats['splits']['train']}, val {stats['splits']['val']}, test {stats['splits']['test']}).",
        "",
        *_table(group_key[3:], stats[group_key]),
        "",
        *_table("style", stats["by_style"]),
        "",
    ]
    for key in spec_keys:
        lines += [*_table(key[3:], stats[key]), ""]
    rejects = stats["rejects"]
    lines += [f"## Rejected candidates: {rejects['total']} (slots given up: {stats['dropped_slots']})", ""]
    if rejects["by_reason"]:
        lines += _table("reason", rejects["by_reason"])
        lines.append("")
    if example is not None:
        lines += ["## Example", "", "```json", json.dumps(example, ensure_ascii=False, indent=2), "```", ""]
    lines += [
        "## Reproduce",
        "",
        "```",
        gen.get("command") or f"maaza data generate --task {task} --schemas {gen.get('schemas')} "
        f"--n {stats['requested']} --seed {stats['seed']} --out OUT",
        "```",
        "",
        "An LLM teacher's answers are cached in `teacher_cache.jsonl` (by default in the output folder): "
        "re-running the command reuses them, so the rows come out the same.",
        "",
        f"Values come from Faker {gen.get('faker_version')} and curated word lists; other Faker versions give "
        "other (equally valid) values for the same seed. All values are synthetic: names, e-mails and "
        "addresses do not describe real people.",
        "",
    ]
    if "edgejson" in str(gen.get("schemas", "")).lower():
        lines += ["The schema definitions come from EdgeJSON v3 (CycleCore Technologies, CC BY 4.0, attribution "
                  "required); the generated rows use those schemas but none of EdgeJSON's rows.", ""]
    return "\n".join(lines)

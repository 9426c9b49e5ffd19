"""Which EdgeJSON v3 test answers does their text determine? The exact-match ceiling of any text-faithful model.

    python benchmarks/answerability.py                        # the committed QAT Q4_0 rows
    python benchmarks/answerability.py RESULTS.json [...]     # any `maaza eval` results files

Every v3 prompt is a listing of its answer (`maaza.data.render`'s `listing` style re-renders all 415 train
template rows byte for byte). So each test row falls in one of four classes (`maaza.tasks.edgejson.answerability`):

- `determined`: its gold answer, rendered as a listing, is its text below the title line, and a reader of
  that text groups its list items as the gold does (`listing_reading`: in an unmarked list a new item starts
  only where a label comes back or goes back in the schema's order). The text allows this one answer.
- `empty item`: as above, but the gold holds an empty list item `{}`, which the listing does not print.
- `other grouping`: the text is the gold's listing, but the gold splits list items a reader would read as
  one (`Field: Worry` then `Message: ...` as two items, where other rows make the same two lines one item).
- `text differs`: the gold, rendered, is not the text: it holds a value the text does not (`"language":
  "en"` for `Language: Own`), or leaves out a field the text has.

Only a model that guesses against its text can be exact on the last three. The report counts each class by
complexity, then each results file's exact matches on the determined rows. Writes
benchmarks/results/answerability.json|md.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from common import RESULTS_DIR, provenance_header
from maaza.envinfo import environment
from maaza.io import atomic_write_json, atomic_write_text
from maaza.schemas import load_schema_folder
from maaza.tasks.edgejson import default_paths, load_rows
from maaza.tasks.edgejson.answerability import ANSWER_CLASSES, answer_class

COMPLEXITIES = ("simple", "medium", "complex")
DEFAULT_RESULTS = sorted(RESULTS_DIR.glob("qat_q4_0*_constrained*.json"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="*", type=Path, default=DEFAULT_RESULTS,
                        help="`maaza eval` results files (default: the QAT Q4_0 rows of qat_q4_0.md)")
    args = parser.parse_args()
    data, schemas_dir = default_paths()
    if data is None:
        raise SystemExit("EdgeJSON v3 not found: set MAAZA_DATA_DIR")
    schemas = load_schema_folder(schemas_dir)
    rows = load_rows(data, schemas)
    classes = {row.id: answer_class(row.prompt, row.expected_output, schemas[row.schema_id]) for row in rows}
    complexity = {row.id: row.complexity for row in rows}
    counts = Counter((complexity[row_id], kind) for row_id, kind in classes.items())
    determined = {c: counts[(c, "determined")] for c in COMPLEXITIES}
    models = []
    for path in args.results:
        examples = json.loads(path.read_text())["examples"]
        exact = {e["id"] for e in examples if e["json_exact"]}
        if {e["id"] for e in examples} != set(classes):
            raise SystemExit(f"{path}: its examples are not the {len(classes)} EdgeJSON v3 test rows")
        models.append({
            "file": path.name,
            "exact": len(exact),
            "exact_determined": {c: sum(classes[i] == "determined" and complexity[i] == c for i in exact)
                                 for c in COMPLEXITIES},
            "exact_not_determined": sum(classes[i] != "determined" for i in exact),
        })
    results = {
        "environment": environment(),
        "rows": len(rows),
        "classes": {c: {kind: counts[(c, kind)] for kind in ANSWER_CLASSES} for c in COMPLEXITIES},
        "not_determined": {row_id: kind for row_id, kind in classes.items() if kind != "determined"},
        "ceiling": {"overall": sum(determined.values()), **determined},
        "models": models,
    }
    atomic_write_json(RESULTS_DIR / "answerability.json", results)
    total = sum(determined.values())
    lines = [
        provenance_header("Answers their text determines: EdgeJSON v3 test", results["environment"]),
        "| complexity | rows | " + " | ".join(ANSWER_CLASSES) + " |",
        "|---|---:|" + "---:|" * len(ANSWER_CLASSES),
        *[f"| {c} | {sum(counts[(c, k)] for k in ANSWER_CLASSES)} | " + " | ".join(str(counts[(c, k)]) for k in ANSWER_CLASSES)
          + " |" for c in COMPLEXITIES],
        f"| all | {len(rows)} | " + " | ".join(str(sum(counts[(c, k)] for c in COMPLEXITIES)) for k in ANSWER_CLASSES)
        + " |",
        "",
        f"Exact-match ceiling of a model that reads its text: {total} of {len(rows)} ({100 * total / len(rows):.1f}%); "
        + ", ".join(f"{c} {determined[c]}/{sum(counts[(c, k)] for k in ANSWER_CLASSES)}" for c in COMPLEXITIES) + ".",
        "",
        "Rows the text does not determine: "
        + ", ".join(f"`{row_id}` ({kind})" for row_id, kind in results["not_determined"].items()),
    ]
    if models:
        lines += ["", "| results file | exact | exact on determined rows | simple / medium / complex (determined) | "
                  "exact on the others |", "|---|---:|---:|---|---:|"]
        for model in models:
            by = model["exact_determined"]
            lines.append(
                f"| `{model['file']}` | {model['exact']} | {sum(by.values())}/{total} "
                f"({100 * sum(by.values()) / total:.1f}%) | "
                + " / ".join(f"{by[c]}/{determined[c]}" for c in COMPLEXITIES) + f" | {model['exact_not_determined']} |"
            )
    text = "\n".join(lines) + "\n"
    atomic_write_text(RESULTS_DIR / "answerability.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

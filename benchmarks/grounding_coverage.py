"""How much of EdgeJSON v3 can grounded decoding express? The ceiling of `--grounded` on the 158 test rows.

    python benchmarks/grounding_coverage.py

For every test row: are its gold string values spans of its text (as JSON writes them), are its gold
numbers written in the text, and does the grounded grammar (`maaza.decoding.grounded`, compiled for the row's
schema and text) accept the gold answer token by token (SmolLM2 tokenizer)? A row it rejects can never be
an exact match under `--grounded`. Nor can a row whose gold answer holds an empty list item (`{}`): the v3
listing prints nothing for it (`"errors": [{}, {"field": "Control"}]` reads `Errors: / Field: Control`), so
no text says it is there. Also times grammar compile + matcher creation per row. Writes
benchmarks/results/grounding_coverage.json|md.
"""

from __future__ import annotations

import json
import time
from typing import Any

from common import RESULTS_DIR, provenance_header
from maaza.decoding.constrained import TokenizerInfo, compile_grammar
from maaza.decoding.grounded import with_grounding
from maaza.envinfo import environment
from maaza.io import atomic_write_json, atomic_write_text
from maaza.models.registry import DEFAULT_MODEL, resolve_model
from maaza.schemas import flatten_leaves, load_schema_folder
from maaza.tasks.edgejson import default_paths, load_rows
from maaza.tasks.edgejson.answerability import holds_empty_item


def main() -> int:
    from llguidance import LLMatcher
    from transformers import AutoTokenizer

    data, schemas_dir = default_paths()
    if data is None:
        raise SystemExit("EdgeJSON v3 not found: set MAAZA_DATA_DIR")
    schemas = load_schema_folder(schemas_dir)
    rows = load_rows(data, schemas)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL).path)
    info = TokenizerInfo.for_tokenizer(tokenizer, 49152)
    strings = numbers = strings_in_text = numbers_in_text = 0
    rejected: list[dict[str, Any]] = []
    by_complexity: dict[str, dict[str, int]] = {}
    compile_seconds = 0.0
    unprinted: list[str] = []  # rows whose gold holds an empty list item
    for row in rows:
        leaves = flatten_leaves(row.expected_output)
        if holds_empty_item(leaves):
            unprinted.append(row.id)
        escaped_text = json.dumps(row.prompt, ensure_ascii=False)[1:-1]
        for leaf in leaves.values():
            if isinstance(leaf, str):
                strings += 1
                strings_in_text += json.dumps(leaf, ensure_ascii=False)[1:-1] in escaped_text
            elif isinstance(leaf, int | float) and not isinstance(leaf, bool):
                numbers += 1
                numbers_in_text += json.dumps(leaf) in row.prompt
        started = time.perf_counter()
        matcher = LLMatcher(info.llg, compile_grammar(with_grounding(schemas[row.schema_id], row.prompt)), log_level=0)
        compile_seconds += time.perf_counter() - started
        gold = json.dumps(row.expected_output, ensure_ascii=False, separators=(",", ":"))
        ids = tokenizer(gold, add_special_tokens=False)["input_ids"]
        taken = matcher.try_consume_tokens(ids)
        accepted = taken == len(ids) and matcher.is_accepting()
        counts = by_complexity.setdefault(row.complexity, {"rows": 0, "accepted": 0})
        counts["rows"] += 1
        counts["accepted"] += accepted
        if not accepted:
            rejected.append({"id": row.id, "accepted_prefix": tokenizer.decode(ids[:taken])[-60:],
                             "next": tokenizer.decode(ids[taken : taken + 3])})
    results = {
        "environment": environment(),
        "rows": len(rows),
        "gold_accepted": len(rows) - len(rejected),
        "by_complexity": by_complexity,
        "strings": strings,
        "strings_in_text": strings_in_text,
        "numbers": numbers,
        "numbers_in_text": numbers_in_text,
        "compile_ms_per_row": round(1000 * compile_seconds / len(rows), 1),
        "rejected": rejected,
        "empty_item_rows": unprinted,
        "exact_ceiling": len(rows) - len({r["id"] for r in rejected} | set(unprinted)),
    }
    atomic_write_json(RESULTS_DIR / "grounding_coverage.json", results)
    lines = [
        provenance_header("Grounded decoding coverage: EdgeJSON v3 test", results["environment"]),
        "| rows | gold answers the grounded grammar accepts | gold strings that are spans of the text | "
        "gold numbers written in the text | grammar compile + matcher ms/row |",
        "|---:|---:|---:|---:|---:|",
        f"| {len(rows)} | {results['gold_accepted']} | {strings_in_text} of {strings} | {numbers_in_text} of {numbers} | "
        f"{results['compile_ms_per_row']} |",
        "",
        "By complexity (accepted / rows): "
        + ", ".join(f"{c} {v['accepted']}/{v['rows']}" for c, v in sorted(by_complexity.items())),
        "",
        "Rejected gold answers (each holds a value that is not in its text):",
        "",
        *[f"- `{r['id']}`: accepted up to `…{r['accepted_prefix']}`, next `{r['next']}`" for r in rejected],
        "",
        f"Gold answers holding an empty list item `{{}}` that the text does not show ({len(unprinted)}): "
        + ", ".join(f"`{row_id}`" for row_id in unprinted),
        "",
        f"Rows that can be an exact match at all under `--grounded`: {results['exact_ceiling']} of {len(rows)} "
        f"({100 * results['exact_ceiling'] / len(rows):.1f}%).",
    ]
    text = "\n".join(lines) + "\n"
    atomic_write_text(RESULTS_DIR / "grounding_coverage.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

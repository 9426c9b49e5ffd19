"""`maaza bench speed`: decode tokens/s, time to first token, peak RSS and file size per backend.

Every target (a backend plus a model file or folder) runs in its own subprocess, one after the other,
so peak RSS is that target's alone and one runtime's threads never compete with another's. All
targets decode the same prompts: EdgeJSON-style extraction prompts built from generated rows of the
quickstart schemas (deterministic, no external data), chosen closest to `--prompt-tokens` tokens.
Per row, decode tokens/s = (new tokens - 1) / (wall seconds - time to first token): the first token
belongs to the prefill. Ratios are against the first `hf` target of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError

QUICKSTART_SCHEMAS = Path(__file__).resolve().parents[3] / "configs" / "schemas" / "quickstart"


@dataclass
class Target:
    """One runtime to measure: a backend name and what it loads."""

    backend: str
    model: str | None = None
    adapter: str | None = None
    dtype: str = "float32"
    draft: int | None = None  # llamacpp: prompt-lookup draft tokens (None: the backend's default, 0: off)
    # llamacpp: OMP_WAIT_POLICY of the worker. None: maaza's choice (ACTIVE unless set; maaza/openmp.py);
    # "default": unset, libgomp's own default (the A/B of that choice); else the value, e.g. "PASSIVE".
    openmp: str | None = None

    @property
    def label(self) -> str:
        shown = Path(self.model).name if self.model else "smollm2-135m"
        extra = f"+{Path(self.adapter).name}" if self.adapter else ""
        draft = f" draft={self.draft}" if self.draft is not None else ""
        omp = f" omp={self.openmp}" if self.openmp is not None else ""
        return f"{self.backend}:{shown}{extra}" + (f" ({self.dtype})" if self.backend == "hf" else "") + draft + omp


def parse_target(text: str) -> Target:
    """`BACKEND[=MODEL][@ADAPTER]`, e.g. `hf`, `hf-bfloat16=runs/x/merged`, `llamacpp=out/m-q4_0.gguf`,
    `llamacpp-draft0=...` (llama.cpp with prompt-lookup drafting off; `-draftN` drafts N tokens)."""
    backend, _, rest = text.partition("=")
    model, _, adapter = rest.partition("@")
    dtype = "float32"
    draft = None
    if backend.startswith("hf-"):
        backend, dtype = "hf", backend.removeprefix("hf-")
    elif backend.startswith("llamacpp-draft"):
        count = backend.removeprefix("llamacpp-draft")
        if not count.isdigit():
            raise MaazaError(f"--target '{text}': write llamacpp-draftN with N a number of tokens, e.g. llamacpp-draft0")
        backend, draft = "llamacpp", int(count)
    from maaza.decoding.backends import BACKENDS

    if backend not in BACKENDS:
        raise MaazaError(f"--target '{text}': unknown backend '{backend}'; choose one of {', '.join(BACKENDS)}")
    return Target(backend, model or None, adapter or None, dtype, draft)


def targets_from_exports(folder: str | Path) -> list[Target]:
    """Every GGUF file and ONNX folder `maaza export` wrote into `folder` (per its sizes.json)."""
    root = Path(folder)
    sizes = root / "sizes.json"
    if not sizes.is_file():
        raise MaazaError(f"{sizes} not found: --exports must be a folder written by `maaza export`")
    formats = json.loads(sizes.read_text(encoding="utf-8")).get("formats", {})
    found: list[Target] = []
    for fmt, entry in sorted(formats.items()):
        path = root / entry["path"]
        if fmt == "gguf-lora" and path.is_file():  # the adapter alone, run on its base's GGUF
            found.append(Target("llamacpp", entry.get("base"), adapter=str(path)))
        elif fmt.startswith("gguf-") and path.is_file():
            found.append(Target("llamacpp", str(path)))
        elif fmt.startswith("onnx-") and path.is_dir():
            found.append(Target("onnx", str(path)))
        elif fmt == "merged" and path.is_dir():
            found.append(Target("hf", str(path)))
    return found


def speed_prompts(tokenizer: Any, count: int, prompt_tokens: int, prompt_format: str, seed: int = 7) -> list[str]:
    """`count` extraction prompts whose token length is closest to `prompt_tokens`."""
    from maaza.data.engine import run_generation
    from maaza.data.teachers import TemplateTeacher
    from maaza.schemas import load_schema_folder
    from maaza.tasks.edgejson import build_prompt
    from maaza.tasks.edgejson.generator import build_task

    schemas = load_schema_folder(QUICKSTART_SCHEMAS)
    task = build_task(QUICKSTART_SCHEMAS)
    samples = run_generation(task, TemplateTeacher(), n=max(4 * count, 40), seed=seed).samples
    prompts = [build_prompt(s.text, schemas[s.spec.id], prompt_format, tokenizer) for s in samples]
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    ranked = sorted(range(len(prompts)), key=lambda i: (abs(lengths[i] - prompt_tokens), i))
    return [prompts[i] for i in ranked[:count]]


def measure(target: Target, *, prompts: int, prompt_tokens: int, max_new_tokens: int, threads: int | None,
            constrained: bool) -> dict[str, Any]:
    """Load `target` in this process and time greedy decoding (called inside the worker subprocess)."""
    import torch

    from maaza.decoding.backends import load_backend
    from maaza.envinfo import peak_rss_mb
    from maaza.models.loading import saved_model_metadata
    from maaza.schemas import load_schema_folder
    from maaza.tasks import get_task
    from maaza.tasks.base import choose_prompt_format

    if threads:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    options: dict[str, Any] = {"threads": threads} if threads and target.backend != "hf" else {}
    if target.draft is not None:
        options["draft_tokens"] = target.draft
    backend = load_backend(target.backend, target.model, adapter=target.adapter, dtype=target.dtype, **options)
    load_seconds = time.perf_counter() - started
    metadata = saved_model_metadata(target.model, target.adapter)
    if metadata.get("task", "edgejson") != "edgejson":
        metadata = {}  # decode speed is the file's: a model of another task is timed on the same extraction prompts
    prompt_format = choose_prompt_format(None, metadata, get_task("edgejson"))
    texts = speed_prompts(backend.tokenizer, prompts + 1, prompt_tokens, prompt_format)
    schema = None
    if constrained:
        schemas = load_schema_folder(QUICKSTART_SCHEMAS)
        schema = next(iter(schemas.values()))
    backend.generate(texts[:1], None, max_new_tokens=16, stop_on_json_close=False)  # warm-up
    rows = []
    for text in texts[1:]:
        batch = backend.generate(
            [text], [schema] if schema is not None else None, max_new_tokens=max_new_tokens,
            stop_on_json_close=False,
        )
        gen = batch.generations[0]
        decode_seconds = gen.seconds - gen.ttft_seconds
        rows.append({
            "prompt_tokens": gen.prompt_tokens,
            "new_tokens": gen.new_tokens,
            "seconds": gen.seconds,
            "ttft_seconds": gen.ttft_seconds,
            "decode_seconds": decode_seconds,
        })
    decoded = sum(max(r["new_tokens"] - 1, 0) for r in rows)
    decode_seconds = sum(r["decode_seconds"] for r in rows)
    described = backend.describe()
    backend.close()
    size = described.get("file_size_bytes")
    if size and target.backend == "llamacpp":
        size += described.get("adapter_size_bytes") or 0  # what a user ships: base GGUF + LoRA GGUF
    return {
        "target": asdict(target),
        "label": target.label,
        "backend": target.backend,
        "precision": described.get("precision"),
        "file_size_bytes": size,
        "params": described.get("params"),
        "load_seconds": round(load_seconds, 2),
        "rows": len(rows),
        "prompt_tokens_mean": round(sum(r["prompt_tokens"] for r in rows) / len(rows), 1),
        "new_tokens_total": sum(r["new_tokens"] for r in rows),
        "decode_tokens_per_s": round(decoded / decode_seconds, 2) if decode_seconds > 0 else None,
        "end_to_end_tokens_per_s": round(sum(r["new_tokens"] for r in rows) / sum(r["seconds"] for r in rows), 2),
        "ttft_ms_mean": round(1000 * sum(r["ttft_seconds"] for r in rows) / len(rows), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "threads": described.get("threads") or threads,
        "openmp_wait_policy": described.get("openmp_wait_policy"),
        "per_row": rows,
    }


def run_targets(targets: list[Target], *, prompts: int = 5, prompt_tokens: int = 200, max_new_tokens: int = 128,
                threads: int | None = None, constrained: bool = False,
                report: Any = None) -> list[dict[str, Any]]:
    """Measure each target in its own subprocess; a target that fails is recorded with its error."""
    say = report or (lambda _line: None)
    results: list[dict[str, Any]] = []
    for target in targets:
        command = [
            sys.executable, "-m", "maaza.eval.speed", "--worker", json.dumps(asdict(target)),
            "--prompts", str(prompts), "--prompt-tokens", str(prompt_tokens),
            "--max-new-tokens", str(max_new_tokens),
        ]
        if threads:
            command += ["--threads", str(threads)]
        if constrained:
            command.append("--constrained")
        say(f"measuring {target.label} ...")
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            error = (done.stderr.strip().splitlines() or ["no output"])[-1]
            results.append({"target": asdict(target), "label": target.label, "backend": target.backend,
                            "error": error})
            say(f"  failed: {error}")
            continue
        result = json.loads(lines[-1])
        results.append(result)
        say(f"  decode {result['decode_tokens_per_s']} tok/s, TTFT {result['ttft_ms_mean']} ms, "
            f"peak RSS {result['peak_rss_mb']} MiB")
    baseline = next((r for r in results if r["backend"] == "hf" and r.get("decode_tokens_per_s")), None)
    for r in results:
        if baseline and r.get("decode_tokens_per_s"):
            r["decode_ratio_vs_hf_fp32"] = round(r["decode_tokens_per_s"] / baseline["decode_tokens_per_s"], 2)
    return results


def format_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| target | backend | precision | size MB | decode tok/s | x hf fp32 | TTFT ms (prompt tok) | "
        "peak RSS MiB | load s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['label']} | {r['backend']} | - | - | failed: {r['error'][:80]} | - | - | - | - |")
            continue
        size = r.get("file_size_bytes")
        lines.append(
            f"| {r['label']} | {r['backend']} | {r['precision']} | {'-' if size is None else f'{size / 1e6:.1f}'} | "
            f"{r['decode_tokens_per_s']} | {r.get('decode_ratio_vs_hf_fp32', '-')} | "
            f"{r['ttft_ms_mean']} ({r['prompt_tokens_mean']:.0f}) | {r['peak_rss_mb']} | {r['load_seconds']} |"
        )
    return "\n".join(lines)


def add_parser(sub: Any) -> None:
    """Register `maaza bench speed`."""
    bench = sub.add_parser("bench", help="measure inference speed across backends and precisions")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, metavar="{speed}")
    p = bench_sub.add_parser(
        "speed",
        help="decode tok/s, TTFT, peak RSS and size per backend x precision, in one run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--target", action="append", default=[], metavar="BACKEND[=MODEL][@ADAPTER]",
                   help="a runtime to measure, repeatable: hf (bundled model, fp32), hf-bfloat16, "
                        "hf=FOLDER, hf=BASE@ADAPTER, llamacpp=FILE.gguf, llamacpp=BASE.gguf@LORA.gguf, "
                        "llamacpp-draft0=FILE.gguf (prompt-lookup drafting off), onnx=FOLDER")
    p.add_argument("--exports", default=None,
                   help="also measure every GGUF/ONNX/merged export listed in this `maaza export` folder")
    p.add_argument("--prompts", type=int, default=5, help="timed prompts per target (default 5)")
    p.add_argument("--prompt-tokens", type=int, default=200, help="target prompt length (default 200)")
    p.add_argument("--max-new-tokens", type=int, default=128, help="decode budget per prompt (default 128)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for every runtime (default: its own)")
    p.add_argument("--constrained", action="store_true", help="decode under a JSON-Schema constraint")
    p.add_argument("--out", required=True, help="results JSON path (a markdown table is written beside it)")
    p.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from maaza.envinfo import environment
    from maaza.io import atomic_write_json, atomic_write_text

    for name in ("prompts", "prompt_tokens", "max_new_tokens"):
        if getattr(args, name) <= 0:
            raise MaazaError(f"--{name.replace('_', '-')} must be a positive number")
    targets = [parse_target(t) for t in args.target] or ([] if args.exports else [Target("hf")])
    if args.exports:
        targets += targets_from_exports(args.exports)
    if not any(t.backend == "hf" for t in targets):
        targets.insert(0, Target("hf"))  # the baseline every ratio refers to
    results = run_targets(targets, prompts=args.prompts, prompt_tokens=args.prompt_tokens,
                          max_new_tokens=args.max_new_tokens, threads=args.threads,
                          constrained=args.constrained, report=print)
    payload = {
        "settings": {"prompts": args.prompts, "prompt_tokens": args.prompt_tokens,
                     "max_new_tokens": args.max_new_tokens, "threads": args.threads,
                     "constrained": args.constrained},
        "environment": environment(),
        "results": results,
    }
    out = Path(args.out)
    atomic_write_json(out, payload)
    table = format_table(results)
    atomic_write_text(out.with_suffix(".md"), table + "\n")
    print(table)
    print(f"\nresults: {out}")
    return 1 if any("error" in r for r in results) else 0


def _worker(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True)
    parser.add_argument("--prompts", type=int, default=5)
    parser.add_argument("--prompt-tokens", type=int, default=200)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--constrained", action="store_true")
    args = parser.parse_args(argv)
    target = Target(**json.loads(args.worker))
    if target.backend == "llamacpp":  # the OpenMP wait policy, before `measure` imports torch (and OpenMP)
        from maaza.openmp import POLICY_ENV, prefer_active_wait

        if target.openmp == "default":
            os.environ.pop(POLICY_ENV, None)
        elif target.openmp:
            os.environ[POLICY_ENV] = target.openmp
        else:
            prefer_active_wait()
    try:
        result = measure(target, prompts=args.prompts, prompt_tokens=args.prompt_tokens,
                         max_new_tokens=args.max_new_tokens, threads=args.threads, constrained=args.constrained)
    except MaazaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))

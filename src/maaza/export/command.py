"""`maaza export --model M [--adapter A] --out DIR --formats merged gguf-f16 gguf-q8_0 onnx-int4 ...`.

Each format lands in DIR (`merged/`, `<name>-<type>.gguf`, `<name>-onnx-<precision>/`), written
atomically, and `DIR/sizes.json` records per format its bytes, export seconds and round-trip check (see
`verify_gguf` / `verify_merged` / `verify_onnx`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.export.gptq import GPTQSettings

ONNX_FORMATS = ("onnx-fp32", "onnx-int8", "onnx-int4")
# `-pure`: every matrix at the one type, the token embedding / tied output head too (as llama-quantize
# --pure); plain 4-bit formats keep that head Q8_0. The head is read at every decode step, so a pure Q4_0
# file is ~15% smaller and decodes faster, at some quality cost (benchmarks/edge_speed.md, constrained_quality.md).
PURE_SUFFIX = "-pure"
# The pure Q4_0 layout with every matrix chosen by GPTQ on calibration rows (maaza.export.gptq) instead of
# rounded to nearest: the merged fine-tune survives 4 bits. The IQ4_NL one: the same with llama.cpp's
# non-linear 4-bit grid (same size and speed, closer weights; measured: the same JSONExact as Q4_0 GPTQ).
GPTQ_FORMAT = "gguf-q4_0-gptq"
IQ4_NL_GPTQ_FORMAT = "gguf-iq4_nl-gptq"
GPTQ_FORMATS = {GPTQ_FORMAT: "q4_0", IQ4_NL_GPTQ_FORMAT: "iq4_nl"}  # format -> block type
FORMATS = ("merged", "gguf-f16", "gguf-q8_0", "gguf-q4_0", "gguf-q4_0-pure", GPTQ_FORMAT, IQ4_NL_GPTQ_FORMAT,
           "gguf-q4_1", "gguf-lora", *ONNX_FORMATS)
DEFAULT_GGUF_FORMATS = ("gguf-f16", "gguf-q8_0", "gguf-q4_1")
SIZES_FILE = "sizes.json"


def add_parser(sub: Any) -> None:
    """Register `maaza export` on an argparse subparsers object."""
    p = sub.add_parser(
        "export",
        help="export a model to deployable files (merged safetensors, GGUF f16/q8_0/q4_x, ONNX fp32/int8/int4)",
        description="Export a model (+ LoRA adapter) into --out: 'merged' (adapter merged into its base, a "
        "plain transformers folder), GGUF files for llama.cpp (gguf-f16, gguf-q8_0, gguf-q4_0, gguf-q4_1 with "
        "a Q8_0 token embedding/output head; gguf-q4_0-pure: that head Q4_0 too, the fastest file; "
        f"{GPTQ_FORMAT}: the same layout with each matrix quantized by GPTQ on --calibration rows, so a "
        f"merged fine-tune keeps its quality at 4 bits; {IQ4_NL_GPTQ_FORMAT}: the same with llama.cpp's "
        "non-linear IQ4_NL blocks (same size); "
        "gguf-lora: the adapter alone as a LoRA GGUF, run on the base's own 4-bit GGUF with `maaza eval "
        "--backend llamacpp --model BASE --adapter FILE`, which keeps the fine-tune that re-quantizing loses) and "
        "ONNX Runtime GenAI folders (onnx-fp32, onnx-int8, onnx-int4: MatMulNBits weights in blocks of 32; "
        "`maaza eval --backend onnx --model FOLDER` runs them). Every export is reloaded and compared with the "
        "source (transformers reads GGUF; ONNX runs in ORT GenAI); sizes and check "
        f"results go to --out/{SIZES_FILE}. Default formats: merged (with --adapter) + "
        f"{' '.join(DEFAULT_GGUF_FORMATS)}.",
    )
    p.add_argument("--model", default=None,
                   help="smollm2-135m (default), a model folder (e.g. runs/x/merged); with --adapter: its base")
    p.add_argument("--adapter", default=None, help="a peft LoRA adapter folder, merged before export")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--formats", nargs="+", choices=FORMATS, default=None, metavar="FORMAT",
                   help=f"one or more of: {', '.join(FORMATS)}")
    p.add_argument("--name", default=None,
                   help="file stem of the GGUF files and ONNX folders (default: the model's name)")
    p.add_argument("--tokenizer-pre", default=None,
                   help="llama.cpp pre-tokenizer name (default: guessed, e.g. smollm for SmolLM2)")
    p.add_argument("--no-check", action="store_true", help="skip reloading and comparing each export")
    p.add_argument("--check-tokens", type=int, default=16, help="greedy tokens compared per check (default 16)")
    p.add_argument("--calibration", default=None, metavar="ROWS.jsonl",
                   help=f"{GPTQ_FORMAT} / {IQ4_NL_GPTQ_FORMAT}: EdgeJSON rows (prompt, schema_id, expected_output) whose prompts + "
                   "targets calibrate GPTQ (default: the data root's edgejson_v3/train.jsonl)")
    p.add_argument("--calibration-schemas", default=None, metavar="DIR",
                   help="their schema folder (default: `schemas` beside the rows)")
    p.add_argument("--calibration-rows", type=int, default=128, help="rows drawn (seeded) for GPTQ (default 128)")
    p.add_argument("--gptq-damp", type=float, default=0.01,
                   help="GPTQ's dampening, a fraction of the Hessian's mean diagonal (default 0.01)")
    p.add_argument("--gptq-no-act-order", action="store_true",
                   help="GPTQ in input order instead of largest activations first")
    p.add_argument("--gptq-sequential", action="store_true",
                   help="GPTQ Hessians layer by layer through the quantized layers before (default: one pass "
                   "of the unquantized model)")
    p.add_argument("--gptq-keep-q8_0", type=int, default=0, metavar="N",
                   help="write the N matrices with GPTQ's largest relative output error on the calibration "
                   "rows as Q8_0 instead of 4-bit (default 0: all 4-bit)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler: export, print one line per format; exit 1 if a round-trip check failed."""
    if args.check_tokens <= 0:
        raise MaazaError("--check-tokens must be a positive number")
    summary = export_model(
        args.out, args.formats, model=args.model, adapter=args.adapter, name=args.name,
        tokenizer_pre=args.tokenizer_pre, check=not args.no_check, check_tokens=args.check_tokens,
        report=print, gptq=GPTQSettings(args.calibration, args.calibration_schemas, args.calibration_rows,
                                        args.gptq_damp, act_order=not args.gptq_no_act_order,
                                        sequential=args.gptq_sequential, keep_q8_0=args.gptq_keep_q8_0),
    )
    failed = [fmt for fmt, entry in summary["formats"].items()
              if fmt in summary["last_run"] and (entry.get("check") or {}).get("passed") is False]
    print(f"sizes: {Path(args.out) / SIZES_FILE}")
    if failed:
        print(f"round-trip check FAILED for: {', '.join(failed)}")
        return 1
    return 0


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "model"


def _describe_check(check: dict[str, Any] | None) -> str:
    if not check:
        return "not checked"
    if "greedy_prefix_tokens" not in check:
        return f"{'passed' if check['passed'] else 'FAILED'} (max |dlogit| {check['max_abs_logit_diff']:.2e})"
    state = "passed" if check["passed"] else "FAILED"
    tokenizer = check.get("tokenizer_ids_equal")
    tok = "" if tokenizer is None else f", tokenizer {'same' if tokenizer else 'DIFFERENT'}"
    return (
        f"{state} (greedy {check['greedy_prefix_tokens']}/{check['new_tokens']} same, "
        f"top-1 {check['top1_agreement']:.1%}, max |dlogit| {check['max_abs_logit_diff']:.3g}{tok})"
    )


def verify_merged(merged_dir: str | Path, adapter: str | Path, base_model: str | None = None) -> dict[str, Any]:
    """Logits of the merged folder vs the base model with the adapter applied unmerged (fp32)."""
    import torch

    from maaza.export.gguf_export import DEFAULT_CHECK_PROMPT
    from maaza.models.loading import load_model

    started = time.perf_counter()
    reference = load_model(base_model, adapter=str(adapter))
    merged = load_model(str(merged_dir))
    ids = reference.tokenizer(DEFAULT_CHECK_PROMPT, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        expected = reference.model(input_ids=ids).logits[0]
        got = merged.model(input_ids=ids).logits[0]
    diff = float((expected - got).abs().max())
    return {
        "passed": diff < 1e-3,
        "reference": "base + adapter (unmerged)",
        "max_abs_logit_diff": round(diff, 8),
        "top1_agreement": round(float((expected.argmax(-1) == got.argmax(-1)).float().mean()), 4),
        "positions": int(ids.shape[1]),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _export_lora(adapter: str, merged_source: Path, path: Path, stem: str, base: str | None) -> dict[str, Any]:
    """The adapter as a llama.cpp LoRA GGUF (F16), for the base model's own 4-bit GGUF (see gguf_lora.py)."""
    from maaza.export.gguf_lora import export_gguf_lora
    from maaza.models.registry import DEFAULT_MODEL

    config = json.loads((merged_source / "config.json").read_text(encoding="utf-8"))
    n_head = int(config["num_attention_heads"])
    info = export_gguf_lora(adapter, path, n_head=n_head, n_head_kv=int(config.get("num_key_value_heads") or n_head),
                            n_layers=int(config["num_hidden_layers"]), name=stem)
    return {**info.to_dict(), "path": path.name, "base": base or DEFAULT_MODEL, "check": None}


def _read_sizes(path: Path) -> dict[str, Any]:
    """The earlier runs' `sizes.json` (verified; a damaged one falls back to its hidden `.sizes.json.prev` with a warning,
    and with neither good the run starts a new summary, saying so)."""
    from maaza.errors import warn_integrity
    from maaza.io import read_checked_json

    try:
        return read_checked_json(path, what="export summary") or {}
    except MaazaError as exc:
        warn_integrity(f"{exc}; starting a new summary")
        return {}


def export_model(
    out_dir: str | Path,
    formats: list[str] | tuple[str, ...] | None = None,
    *,
    model: str | None = None,
    adapter: str | None = None,
    name: str | None = None,
    tokenizer_pre: str | None = None,
    check: bool = True,
    check_tokens: int = 16,
    report: Any = None,
    gptq: GPTQSettings | None = None,
) -> dict[str, Any]:
    """Export `model` (+ `adapter`) to `formats` in `out_dir`; returns what `sizes.json` now holds."""
    from maaza.export.gguf_export import export_gguf, verify_gguf
    from maaza.export.gptq import gptq_from_folder
    from maaza.export.merged import export_merged, folder_bytes
    from maaza.export.onnx_export import export_onnx, verify_onnx
    from maaza.io import atomic_write_json, remove_stale_temps, temp_prefix, write_checked_json
    from maaza.models.loading import METADATA_FILE, read_model_metadata
    from maaza.models.registry import DEFAULT_MODEL, resolve_model

    chosen = list(dict.fromkeys(formats or ((("merged",) if adapter else ()) + DEFAULT_GGUF_FORMATS)))
    unknown = [fmt for fmt in chosen if fmt not in FORMATS]
    if unknown:
        raise MaazaError(f"unknown export format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    if any(fmt in GPTQ_FORMATS for fmt in chosen):
        (gptq or GPTQSettings()).resolve()  # a missing calibration file fails before any work
    if "merged" in chosen and not adapter:
        raise MaazaError("the 'merged' format needs --adapter (a plain model folder is already merged)")
    if "gguf-lora" in chosen and not adapter:
        raise MaazaError("the 'gguf-lora' format needs --adapter (it writes the adapter alone, for a base GGUF)")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MaazaError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    say = report or (lambda _line: None)
    sizes_path = out / SIZES_FILE
    summary = _read_sizes(sizes_path)
    summary.setdefault("formats", {})
    summary["last_run"] = chosen

    hub_id: str | None = None
    remove_stale_temps(out, "export")
    with tempfile.TemporaryDirectory(prefix=temp_prefix("export"), dir=out) as scratch:
        if adapter:
            metadata = read_model_metadata(adapter)
            merged_dir = out / "merged" if "merged" in chosen else Path(scratch) / "merged"
            started = time.perf_counter()
            export_merged(adapter, merged_dir, base_model=model)
            source = merged_dir
            default_name = metadata.get("name") or Path(adapter).resolve().parent.name
            if "merged" in chosen:
                entry = {"path": "merged", "bytes": folder_bytes(merged_dir),
                         "seconds": round(time.perf_counter() - started, 2)}
                entry["check"] = verify_merged(merged_dir, adapter, model) if check else None
                summary["formats"]["merged"] = entry
                say(f"merged      {'merged/':28s} {entry['bytes'] / 1e6:8.1f} MB  {_describe_check(entry['check'])}")
        else:
            resolved = resolve_model(model or DEFAULT_MODEL)
            if resolved.source == "hub":
                raise MaazaError(f"export needs a local model folder; '{resolved.path}' is a hub id")
            source = Path(resolved.path)
            hub_id = resolved.hub_id
            metadata = read_model_metadata(source)
            default_name = metadata.get("name") or resolved.name
        stem = _safe_name(name or str(default_name))
        summary["source"] = {
            "model": model or (metadata.get("base_model") if adapter else DEFAULT_MODEL),
            "adapter": adapter,
            "folder": str(source) if not str(source).startswith(scratch) else None,
            "safetensors_bytes": sum(f.stat().st_size for f in source.glob("*.safetensors")),
        }
        # The prompt format (and name, task) travel with every file written here, not only with `merged/`:
        # a GGUF exported alone would otherwise be prompted in the default format by `maaza eval`/`extract`.
        if folder_metadata := read_model_metadata(source):
            atomic_write_json(out / METADATA_FILE, folder_metadata)
        tokenizer_result: tuple[str, bool | None] | None = None
        if "gguf-lora" in chosen:
            assert adapter is not None
            entry = _export_lora(adapter, source, out / f"{stem}-lora-f16.gguf", stem, model or metadata.get("base_model"))
            summary["formats"]["gguf-lora"] = entry
            write_checked_json(sizes_path, summary)
            say(f"{'gguf-lora':11s} {entry['path']:28s} {entry['file_size_bytes'] / 1e6:8.1f} MB  "
                f"(run on the base GGUF: --backend llamacpp --model {entry['base']} --adapter {entry['path']})")
        for fmt in chosen:
            if not fmt.startswith("gguf-") or fmt == "gguf-lora":
                continue
            kind = fmt.removeprefix("gguf-")
            path = out / f"{stem}-{kind}.gguf"
            calibrated, gptq_summary, type_overrides = None, None, None
            if fmt in GPTQ_FORMATS:
                qtype = embedding_type = GPTQ_FORMATS[fmt]
                calibrated, gptq_summary = gptq_from_folder(source, gptq or GPTQSettings(), say, kind=qtype)
                type_overrides = dict.fromkeys(gptq_summary["kept_q8_0"], "q8_0")
            else:
                qtype = kind.removesuffix(PURE_SUFFIX)
                embedding_type = qtype if kind.endswith(PURE_SUFFIX) else None
            info = export_gguf(source, path, qtype, tokenizer_pre=tokenizer_pre, name=stem,
                               embedding_type=embedding_type, calibrated=calibrated, type_overrides=type_overrides)
            entry = {"path": path.name, **info.to_dict()}
            if gptq_summary is not None:
                entry["gptq"] = gptq_summary
            entry["path"] = path.name
            entry["check"] = None
            if check:
                # Rebuilding the tokenizer from GGUF metadata takes seconds and it is identical in every
                # type written from this source, so it is compared once per run.
                result = verify_gguf(path, source, new_tokens=check_tokens, check_tokenizer=tokenizer_result is None)
                if tokenizer_result is None:
                    tokenizer_result = (fmt, result["tokenizer_ids_equal"])
                else:
                    result["tokenizer_ids_equal"] = tokenizer_result[1]
                    result["tokenizer_checked_in"] = tokenizer_result[0]
                    result["passed"] = bool(result["passed"] and tokenizer_result[1] is not False)
                entry["check"] = result
            summary["formats"][fmt] = entry
            summary["updated"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")  # noqa: UP017
            write_checked_json(sizes_path, summary)
            say(f"{fmt:11s} {path.name:28s} {info.bytes / 1e6:8.1f} MB  {_describe_check(entry['check'])}")
        for fmt in chosen:
            if fmt not in ONNX_FORMATS:
                continue
            precision = fmt.removeprefix("onnx-")
            folder = out / f"{stem}-onnx-{precision}"
            onnx_info = export_onnx(source, folder, precision, name=str(name or default_name), hub_id=hub_id)
            entry = {**onnx_info.to_dict(), "path": folder.name}
            entry["check"] = verify_onnx(folder, source, new_tokens=check_tokens) if check else None
            summary["formats"][fmt] = entry
            summary["updated"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")  # noqa: UP017
            write_checked_json(sizes_path, summary)
            say(f"{fmt:11s} {folder.name + '/':28s} {onnx_info.bytes / 1e6:8.1f} MB  "
                f"{_describe_check(entry['check'])}")
    summary["updated"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")  # noqa: UP017
    write_checked_json(sizes_path, summary)
    return summary

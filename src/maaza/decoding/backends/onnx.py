"""The ONNX Runtime GenAI backend: a folder written by `maaza export --formats onnx-int4|onnx-int8|onnx-fp32`.

Prompts are built and tokenized with the folder's Hugging Face tokenizer (as in the transformers backend)
and fed to ORT GenAI as token ids, so both backends see identical inputs. Rows are decoded one at a time
(`batched = False`): ORT GenAI derives its attention mask from `pad_token_id`, which for SmolLM2 is
`<|im_end|>`, a token every chat prompt contains, so padded batches would mask real prompt tokens.

Greedy decoding stops at an EOS id (the tokenizer's plus `genai_config.json`'s, `<|im_end|>` for SmolLM2;
not part of the output) or, with `stop_on_json_close`, when the top-level JSON object closes. Timings are
measured per row like the transformers backend: seconds from the start of that row's decode (prefill
included) to its last token, TTFT = prefill + first token.

Schema constraints (`constraint=`):

- `"guidance"` (default): ORT GenAI's built-in llguidance (`GeneratorParams.set_guidance("json_schema")`),
  fed the very schema `maaza.decoding.constrained.compile_grammar` builds for the transformers backend
  (`prepare_schema` rewrites + compact JSON, `x-guidance: whitespace_flexible=false`). Masks are computed
  inside ORT GenAI, so only `compile_seconds` (our compile + ORT's guidance setup) is measured;
  `mask_seconds`/`mask_calls` stay 0.
- `"mask"`: our `SchemaLogitsProcessor` applied to the logits between steps (`get_logits`/`set_logits`),
  the transformers backend's exact code path; all of ConstraintStats is measured.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from maaza.decoding.backends.base import Backend, BackendBatch, ConstraintStats
from maaza.decoding.generate import BatchTiming, Generation, merge_eos_ids
from maaza.decoding.json_parse import JsonObjectTracker
from maaza.errors import MaazaError
from maaza.models.loading import first_line

CONSTRAINT_MODES = ("guidance", "mask")


def _default_threads() -> int | None:
    """torch's thread count when torch is loaded (it follows OMP_NUM_THREADS and `--threads`), else None."""
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else None


class OnnxBackend(Backend):
    name = "onnx"
    batched = False

    def __init__(
        self,
        folder: Path,
        model: Any,
        tokenizer: Any,
        metadata: dict[str, Any],
        genai_config: dict[str, Any],
        *,
        threads: int | None,
        constraint: str,
    ):
        self.folder = folder
        self.model = model
        self.tokenizer = tokenizer
        self.metadata = metadata
        self.genai_config = genai_config
        self.threads = threads
        self.constraint = constraint
        model_config = genai_config.get("model", {})
        self.vocab_size = int(model_config.get("vocab_size") or len(tokenizer))
        self.context_length = int(model_config.get("context_length") or 0) or None
        self.eos_ids = merge_eos_ids(model_config.get("eos_token_id"), tokenizer)

    @classmethod
    def load(
        cls,
        model: str | None,
        adapter: str | None = None,
        dtype: str = "float32",
        threads: int | None = None,
        constraint: str = "guidance",
    ) -> OnnxBackend:
        from maaza.export.onnx_export import GENAI_CONFIG, import_genai, load_genai_model
        from maaza.models.loading import load_tokenizer, read_model_metadata

        if adapter:
            raise MaazaError(
                "the onnx backend cannot apply a LoRA adapter at run time; merge it first: "
                "`maaza export --model BASE --adapter ADAPTER --formats onnx-int4 --out DIR`, then "
                "--backend onnx --model DIR/<name>-onnx-int4"
            )
        if dtype != "float32":
            raise MaazaError(
                f"--dtype {dtype} does not apply to the onnx backend: it runs the precision the folder was "
                "exported with (onnx-fp32 / onnx-int8 / onnx-int4)"
            )
        if constraint not in CONSTRAINT_MODES:
            raise MaazaError(
                f"unknown constraint mode '{constraint}'; choose one of {', '.join(CONSTRAINT_MODES)}"
            )
        if not model:
            raise MaazaError(
                "the onnx backend needs --model, an ONNX Runtime GenAI folder written by "
                "`maaza export --formats onnx-int4` (or onnx-int8 / onnx-fp32)"
            )
        import_genai()
        folder = Path(model)
        if not (folder / GENAI_CONFIG).is_file():
            raise MaazaError(
                f"{model} is not an ONNX Runtime GenAI folder (no {GENAI_CONFIG}); export one with "
                "`maaza export --model M --out DIR --formats onnx-int4`"
            )
        chosen_threads = threads or _default_threads()
        genai_model = load_genai_model(folder, threads=chosen_threads)
        tokenizer = load_tokenizer(str(folder))
        genai_config = json.loads((folder / GENAI_CONFIG).read_text(encoding="utf-8"))
        return cls(
            folder,
            genai_model,
            tokenizer,
            read_model_metadata(folder),
            genai_config,
            threads=chosen_threads,
            constraint=constraint,
        )

    # ------------------------------------------------------------------------------------ decoding

    def _guidance(self, schema: dict[str, Any], lenient_datetime: bool) -> tuple[str, str]:
        """(guidance type, text) for ORT GenAI: the JSON Schema (with x-guidance options) inside the grammar
        the transformers backend compiles, or the Lark grammar of a grounded schema (`maaza.decoding.grounded`)."""
        from maaza.decoding.constrained import compile_grammar

        grammar = json.loads(compile_grammar(schema, lenient_datetime=lenient_datetime))["grammars"][0]
        if grammar.get("lark_grammar"):  # a JSON-Schema grammar holds "lark_grammar": null
            return "lark_grammar", grammar["lark_grammar"]
        return "json_schema", json.dumps(grammar["json_schema"])

    def _generate_one(
        self,
        prompt: str,
        schema: dict[str, Any] | None,
        *,
        max_new_tokens: int,
        stop_on_json_close: bool,
        lenient_datetime: bool,
        loop_guard: bool,
        stats: ConstraintStats,
        on_token: Any = None,
        row: int = 0,
    ) -> Generation:
        import numpy as np

        from maaza.export.onnx_export import import_genai

        og = import_genai()
        ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        budget = max_new_tokens
        if self.context_length:
            budget = max(0, min(budget, self.context_length - len(ids)))
        started = time.perf_counter()
        processor = None
        params = og.GeneratorParams(self.model)
        params.set_search_options(do_sample=False, max_length=len(ids) + max(budget, 1), batch_size=1)
        if schema is not None and self.constraint == "guidance":
            from maaza.decoding.constrained import ConstraintError

            compile_started = time.perf_counter()
            kind, guidance = self._guidance(schema, lenient_datetime)
            try:
                params.set_guidance(kind, guidance)
                generator = og.Generator(self.model, params)
            except RuntimeError as exc:
                raise ConstraintError(
                    f"ONNX Runtime GenAI guidance rejected the schema: {first_line(exc)}"
                ) from None
            stats.compile_seconds += time.perf_counter() - compile_started
        else:
            if schema is not None:
                from maaza.decoding.constrained import SchemaLogitsProcessor

                processor = SchemaLogitsProcessor(
                    [schema],
                    self.tokenizer,
                    self.vocab_size,
                    self.eos_ids,
                    lenient_datetime=lenient_datetime,
                    loop_guard_budget=budget if loop_guard else None,
                )
                stats.compile_seconds += processor.compile_seconds
            generator = og.Generator(self.model, params)
        generator.append_tokens(np.array([ids], dtype=np.int32))
        history: list[int] = list(ids)
        tracker = JsonObjectTracker()
        eos = set(self.eos_ids)
        out: list[int] = []
        first_token_at: float | None = None
        reason = "length"
        while len(out) < budget:
            if processor is not None:
                import torch

                logits = np.array(generator.get_logits(), dtype=np.float32).reshape(1, -1)
                processor(torch.tensor([history], dtype=torch.long), torch.from_numpy(logits))
                generator.set_logits(logits.reshape(1, 1, -1))
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            if first_token_at is None:
                first_token_at = time.perf_counter()
            if token in eos:
                reason = "eos"  # the EOS token itself is not output
                break
            out.append(token)
            history.append(token)
            stop = on_token is not None and on_token(row, token)
            if stop_on_json_close and tracker.feed(self.tokenizer.decode([token])):
                reason = "json_closed"
                break
            if stop:
                reason = "stopped"
                break
            if generator.is_done():
                break
        ended = time.perf_counter()
        if processor is not None:
            stats.mask_seconds += processor.mask_seconds
            stats.mask_calls += processor.calls
        text = self.tokenizer.decode(out, skip_special_tokens=True)
        if processor is not None:
            reason = processor.finish_reason(0, reason)
        return Generation(
            text, len(ids), len(out), ended - started, (first_token_at or ended) - started, reason
        )

    def generate(
        self,
        prompts: list[str],
        schemas: list[dict[str, Any]] | None = None,
        *,
        max_new_tokens: int = 512,
        stop_on_json_close: bool = True,
        lenient_datetime: bool = True,
        loop_guard: bool = True,
        rewind_repeats: bool = False,
        on_token: Any = None,
    ) -> BackendBatch:
        """Row by row; `loop_guard` applies with `constraint="mask"` (built-in guidance has no such hook)."""
        self.check_schemas(prompts, schemas)
        self.check_rewind(rewind_repeats)
        stats = ConstraintStats()
        started = time.perf_counter()
        generations = [
            self._generate_one(
                prompt,
                schemas[row] if schemas is not None else None,
                max_new_tokens=max_new_tokens,
                stop_on_json_close=stop_on_json_close,
                lenient_datetime=lenient_datetime,
                loop_guard=loop_guard,
                stats=stats,
                on_token=on_token,
                row=row,
            )
            for row, prompt in enumerate(prompts)
        ]
        return BackendBatch(generations, BatchTiming.of(generations, time.perf_counter() - started), stats)

    # ------------------------------------------------------------------------------------ describe

    def describe(self) -> dict[str, Any]:
        from maaza.export.onnx_export import model_files_bytes

        exported = self.metadata.get("onnx") or {}
        name = self.metadata.get("name") or self.folder.resolve().name
        return {
            "name": name,
            "base": self.metadata.get("base_model") or name,
            "hub_id": self.metadata.get("hub_id"),
            "source": "local",
            "path": str(self.folder),
            "params": exported.get("params"),
            "adapter": None,
            "backend": "onnx",
            "precision": exported.get("precision") or _guess_precision(self.folder),
            "file_size_bytes": model_files_bytes(self.folder),
            "adapter_size_bytes": None,
            "source_gguf_bytes": None,
            "threads": self.threads,
            "openmp_wait_policy": None,  # ONNX Runtime uses its own thread pool, not OpenMP
        }

    def close(self) -> None:
        self.model = None


def _guess_precision(folder: Path) -> str:
    """For folders not written by `maaza export`: int<bits> from the MatMulNBits ops, else the I/O type."""
    try:
        import onnx
        from onnx import helper

        graph = onnx.load(str(folder / "model.onnx"), load_external_data=False).graph
    except Exception:
        return "unknown"
    for node in graph.node:
        if node.op_type == "MatMulNBits":
            bits = {a.name: helper.get_attribute_value(a) for a in node.attribute}.get("bits", 4)
            return f"int{bits}"
    logits = next((o for o in graph.output if o.name == "logits"), None)
    elem = logits.type.tensor_type.elem_type if logits is not None else None
    return {1: "fp32", 10: "fp16", 16: "bf16"}.get(elem, "unknown") if elem is not None else "unknown"

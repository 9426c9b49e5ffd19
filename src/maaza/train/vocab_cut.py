"""Cut a byte-level BPE vocabulary (and a model's embeddings) down to the tokens a task's texts use.

A small student does not need the base's 49K-token vocabulary to classify short English texts: its
embedding matrix is most of its weights (SmolLM2-135M: 28M of 135M). `cut_vocabulary` keeps

- the 256 byte-level base tokens, so every input still tokenizes (unseen text falls back to kept pieces),
- the added/special tokens (chat markers, EOS, pad),
- every token the texts' original tokenization uses,
- and, to a fixpoint, both parts of every merge whose result is kept,

and keeps exactly the merges whose two parts and result are all kept, in their original order. BPE applies,
among the merges that fit, the one of lowest rank: every merge the original tokenizer applies to a kept
text has its parts and result kept (the result ends up in a kept token, and the closure keeps the parts of
every kept token), and dropping merges that never fire first cannot change the order of the rest. So each
text tokenizes to exactly the original token strings (new id i is old id `kept_ids[i]`), and any other
text still tokenizes and decodes back to itself, only into more, shorter pieces.

Why by hand: neither `tokenizers` nor transformers cuts a BPE vocabulary while keeping its merges
consistent (huggingface/tokenizers#1668, "Reduce vocab size for BPE tokenizer", is an open feature request;
the maintainers suggest editing tokenizer.json). Dropping tokens without the closure leaves merges whose
parts are gone, which the BPE model refuses to load or which silently tokenize kept words differently. The
cut edits the `tokenizers` JSON (model vocab + merges, added tokens, post-processor ids) and keeps the
normalizer, pre-tokenizer and decoder as they are; transformers' settings (special tokens, pad, EOS, chat
template) come from the original's saved tokenizer_config.json.

`cut_embeddings` then keeps the matching rows of a model's input (and output) embeddings and remaps its
special-token ids, so the cut model computes exactly what the uncut one did on kept-token inputs.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError

CUT_FILE = "vocab_cut.json"  # what VocabCut.save writes beside the tokenizer: the old id of every new id
_BATCH = 1024  # texts tokenized per call
_SPECIAL_ATTRIBUTES = ("bos_token", "eos_token", "unk_token", "pad_token")


@dataclass
class VocabCut:
    """The cut tokenizer and, for each new id (its position), the original id it stands for."""

    tokenizer: Any  # a transformers PreTrainedTokenizerFast over the kept vocabulary
    kept_ids: list[int]
    original_size: int = 0  # len(original tokenizer)
    used_tokens: int = 0  # distinct tokens the texts' original tokenization used
    texts: int = 0  # texts read

    def save(self, folder: str | Path) -> Path:
        """The tokenizer's files plus vocab_cut.json (kept_ids and sizes); `folder` loads with AutoTokenizer."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(str(target))
        (target / CUT_FILE).write_text(
            json.dumps(self.describe() | {"kept_ids": self.kept_ids}), encoding="utf-8"
        )
        return target

    def describe(self) -> dict[str, int]:
        """The sizes: tokens before and kept, distinct tokens the texts used, texts read."""
        return {
            "tokens_before": self.original_size,
            "kept_tokens": len(self.kept_ids),
            "used_tokens": self.used_tokens,
            "texts": self.texts,
        }


def cut_vocabulary(tokenizer: Any, texts: Iterable[str], *, keep_special: bool = True) -> VocabCut:
    """A tokenizer over the tokens `texts` use (plus bytes, specials and the merges that build them).

    The texts are tokenized as training does (no special tokens added); the tokens the post-processor inserts
    are kept whatever the texts. keep_special: keep every added token (chat markers and all); False keeps
    only the added tokens the texts use and the named bos/eos/unk/pad tokens. Raises MaazaError for a
    tokenizer that is not a byte-level BPE.
    """
    from tokenizers.pre_tokenizers import ByteLevel

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise MaazaError(f"vocabulary cut: {type(tokenizer).__name__} is not a fast (tokenizers) tokenizer")
    spec = json.loads(backend.to_str())
    model = spec["model"]
    if model.get("type") != "BPE":
        raise MaazaError(
            f"vocabulary cut: the tokenizer's model is {model.get('type')}, not BPE; only a byte-level BPE "
            "vocabulary (merges over byte pieces) can be cut so that every text still tokenizes"
        )
    if not _uses(spec.get("pre_tokenizer"), "ByteLevel"):
        raise MaazaError(
            "vocabulary cut: the BPE tokenizer has no ByteLevel pre-tokenizer; without byte-level pieces a "
            "cut vocabulary could not spell unseen characters"
        )
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        raise MaazaError("vocabulary cut: a BPE with a subword prefix or word suffix is not supported")
    vocab: dict[str, int] = model["vocab"]
    id_to_token = {index: token for token, index in vocab.items()}
    added = spec.get("added_tokens") or []
    for token in added:
        id_to_token.setdefault(token["id"], token["content"])

    kept: set[int] = {vocab[char] for char in ByteLevel.alphabet() if char in vocab}
    if keep_special:
        kept.update(token["id"] for token in added)
    kept.update(
        index for name in _SPECIAL_ATTRIBUTES if (index := getattr(tokenizer, f"{name}_id", None)) is not None
    )
    kept.update(_post_processor_ids(spec.get("post_processor")))
    if model.get("unk_token") in vocab:
        kept.add(vocab[model["unk_token"]])
    used: set[int] = set()
    count = 0
    for batch in _batches(texts):
        count += len(batch)
        for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
            used.update(ids)
    kept |= used

    merges = [_pair(merge) for merge in model.get("merges") or []]
    makers: dict[str, list[tuple[str, str]]] = {}
    for left, right in merges:
        makers.setdefault(left + right, []).append((left, right))
    kept_tokens = {id_to_token[index] for index in kept}
    todo = list(kept_tokens)
    while todo:  # the closure: both parts of every merge whose result is kept
        for left, right in makers.get(todo.pop(), ()):
            for part in (left, right):
                if part not in kept_tokens:
                    kept_tokens.add(part)
                    todo.append(part)
    kept = {vocab[token] for token in kept_tokens if token in vocab} | {
        index for index in kept if id_to_token[index] not in vocab
    }
    # model tokens first, then added tokens outside the model vocab (tokenizers numbers those after it)
    kept_ids = sorted(i for i in kept if id_to_token[i] in vocab) + sorted(
        i for i in kept if id_to_token[i] not in vocab
    )
    new_id = {old: new for new, old in enumerate(kept_ids)}

    model["vocab"] = {id_to_token[old]: new for old, new in new_id.items() if id_to_token[old] in vocab}
    strings = bool(model.get("merges")) and isinstance(model["merges"][0], str)
    model["merges"] = [
        f"{left} {right}" if strings else [left, right]
        for left, right in merges
        if left in kept_tokens and right in kept_tokens and left + right in kept_tokens
    ]
    spec["added_tokens"] = sorted(
        ({**token, "id": new_id[token["id"]]} for token in added if token["id"] in new_id),
        key=lambda t: t["id"],
    )
    spec["post_processor"] = _remap_post_processor(spec.get("post_processor"), new_id)
    if spec.get("padding") and spec["padding"].get("pad_id") is not None:
        spec["padding"]["pad_id"] = _remap(spec["padding"]["pad_id"], new_id, "the padding's pad_id")
    cut = _wrap(tokenizer, json.dumps(spec, ensure_ascii=False))
    if cut.convert_ids_to_tokens(list(range(len(cut)))) != [id_to_token[old] for old in kept_ids]:
        raise MaazaError("vocabulary cut: the cut tokenizer does not number its tokens as kept_ids says")
    return VocabCut(cut, kept_ids, len(tokenizer), len(used), count)


def _batches(texts: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _pair(merge: Any) -> tuple[str, str]:
    if isinstance(merge, str):
        left, right = merge.split(" ", 1)
        return left, right
    return merge[0], merge[1]


def _uses(component: Any, kind: str) -> bool:
    """Whether a (possibly Sequence) tokenizers component JSON contains a `kind` step."""
    if not isinstance(component, dict):
        return False
    if component.get("type") == kind:
        return True
    return any(
        _uses(step, kind) for step in component.get("pretokenizers") or component.get("processors") or []
    )


def _post_processor_ids(processor: Any) -> set[int]:
    """Every token id a post-processor inserts (TemplateProcessing, Bert/Roberta, and Sequences of them)."""
    if not isinstance(processor, dict):
        return set()
    ids: set[int] = set()
    for step in processor.get("processors") or []:
        ids |= _post_processor_ids(step)
    for special in (processor.get("special_tokens") or {}).values():
        ids.update(special.get("ids") or [])
    for key in ("sep", "cls"):
        if isinstance(processor.get(key), list):
            ids.add(processor[key][1])
    return ids


def _remap_post_processor(processor: Any, new_id: dict[int, int]) -> Any:
    if not isinstance(processor, dict):
        return processor
    processor = dict(processor)
    if processor.get("processors"):
        processor["processors"] = [_remap_post_processor(step, new_id) for step in processor["processors"]]
    if processor.get("special_tokens"):
        processor["special_tokens"] = {
            name: {
                **special,
                "ids": [_remap(i, new_id, f"post-processor token {name}") for i in special["ids"]],
            }
            for name, special in processor["special_tokens"].items()
        }
    for key in ("sep", "cls"):
        if isinstance(processor.get(key), list):
            token, index = processor[key]
            processor[key] = [token, _remap(index, new_id, f"post-processor token {token}")]
    return processor


def _remap(index: int, new_id: dict[int, int], what: str, where: str = "vocabulary cut") -> int:
    if index not in new_id:
        raise MaazaError(f"{where}: {what} (id {index}) is not among the kept tokens")
    return new_id[index]


def _wrap(original: Any, tokenizer_json: str) -> Any:
    """A PreTrainedTokenizerFast over `tokenizer_json` with the original's transformers settings.

    The original is saved (tokenizer_config.json: special tokens, pad, chat template, ...) and its
    tokenizer.json replaced, so nothing transformers keeps beside the backend is lost or restated here.
    """
    from transformers import PreTrainedTokenizerFast

    with tempfile.TemporaryDirectory(prefix="maaza-vocab-cut-") as folder:
        root = Path(folder)
        original.save_pretrained(folder)
        for stale in (
            "vocab.json",
            "merges.txt",
            "tokenizer.model",
            "special_tokens_map.json",
            "added_tokens.json",
        ):
            (root / stale).unlink(missing_ok=True)
        (root / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
        config_path = root / "tokenizer_config.json"
        if config_path.is_file():
            config = json.loads(config_path.read_text(encoding="utf-8"))
            for key in ("added_tokens_decoder", "tokenizer_file", "vocab_file", "merges_file", "auto_map"):
                config.pop(key, None)
            config["tokenizer_class"] = "PreTrainedTokenizerFast"
            config_path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
        cut = PreTrainedTokenizerFast.from_pretrained(folder)
    for name in ("padding_side", "truncation_side", "model_max_length"):
        setattr(cut, name, getattr(original, name))
    cut.name_or_path = original.name_or_path
    return cut


def cut_embeddings(model: Any, kept_ids: list[int]) -> Any:
    """Keep only the `kept_ids` rows (new id = position) of `model`'s input embeddings and, when it has one,
    its output embeddings (tied stay tied); `config.vocab_size` and the pad/bos/eos ids follow. In place."""
    import torch

    old_input = model.get_input_embeddings()
    rows = old_input.weight.shape[0]
    if not kept_ids or min(kept_ids) < 0 or max(kept_ids) >= rows or len(set(kept_ids)) != len(kept_ids):
        raise MaazaError(f"cut_embeddings: kept_ids must be distinct ids below the model's {rows} embeddings")
    index = torch.tensor(kept_ids, dtype=torch.long, device=old_input.weight.device)
    new_id = {old: new for new, old in enumerate(kept_ids)}
    ids = _special_ids(model, new_id)  # checked before anything changes
    old_output = model.get_output_embeddings()
    tied = old_output is not None and old_output.weight is old_input.weight
    padding = getattr(old_input, "padding_idx", None)
    with torch.no_grad():
        new_input = torch.nn.Embedding(
            len(kept_ids),
            old_input.weight.shape[1],
            padding_idx=new_id.get(padding) if padding is not None else None,
            dtype=old_input.weight.dtype,
            device=old_input.weight.device,
        )
        new_input.weight.copy_(old_input.weight.index_select(0, index))
        new_input.weight.requires_grad_(old_input.weight.requires_grad)
        model.set_input_embeddings(new_input)
        if old_output is not None:
            bias = getattr(old_output, "bias", None)
            new_output = torch.nn.Linear(
                old_output.weight.shape[1],
                len(kept_ids),
                bias=bias is not None,
                dtype=old_output.weight.dtype,
                device=old_output.weight.device,
            )
            if tied:
                new_output.weight = new_input.weight
            else:
                new_output.weight.copy_(old_output.weight.index_select(0, index))
                new_output.weight.requires_grad_(old_output.weight.requires_grad)
            if bias is not None:
                new_output.bias.copy_(bias.index_select(0, index))
            model.set_output_embeddings(new_output)
    model.config.vocab_size = len(kept_ids)
    for module in (model, getattr(model, "base_model", None)):
        if module is not None and isinstance(getattr(module, "vocab_size", None), int):
            module.vocab_size = len(kept_ids)
    for settings, name, value in ids:
        setattr(settings, name, value)
    return model


def _special_ids(model: Any, new_id: dict[int, int]) -> list[tuple[Any, str, Any]]:
    """(settings, name, new value) of the pad/bos/eos ids of the model's config and generation config."""
    found: list[tuple[Any, str, Any]] = []
    for settings in (model.config, getattr(model, "generation_config", None)):
        for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
            value = getattr(settings, name, None) if settings is not None else None
            if value is None:
                continue
            what = f"the model's {name}"
            if isinstance(value, list):
                found.append((settings, name, [_remap(i, new_id, what, "cut_embeddings") for i in value]))
            else:
                found.append((settings, name, _remap(int(value), new_id, what, "cut_embeddings")))
    return found


def task_texts(config: Any, tokenizer: Any) -> Iterator[str]:
    """Every text a run of `config` tokenizes: the prompts the task builds for all rows of its training and
    validation files (each part of a mixture), and a causal LM's targets too. Prompts are built as
    `maaza.train.data` builds them (with `tokenizer`, for a task that applies the chat template)."""
    from maaza.paths import resolve_under_data_root
    from maaza.tasks import get_task
    from maaza.train.data import _parts

    completions = config.model.kind != "sequence_classifier"
    for part in _parts(config.data, config.task):
        task = get_task(part.source.task)
        resources = {name: resolve_under_data_root(value) for name, value in part.resources.items()}
        for name in [*part.train, *([part.val] if part.val else [])]:
            for row in task.load_rows(resolve_under_data_root(name), resources):
                yield task.prompt(row, part.source.prompt_format, tokenizer)
                if completions:
                    yield task.target(row, minify=config.data.minify_targets)

"""The model slot: what is trained (`model.kind`) and how its weights start (`model.init`).

- kind `causal_lm`: a causal LM that writes the task's target; `sequence_classifier`: the same decoder with
  a linear head (`score`) on the last prompt token over the task's labels (transformers'
  `AutoModelForSequenceClassification`, so the saved folder loads without maaza).
- init `pretrained`: the weights of `model.base`; `config`: random weights of `model.architecture` in the
  base's family, with its tokenizer; `teacher_layers`: the base's embeddings, final norm and every k-th
  layer (k = its layers // architecture.layers) or the layers `model.teacher_layers` names, the usual start
  of a layer-dropped student.
- `model.vocab_cut` (init config or teacher_layers): the tokenizer and the embeddings cut to the tokens of
  the run's texts (maaza.train.vocab_cut), before the data is tokenized with the cut tokenizer.
Either kind trains fully or with LoRA (method), optionally through Q4_0 fake quantization.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.train.config import ArchitectureSettings, TrainConfig

_LAYER = re.compile(r"^(.*\blayers\.)(\d+)(\..*)$")


def task_labels(config: TrainConfig) -> tuple[str, ...]:
    """The labels a sequence classifier predicts (the task's, in order); () for a causal LM."""
    if config.model.kind != "sequence_classifier":
        return ()
    from maaza.tasks import get_task

    return tuple(get_task(config.task, key="task").labels)  # type: ignore[attr-defined]


def architecture_config(base_config: Any, arch: ArchitectureSettings) -> Any:
    """The base's config class with `arch`'s shape (head_dim follows hidden / heads)."""
    values = base_config.to_dict()
    heads = arch.heads or 1
    values.update(
        num_hidden_layers=arch.layers,
        hidden_size=arch.hidden,
        num_attention_heads=heads,
        num_key_value_heads=arch.kv_heads or heads,
        intermediate_size=arch.intermediate,
        max_position_embeddings=arch.context,
        head_dim=(arch.hidden or 0) // heads,
    )
    if arch.vocab_size is not None:
        values["vocab_size"] = arch.vocab_size
    for key in ("architectures", "transformers_version", "_name_or_path"):
        values.pop(key, None)
    return type(base_config)(**values)


def copy_teacher_layers(teacher: Any, student: Any, layers: int | Sequence[int]) -> list[int]:
    """Copy every weight of `student` from `teacher`: student layer i from teacher layer `layers[i]` (a
    stride k: layer i * k); returns the teacher layers copied. A weight the teacher lacks is only allowed for
    a classifier's fresh head.
    """
    import torch

    count = student.config.num_hidden_layers
    picks = [i * layers for i in range(count)] if isinstance(layers, int) else list(layers)
    if len(picks) != count:
        raise MaazaError(f"model.teacher_layers: {len(picks)} teacher layers for a {count}-layer student")
    depth = teacher.config.num_hidden_layers
    if outside := [index for index in picks if not 0 <= index < depth]:
        raise MaazaError(
            f"model.teacher_layers: {outside} out of range: the teacher has {depth} layers (0..{depth - 1})"
        )
    source = teacher.state_dict()
    target = student.state_dict()
    picked: set[int] = set()
    with torch.no_grad():
        for name, tensor in target.items():
            match = _LAYER.match(name)
            origin = f"{match[1]}{picks[int(match[2])]}{match[3]}" if match else name
            if match:
                picked.add(picks[int(match[2])])
            if origin in source and source[origin].shape == tensor.shape:
                tensor.copy_(source[origin])
            elif not name.startswith(("score.", "classifier.")):
                raise MaazaError(
                    f"model.init teacher_layers: the teacher has no weight '{origin}' of the "
                    f"student's shape {tuple(tensor.shape)}"
                )
    return sorted(picked)


def _load(cls: Any, path: str, base: str, **kwargs: Any) -> Any:
    import torch

    from maaza.models.registry import check_weight_files

    check_weight_files(path)  # safetensors only, unless the user allowed pickle
    try:
        return cls.from_pretrained(path, dtype=torch.float32, **kwargs)
    except OSError as exc:
        raise MaazaError(f"cannot load base model '{base}': {str(exc).splitlines()[0]}") from None


def initial_model(config: TrainConfig, path: str, tokenizer: Any) -> tuple[Any, dict[str, Any]]:
    """The model of `model.kind` with `model.init`'s weights, and what to record about its start."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    settings = config.model
    labels = task_labels(config)
    cls = AutoModelForSequenceClassification if labels else AutoModelForCausalLM
    heads: dict[str, Any] = {}
    if labels:
        heads = {
            "num_labels": len(labels),
            "id2label": dict(enumerate(labels)),
            "label2id": {label: i for i, label in enumerate(labels)},
        }
    if settings.init == "pretrained":
        return _load(cls, path, settings.base, **heads), {}
    arch = settings.architecture or ArchitectureSettings()
    if settings.init == "config":
        shape = architecture_config(AutoConfig.from_pretrained(path), arch)
        if shape.vocab_size < len(tokenizer):
            raise MaazaError(
                f"model.architecture.vocab_size: {shape.vocab_size} is smaller than the tokenizer "
                f"of {settings.base} ({len(tokenizer)} tokens)"
            )
        for key, value in heads.items():
            setattr(shape, key, value)
        return cls.from_config(shape, dtype=torch.float32), {"init": "config"}
    source = AutoConfig.from_pretrained(path)
    # A classifier teacher over the same labels (e.g. maaza.train.top_layers' merged teacher): its trained
    # head is copied too, so the student starts where the teacher's last layers and head end.
    same_head = bool(labels) and dict(getattr(source, "id2label", {}) or {}) == heads.get("id2label") and any(
        str(a).endswith("ForSequenceClassification") for a in source.architectures or ()
    )
    teacher = _load(AutoModelForSequenceClassification if same_head else AutoModelForCausalLM, path, settings.base)
    layers = teacher.config.num_hidden_layers
    if (arch.layers or 0) > layers:
        raise MaazaError(f"model.architecture.layers: {arch.layers} > the teacher's {layers} layers")
    shape = AutoConfig.from_pretrained(path)
    shape.num_hidden_layers = arch.layers
    for key, value in heads.items():
        setattr(shape, key, value)
    student = cls.from_config(shape, dtype=torch.float32)
    picked = copy_teacher_layers(teacher, student, settings.teacher_layers or layers // (arch.layers or 1))
    return student, {"init": "teacher_layers", "teacher_layers": picked, "teacher_head": same_head}


def build_model(config: TrainConfig, device: Any) -> tuple[Any, Any, Any]:
    """The model to train (+ LoRA), its tokenizer, and the resolved base (`model.maaza_start`: how it began)."""
    from maaza.models.loading import load_tokenizer
    from maaza.models.registry import resolve_model

    resolved = resolve_model(config.model.base)
    tokenizer = load_tokenizer(resolved.path, padding_side="right")
    model, start = initial_model(config, resolved.path, tokenizer)
    if config.model.vocab_cut:  # before the data is tokenized: the run tokenizes with the cut tokenizer
        tokenizer, start = _cut_vocabulary(config, model, tokenizer, start)
    model.config.use_cache = False
    if config.model.kind == "sequence_classifier":
        model.config.pad_token_id = tokenizer.pad_token_id  # the classifier pools the last non-pad token
    if config.model.method == "lora":
        model = _with_lora(model, config)
        if config.model.init_adapter:
            load_init_adapter(model, config)
    elif config.model.init_adapter:
        raise MaazaError("model.init_adapter: a LoRA adapter to start from needs model.method 'lora'")
    if config.model.fake_quant:
        if config.model.method != "full":
            raise MaazaError(
                "model.fake_quant: quantization-aware training needs model.method 'full' (a LoRA "
                "merged after training would be rounded through weights it never saw)"
            )
        from maaza.train.fake_quant import apply_fake_quant

        apply_fake_quant(model, config.model.fake_quant)
    model.to(device)
    model.maaza_start = start  # recorded in maaza.json and the training summary
    return model, tokenizer, resolved


def _cut_vocabulary(
    config: TrainConfig, model: Any, tokenizer: Any, start: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """`model` cut to the tokens of the run's texts (in place), the cut tokenizer, and `start` + its record."""
    from maaza.train.vocab_cut import cut_embeddings, cut_vocabulary, task_texts

    before = int(model.config.vocab_size)
    cut = cut_vocabulary(tokenizer, task_texts(config, tokenizer))
    cut_embeddings(model, cut.kept_ids)
    record = {"vocab_before": before, "vocab_after": int(model.config.vocab_size), **cut.describe()}
    return cut.tokenizer, {**start, "vocab_cut": record}


def _with_lora(model: Any, config: TrainConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    lora = config.model.lora
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    absent = [m for m in lora.target_modules if m not in present]
    if absent:
        raise MaazaError(f"model.lora.target_modules: {absent} not found in {config.model.base}")
    classifier = config.model.kind == "sequence_classifier"
    return get_peft_model(
        model,
        LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=list(lora.target_modules),
            bias="none",
            task_type="SEQ_CLS" if classifier else "CAUSAL_LM",  # SEQ_CLS also trains (and saves) the head
        ),
    )


def load_init_adapter(model: Any, config: TrainConfig) -> None:
    """Copy a trained adapter's LoRA weights into the fresh LoRA of `model` (model.init_adapter).

    The adapter must have the recipe's shape (rank, alpha, target modules): a warm start continues the
    same LoRA, it does not silently train a different one. Every LoRA weight must be filled.
    """
    from peft import set_peft_model_state_dict
    from peft.utils import load_peft_weights

    from maaza.models.loading import read_adapter_config

    folder = Path(config.model.init_adapter or "")
    try:
        saved = read_adapter_config(folder)
    except MaazaError as exc:
        raise MaazaError(f"model.init_adapter: {exc}") from None
    lora = config.model.lora
    shape = (  # (adapter_config.json key, model.lora key, the adapter's value, the recipe's value)
        ("r", "r", saved.get("r"), lora.r),
        ("lora_alpha", "alpha", saved.get("lora_alpha"), lora.alpha),
        (
            "target_modules",
            "target_modules",
            sorted(saved.get("target_modules") or []),
            sorted(lora.target_modules),
        ),
    )
    for key, setting, found, expected in shape:
        if found != expected:
            raise MaazaError(
                f"model.init_adapter: {folder / 'adapter_config.json'} has {key}={found}, but model.lora.{setting} "
                f"is {expected}; set model.lora to the adapter's shape"
            )
    result = set_peft_model_state_dict(model, load_peft_weights(str(folder), device="cpu"))
    fresh = [name for name in result.missing_keys if "lora_" in name]
    if fresh or result.unexpected_keys:
        shown = (fresh or result.unexpected_keys)[:3]
        raise MaazaError(
            f"model.init_adapter: {folder} does not fit this base model "
            f"({'LoRA weights it lacks' if fresh else 'weights the model lacks'}: {shown})"
        )

"""A classifier teacher from a causal LM by fine-tuning its top layers on cached hidden states.

The teacher of a distilled classifier is the base decoder (SmolLM2-135M) with a linear head on its last
token. A full fine-tune costs ~30 min per BANKING77 epoch on 2 CPU cores, three passes of 135M weights per
token. Here the embeddings and the first `frozen_layers` layers stay frozen, their output is computed once and
cached on disk (one forward pass), and each epoch then runs only the top layers, the final norm and the head
on the cached states: for the top 6 of 30 layers an epoch costs about a fifth of a full-model forward pass.
The trained top is merged back into a plain `LlamaForSequenceClassification` folder (the teacher), whose
logits equal the top model's on the cache, so distillation logits come from the cache without another pass.

This is its own small loop, not the recipe (`maaza.train.recipe`): the recipe feeds token ids through a whole
model, while this trains on precomputed activations. Why by hand: neither transformers nor peft trains from
cached intermediate activations.

Cache layout (`<cache>/`): `manifest.json` (base weights hash, layer, tokenizer of the rows) and shards
`shard-00000.pt` of up to `SHARD_ROWS` rows, each `{"ids", "lengths", "states"}` (the rows' states
concatenated, fp32). A shard is written atomically, so an interrupted pass resumes at the first missing one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.io import atomic_write_json, read_json

CACHE_FORMAT = "maaza.hidden_cache/1"
SHARD_ROWS = 1024


@dataclasses.dataclass
class TopLayersSettings:
    """What the top-layer fine-tune does (the `teacher:` block of configs/intent/*.yaml)."""

    base: str = "smollm2-135m"
    frozen_layers: int = 24  # layers 0..frozen_layers-1 (and the embeddings) are frozen and cached
    epochs: int = 4
    lr: float = 1e-4  # the top layers and the final norm
    head_lr: float = 1e-3  # the fresh linear head
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    batch_size: int = 32
    max_length: int = 128  # longer texts are truncated (counted in the summary)
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "teacher") -> TopLayersSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise MaazaError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
        settings = cls(**values)
        if settings.frozen_layers < 0 or settings.epochs < 1 or settings.batch_size < 1:
            raise MaazaError(f"{where}: frozen_layers >= 0, epochs >= 1 and batch_size >= 1 are required")
        return settings


def weights_hash(folder: str | Path) -> str:
    """sha256 over a model folder's weight files (names and bytes, sorted): the identity of a teacher."""
    root = Path(folder)
    files = sorted([*root.glob("*.safetensors"), *root.glob("*.bin")])
    if not files:
        raise MaazaError(f"{root}: no *.safetensors or *.bin weight files to hash")
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def _torch() -> Any:
    import torch

    return torch


@dataclasses.dataclass
class HiddenCache:
    """The cached states of the frozen bottom: one [length, hidden] tensor per row id."""

    folder: Path
    layer: int
    base_hash: str
    states: dict[str, Any]

    def lengths(self) -> dict[str, int]:
        return {row_id: int(t.shape[0]) for row_id, t in self.states.items()}


def cache_hidden_states(
    base_path: str | Path,
    rows: Sequence[tuple[str, list[int]]],
    layer: int,
    folder: str | Path,
    *,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> HiddenCache:
    """Run the base's embeddings and first `layer` layers over `rows` ((row id, token ids)) once, cached.

    Resumes: shards already on disk for the same base, layer and rows are read, not recomputed. A cache of
    another base model or layer is refused, naming both hashes.
    """
    torch = _torch()
    from transformers import AutoModelForCausalLM

    folder = Path(folder)
    base_hash = weights_hash(base_path)
    rows_hash = hashlib.sha256(json.dumps([[i, list(t)] for i, t in rows]).encode()).hexdigest()
    manifest_path = folder / "manifest.json"
    manifest = {"format": CACHE_FORMAT, "base_hash": base_hash, "layer": layer, "rows_hash": rows_hash,
                "rows": len(rows), "shard_rows": SHARD_ROWS}
    if manifest_path.exists():
        found = read_json(manifest_path, what="hidden-state cache manifest")
        for key in ("format", "base_hash", "layer", "rows_hash"):
            if found.get(key) != manifest[key]:
                raise MaazaError(
                    f"{manifest_path}: this cache was made with {key}={found.get(key)!r}, this run needs "
                    f"{manifest[key]!r}; remove the folder to rebuild it"
                )
    else:
        atomic_write_json(manifest_path, manifest)
    shards = [rows[i : i + SHARD_ROWS] for i in range(0, len(rows), SHARD_ROWS)]
    model = None
    states: dict[str, Any] = {}
    for number, shard in enumerate(shards):
        path = folder / f"shard-{number:05d}.pt"
        if not path.exists():
            if model is None:
                model = AutoModelForCausalLM.from_pretrained(str(base_path), dtype=torch.float32)
                model.model.layers = model.model.layers[:layer]
                model.model.norm = torch.nn.Identity()  # the states entering layer `layer`, not normed
                model.eval()
            _write_shard(model, shard, path, batch_size)
        data = torch.load(path, weights_only=True)
        for row_id, state in zip(data["ids"], torch.split(data["states"], data["lengths"].tolist()), strict=True):
            states[row_id] = state
        if progress:
            progress(min((number + 1) * SHARD_ROWS, len(rows)), len(rows))
    return HiddenCache(folder, layer, base_hash, states)


def _write_shard(model: Any, shard: Sequence[tuple[str, list[int]]], path: Path, batch_size: int) -> None:
    torch = _torch()
    order = sorted(range(len(shard)), key=lambda i: len(shard[i][1]))
    outputs: dict[int, Any] = {}
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            members = order[start : start + batch_size]
            ids, mask = _pad([shard[i][1] for i in members])
            hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
            for row, i in enumerate(members):
                outputs[i] = hidden[row, : len(shard[i][1])].clone()
    payload = {
        "ids": [row_id for row_id, _ in shard],
        "lengths": torch.tensor([len(t) for _, t in shard]),
        "states": torch.cat([outputs[i] for i in range(len(shard))]),
    }
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, tmp)
    tmp.replace(path)


def _pad(sequences: Sequence[Sequence[int]]) -> tuple[Any, Any]:
    torch = _torch()
    width = max(len(s) for s in sequences)
    ids = torch.zeros((len(sequences), width), dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def top_model(base_path: str | Path, layer: int, labels: Sequence[str], pad_token_id: int | None) -> Any:
    """A sequence classifier holding the base's layers `layer`.. and final norm (fresh head), read from
    cached states through `inputs_embeds`; its embedding table is never used and stays frozen."""
    torch = _torch()
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    base = AutoModelForCausalLM.from_pretrained(str(base_path), dtype=torch.float32)
    total = base.config.num_hidden_layers
    if not 0 <= layer < total:
        raise MaazaError(f"teacher.frozen_layers: {layer} is not in 0..{total - 1} (the base has {total} layers)")
    config = AutoConfig.from_pretrained(str(base_path))
    config.num_hidden_layers = total - layer
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {name: i for i, name in enumerate(labels)}
    config.pad_token_id = pad_token_id
    config.use_cache = False
    model = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
    with torch.no_grad():
        for i, block in enumerate(model.model.layers):
            block.load_state_dict(base.model.layers[layer + i].state_dict())
        model.model.norm.load_state_dict(base.model.norm.state_dict())
    model.model.embed_tokens.weight.requires_grad_(False)
    return model


def top_logits(model: Any, states: Sequence[Any]) -> Any:
    """Logits of the top model on a batch of cached states (right-padded; the head reads each last token).

    No attention mask: under the causal mask a real token never attends to the padding after it.
    """
    torch = _torch()
    lengths = torch.tensor([s.shape[0] for s in states])
    padded = torch.nn.utils.rnn.pad_sequence(list(states), batch_first=True)
    hidden = model.model(inputs_embeds=padded).last_hidden_state
    return model.score(hidden[torch.arange(len(states)), lengths - 1]).float()


def _batches(ids: list[str], lengths: dict[str, int], batch_size: int, rng: random.Random) -> list[list[str]]:
    """Length-grouped batches in a random order: shuffle, sort within windows of 50 batches, cut."""
    shuffled = list(ids)
    rng.shuffle(shuffled)
    window = batch_size * 50
    batches: list[list[str]] = []
    for start in range(0, len(shuffled), window):
        chunk = sorted(shuffled[start : start + window], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def predict_top(model: Any, cache: HiddenCache, ids: Sequence[str], batch_size: int = 64) -> Any:
    """The top model's logits for `ids` in order (the teacher's logits on those rows)."""
    torch = _torch()
    lengths = cache.lengths()
    order = sorted(range(len(ids)), key=lambda i: lengths[ids[i]])
    out = torch.zeros((len(ids), model.config.num_labels))
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            members = order[start : start + batch_size]
            out[members] = top_logits(model, [cache.states[ids[i]] for i in members])
    return out


def train_top(
    model: Any,
    cache: HiddenCache,
    train: Sequence[tuple[str, int]],
    val: Sequence[tuple[str, int]],
    settings: TopLayersSettings,
    checkpoint_dir: str | Path,
    log: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Fine-tune the top model on (row id, label index) pairs; checkpoint and resume after every epoch.

    AdamW (top layers at `lr`, head at `head_lr`), linear warmup then cosine decay, gradient clip 1.0.
    Returns the history: per epoch the mean train loss and the validation accuracy.
    """
    torch = _torch()
    import torch.nn.functional as F

    checkpoint = Path(checkpoint_dir) / "top_layers.pt"
    labels = dict(train)
    lengths = cache.lengths()
    steps_per_epoch = math.ceil(len(train) / settings.batch_size)
    total = steps_per_epoch * settings.epochs
    warmup = max(1, int(total * settings.warmup_fraction))
    head = [p for n, p in model.named_parameters() if n.startswith("score.")]
    body = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("score.")]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": settings.lr}, {"params": head, "lr": settings.head_lr}],
        weight_decay=settings.weight_decay,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (step + 1) / warmup if step < warmup
        else 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))),
    )
    history: list[dict[str, Any]] = []
    first_epoch = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        history, first_epoch = state["history"], state["epoch"]
    for epoch in range(first_epoch, settings.epochs):
        model.train()
        rng = random.Random(settings.seed * 1000 + epoch)
        losses = []
        for batch in _batches([i for i, _ in train], lengths, settings.batch_size, rng):
            logits = top_logits(model, [cache.states[i] for i in batch])
            loss = F.cross_entropy(logits, torch.tensor([labels[i] for i in batch]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([*body, *head], 1.0)
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
        predicted = predict_top(model, cache, [i for i, _ in val]).argmax(dim=-1).tolist() if val else []
        accuracy = sum(p == y for p, (_, y) in zip(predicted, val, strict=True)) / len(val) if val else None
        history.append({"epoch": epoch + 1, "train_loss": sum(losses) / len(losses), "val_accuracy": accuracy})
        if log:
            log(history[-1])
        tmp = checkpoint.with_name(checkpoint.name + ".tmp")
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(), "history": history, "epoch": epoch + 1}, tmp)
        tmp.replace(checkpoint)
    return {"history": history, "steps": total}


def merge_teacher(base_path: str | Path, top: Any, layer: int, tokenizer: Any, out_dir: str | Path,
                  metadata: dict[str, Any]) -> Path:
    """The whole teacher as a plain transformers classifier folder: the base's embeddings and first `layer`
    layers, the trained top layers, norm and head; written atomically (staging folder, then rename)."""
    torch = _torch()
    import shutil

    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    base = AutoModelForCausalLM.from_pretrained(str(base_path), dtype=torch.float32)
    config = base.config
    for key in ("num_labels", "id2label", "label2id", "pad_token_id"):
        setattr(config, key, getattr(top.config, key))
    config.use_cache = False
    config.architectures = None
    merged = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
    with torch.no_grad():
        merged.model.embed_tokens.load_state_dict(base.model.embed_tokens.state_dict())
        for i in range(layer):
            merged.model.layers[i].load_state_dict(base.model.layers[i].state_dict())
        for i, block in enumerate(top.model.layers):
            merged.model.layers[layer + i].load_state_dict(block.state_dict())
        merged.model.norm.load_state_dict(top.model.norm.state_dict())
        merged.score.load_state_dict(top.score.state_dict())
    target = Path(out_dir)
    staging = target.with_name(target.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    merged.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    atomic_write_json(staging / "maaza.json", metadata)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target

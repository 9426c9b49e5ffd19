"""The NLM-5M-Filter recipe: tokenizer, optional masked-token pre-training, then the three-task mixture.

`maaza train configs/filter/nlm_5m_filter.yaml` (a config with `recipe: filter`) runs it. Steps:

1. Rows through the task protocol: `spam` and `toxicity` from the data root (`get_task(...).load_rows`),
   validation carved from train (stratified, `carve_validation`); `pii` from the generator (train and
   validation with different seeds). A missing data root is fine: that task is left out and said so.
2. The tokenizer (`filter_tokenizer`) is trained on the training texts only and saved first.
3. Pre-training (`pretrain.steps > 0`): masked-token prediction (15%, BERT's 80/10/10) over every
   training text, then the supervised stage starts from those weights.
4. The mixture: each epoch, every task's rows are shuffled, grouped into length buckets and cut into
   batches of one task each; a task's `repeat` lists its batches that many times; all batches are shuffled
   together. Loss of a batch = its head's cross-entropy (class weights `balanced`/`sqrt` for skewed labels;
   PII tags ignore special tokens) times the task's `loss_weight`.

Checkpoints every `checkpoint_every` steps (atomic, `maaza.train.checkpoint`); `--resume` continues at the
same batch of the same epoch, because the batch order is a function of (seed, epoch). The best step by the
summed validation loss is kept in `checkpoints/best/`, and `model/` (weights + `filter_config.json`) plus
`tokenizer.json` are written from it at the end, with `training_summary.json` and `metrics.jsonl`.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from maaza.errors import MaazaError
from maaza.train.filter_model import EncoderShape

TASKS = ("spam", "toxicity", "pii")


@dataclass
class TokenizerSettings:
    path: str | None = None  # a saved tokenizer.json to use instead of training one
    vocab_size: int = 4096
    min_frequency: int = 2
    limit_alphabet: int = 400


@dataclass
class TaskSettings:
    """One task of the mixture. `train`/`validation`: JSONL paths (None: the data root's split / a carve-out
    of `validation_fraction` of train; for pii: `generated` rows from the generator)."""

    enabled: bool = True
    train: str | None = None
    validation: str | None = None
    validation_fraction: float = 0.1
    generated: int = 10000  # pii only: generated training rows (validation: generated_validation)
    generated_validation: int = 1000
    repeat: int = 1  # how many times an epoch lists the task's batches
    loss_weight: float = 1.0
    class_weights: Literal["none", "balanced", "sqrt"] = "none"
    limit: int | None = None  # first N training rows (tests, quick runs)


@dataclass
class PretrainSettings:
    steps: int = 0
    lr: float = 1e-3
    mask_probability: float = 0.15


@dataclass
class OptimSettings:
    epochs: int = 3
    max_steps: int | None = None
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    max_length: int = 256  # training texts are cut to this many tokens
    threads: int | None = None


@dataclass
class FilterConfig:
    recipe: str = "filter"
    name: str = "nlm-5m-filter"
    output_dir: str = "runs/nlm-5m-filter"
    seed: int = 0
    tokenizer: TokenizerSettings = field(default_factory=TokenizerSettings)
    model: EncoderShape = field(default_factory=EncoderShape)
    spam: TaskSettings = field(default_factory=lambda: TaskSettings(repeat=2))
    toxicity: TaskSettings = field(default_factory=lambda: TaskSettings(class_weights="sqrt"))
    pii: TaskSettings = field(default_factory=TaskSettings)
    pretrain: PretrainSettings = field(default_factory=PretrainSettings)
    train: OptimSettings = field(default_factory=OptimSettings)
    checkpoint_every: int = 200
    eval_every: int = 200
    keep_last: int = 2

    def validate(self) -> None:
        if self.recipe != "filter":
            raise MaazaError(f"recipe: '{self.recipe}' is not 'filter'")
        if self.model.hidden % self.model.heads:
            raise MaazaError("model.hidden: must be a multiple of model.heads")
        if self.train.max_length + 2 > self.model.context:
            raise MaazaError("train.max_length: must leave room for [CLS] and [SEP] within model.context")
        if not any(self.task(name).enabled for name in TASKS):
            raise MaazaError("spam/toxicity/pii: enable at least one task")

    def task(self, name: str) -> TaskSettings:
        return getattr(self, name)


# ------------------------------------------------------------------------------------------------ data


@dataclass
class Encoded:
    """One task's encoded rows: token ids and, per row, a class index or a list of BIO tag ids."""

    task: str
    ids: list[list[int]]
    targets: list[Any]


def _label_rows(name: str, settings: TaskSettings, seed: int) -> tuple[list[Any], list[Any]] | None:
    from maaza.tasks import get_task

    task = get_task(name, key=name)
    train_path = settings.train or (task.default_data("train").rows if task.default_data("train") else None)
    if train_path is None:
        return None
    rows = task.load_rows(train_path)
    if settings.validation:
        validation = task.load_rows(settings.validation)
    else:
        rows, validation = task.carve_validation(rows, settings.validation_fraction, seed)  # type: ignore[attr-defined]
    return rows[: settings.limit] if settings.limit else rows, validation


def _pii_rows(settings: TaskSettings, seed: int) -> tuple[list[Any], list[Any]]:
    from maaza.tasks.filter.pii import load_pii_rows

    if settings.train:
        train = load_pii_rows(settings.train)
    else:
        train = generated_pii_rows(settings.generated, seed=seed + 1)
    if settings.validation:
        validation = load_pii_rows(settings.validation)
    else:
        validation = generated_pii_rows(settings.generated_validation, seed=seed + 2)
    return train[: settings.limit] if settings.limit else train, validation


def generated_pii_rows(count: int, seed: int) -> list[Any]:
    """`count` generated PII rows as task rows (through the same checks as a JSONL file)."""
    from maaza.tasks.filter.pii import PIIRow
    from maaza.tasks.filter.pii_generator import generate_pii_rows
    from maaza.tasks.filter.spans import Span
    from maaza.tasks.intent.rows import row_ids

    raw = generate_pii_rows(count, seed=seed)
    ids = row_ids([row["text"] for row in raw])
    return [
        PIIRow(
            row_id,
            row["text"],
            tuple(sorted(Span.from_dict(s, f"generated row {i}") for s in row["spans"])),
            i + 1,
            row.get("genre", "unknown"),
        )
        for i, (row_id, row) in enumerate(zip(ids, raw, strict=True))
    ]


def load_task_rows(config: FilterConfig) -> dict[str, tuple[list[Any], list[Any]]]:
    """{task: (train rows, validation rows)} for every enabled task that has data."""
    found: dict[str, tuple[list[Any], list[Any]]] = {}
    for name in TASKS:
        settings = config.task(name)
        if not settings.enabled:
            continue
        rows = _pii_rows(settings, config.seed) if name == "pii" else _label_rows(name, settings, config.seed)
        if rows is None:
            print(f"filter: no data for {name} (no data root, no {name}.train): left out of the mixture")
            continue
        found[name] = rows
    if not found:
        raise MaazaError("filter: no task has data (set spam.train / toxicity.train, or a data root)")
    return found


def encode_rows(task_name: str, rows: Sequence[Any], tokenizer: Any, max_length: int) -> Encoded:
    """Token ids (with [CLS]/[SEP], cut to `max_length` + 2) and targets: a label index, or BIO tag ids."""
    from maaza.tasks.filter import SPAM_LABELS, TOXICITY_LABELS
    from maaza.tasks.filter.spans import bio_tag_ids

    encodings = tokenizer.encode_batch([row.text for row in rows])
    ids: list[list[int]] = []
    targets: list[Any] = []
    labels = {"spam": SPAM_LABELS, "toxicity": TOXICITY_LABELS}.get(task_name)
    for row, encoding in zip(rows, encodings, strict=True):
        keep = _truncated(len(encoding.ids), max_length)
        ids.append(encoding.ids[:keep[0]] + encoding.ids[keep[1]:])
        if labels is not None:
            targets.append(labels.index(row.label))
        else:
            tags = bio_tag_ids(encoding.offsets, row.spans, encoding.special_tokens_mask)
            targets.append(tags[: keep[0]] + tags[keep[1] :])
    return Encoded(task_name, ids, targets)


def _truncated(length: int, max_length: int) -> tuple[int, int]:
    """(end of the kept head, start of the kept tail): the first `max_length` + 1 tokens and [SEP]."""
    if length <= max_length + 2:
        return length, length
    return max_length + 1, length - 1


def class_weights(encoded: Encoded, classes: int, mode: str) -> list[float] | None:
    """Per-class loss weights for a skewed label task: `balanced` n/(k*n_c), `sqrt` its square root."""
    if mode == "none" or encoded.task == "pii":
        return None
    counts = [max(1, sum(1 for t in encoded.targets if t == c)) for c in range(classes)]
    total = sum(counts)
    weights = [total / (classes * count) for count in counts]
    return [math.sqrt(w) for w in weights] if mode == "sqrt" else weights


def epoch_batches(encoded: dict[str, Encoded], config: FilterConfig, epoch: int) -> list[tuple[str, list[int]]]:
    """This epoch's batches, each (task, row indices), in a shuffled order that only depends on (seed, epoch).

    Rows are shuffled, then sorted by length inside windows of 50 batches (little padding, still random),
    cut into batches; `repeat` lists a task's batches that many times (reshuffled each time)."""
    rng = random.Random(f"{config.seed}:{epoch}")
    size = config.train.batch_size
    batches: list[tuple[str, list[int]]] = []
    for name, data in encoded.items():
        for _ in range(config.task(name).repeat):
            order = list(range(len(data.ids)))
            rng.shuffle(order)
            window = size * 50
            for start in range(0, len(order), window):
                chunk = sorted(order[start : start + window], key=lambda i: len(data.ids[i]))
                batches.extend((name, chunk[i : i + size]) for i in range(0, len(chunk), size))
    rng.shuffle(batches)
    return batches


def collate(data: Encoded, indices: Sequence[int], pad_id: int) -> dict[str, Any]:
    import torch

    from maaza.tasks.filter.spans import IGNORE_INDEX

    width = max(len(data.ids[i]) for i in indices)
    ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(indices), width), dtype=torch.long)
    if data.task == "pii":
        target = torch.full((len(indices), width), IGNORE_INDEX, dtype=torch.long)
    elif not data.targets:  # unlabelled (pre-training)
        target = None
    else:
        target = torch.tensor([data.targets[i] for i in indices], dtype=torch.long)
    for row, index in enumerate(indices):
        length = len(data.ids[index])
        ids[row, :length] = torch.tensor(data.ids[index])
        mask[row, :length] = 1
        if data.task == "pii":
            target[row, :length] = torch.tensor(data.targets[index])
    return {"input_ids": ids, "attention_mask": mask, "target": target}


# ---------------------------------------------------------------------------------------------- losses


def task_loss(model: Any, task: str, batch: dict[str, Any], weights: Any = None) -> Any:
    """Cross-entropy of the batch's own head (the other heads' outputs are not used)."""
    import torch.nn.functional as F

    spam, toxicity, pii = model(batch["input_ids"], batch["attention_mask"])
    if task == "pii":
        return F.cross_entropy(pii.reshape(-1, pii.shape[-1]), batch["target"].reshape(-1), ignore_index=-100)
    logits = spam if task == "spam" else toxicity
    return F.cross_entropy(logits, batch["target"], weight=weights)


def mask_tokens(ids: Any, mask: Any, vocab_size: int, mask_id: int, first_normal: int, probability: float,
                generator: Any) -> tuple[Any, Any]:
    """BERT's masking: `probability` of the real tokens are targets; 80% become [MASK], 10% a random token,
    10% stay. Special tokens ([CLS], [SEP], padding) are never targets."""
    import torch

    special = (ids < first_normal) | (mask == 0)
    chosen = (torch.rand(ids.shape, generator=generator) < probability) & ~special
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (roll < 0.8)] = mask_id
    random_tokens = torch.randint(first_normal, vocab_size, ids.shape, generator=generator)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = random_tokens[swap]
    return inputs, labels


# ------------------------------------------------------------------------------------------- the recipe


def _schedule(optimizer: Any, total: int, warmup_ratio: float) -> Any:
    import torch

    warmup = max(1, int(total * warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class FilterRecipe:
    """Runs a `FilterConfig` end to end into `output_dir` (see the module docstring)."""

    def __init__(self, config: FilterConfig) -> None:
        self.config = config
        self.out = Path(config.output_dir)

    # ---------------------------------------------------------------------------------------------- setup

    def _tokenizer(self, rows: dict[str, tuple[list[Any], list[Any]]]) -> Any:
        from maaza.train.filter_tokenizer import (
            TOKENIZER_FILE,
            load_filter_tokenizer,
            save_filter_tokenizer,
            train_filter_tokenizer,
        )

        if (self.out / TOKENIZER_FILE).is_file():  # a resumed run keeps the vocabulary its weights use
            return load_filter_tokenizer(self.out)
        settings = self.config.tokenizer
        if settings.path:
            tokenizer = load_filter_tokenizer(settings.path)
            save_filter_tokenizer(tokenizer, self.out)
            return tokenizer
        texts = [row.text for train, _ in rows.values() for row in train]
        tokenizer = train_filter_tokenizer(
            texts,
            vocab_size=settings.vocab_size,
            min_frequency=settings.min_frequency,
            limit_alphabet=settings.limit_alphabet,
        )
        save_filter_tokenizer(tokenizer, self.out)
        return tokenizer

    def run(self, *, resume: bool = False) -> dict[str, Any]:
        import torch

        from maaza.io import atomic_write_json
        from maaza.tasks.filter import SPAM_LABELS, TOXICITY_LABELS
        from maaza.tasks.filter.spans import BIO_TAGS
        from maaza.train.filter_model import FilterArchitecture, build_filter_model, count_parameters
        from maaza.train.filter_tokenizer import MASK, PAD, SPECIAL_TOKENS

        config = self.config
        if not resume and (self.out / "checkpoints").is_dir() and any((self.out / "checkpoints").iterdir()):
            raise MaazaError(f"{self.out} holds checkpoints of an earlier run: pass --resume, or pick a new output_dir")
        torch.set_num_threads(config.train.threads or torch.get_num_threads())
        started = time.time()
        rows = load_task_rows(config)
        tokenizer = self._tokenizer(rows)
        length = config.train.max_length
        train = {name: encode_rows(name, pair[0], tokenizer, length) for name, pair in rows.items()}
        validation = {name: encode_rows(name, pair[1], tokenizer, length) for name, pair in rows.items()}
        torch.manual_seed(config.seed)
        arch = FilterArchitecture(
            vocab_size=tokenizer.get_vocab_size(),
            pad_token_id=tokenizer.token_to_id(PAD),
            **asdict(config.model),
        )
        model = build_filter_model(arch, len(BIO_TAGS))
        weights = {
            name: class_weights(data, len(SPAM_LABELS if name == "spam" else TOXICITY_LABELS), config.task(name).class_weights)
            for name, data in train.items()
        }
        weights_t = {k: (torch.tensor(v) if v is not None else None) for k, v in weights.items()}
        pad = tokenizer.token_to_id(PAD)
        if config.pretrain.steps:
            self._pretrain(model, train, pad, tokenizer.token_to_id(MASK), len(SPECIAL_TOKENS), resume)
        summary = self._supervised(model, train, validation, weights_t, pad, resume)
        from maaza.train.filter_model import save_filter_model

        extra = {
            "name": config.name,
            "spam_labels": list(SPAM_LABELS),
            "toxicity_labels": list(TOXICITY_LABELS),
            "pii_tags": list(BIO_TAGS),
            "tasks": sorted(train),
            "max_length": length,
        }
        save_filter_model(model, self.out / "model", {"training": extra})
        summary.update(
            parameters=count_parameters(model),
            rows={name: {"train": len(train[name].ids), "validation": len(validation[name].ids)} for name in train},
            class_weights=weights,
            train_seconds=round(time.time() - started, 1),
            config=asdict(config),
            outputs={"model": str(self.out / "model"), "tokenizer": str(self.out / "tokenizer.json")},
        )
        atomic_write_json(self.out / "training_summary.json", summary)
        return summary

    # -------------------------------------------------------------------------------------- pre-training

    def _pretrain(self, model: Any, train: dict[str, Encoded], pad: int, mask_id: int, first_normal: int,
                  resume: bool) -> None:
        """Masked-token steps over every training text (no labels); resumable, skipped once done."""
        import torch
        import torch.nn.functional as F

        from maaza.train.checkpoint import latest_checkpoint, load_checkpoint, rotate, save_checkpoint

        settings = self.config.pretrain
        folder = self.out / "pretrain"
        done = folder / "done.pt"
        if done.is_file():
            model.load_state_dict(torch.load(done, weights_only=True))
            return
        texts = Encoded("mlm", [ids for data in train.values() for ids in data.ids], [])
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.01)
        scheduler = _schedule(optimizer, settings.steps, 0.06)
        step = 0
        latest = latest_checkpoint(folder) if resume else None
        if latest is not None:
            step = load_checkpoint(latest, model=model, optimizer=optimizer, scheduler=scheduler)["step"]
        generator = torch.Generator().manual_seed(self.config.seed + 7)
        size = self.config.train.batch_size
        model.train()
        while step < settings.steps:
            generator.manual_seed(self.config.seed * 1000003 + step)
            rng = random.Random(f"mlm:{self.config.seed}:{step}")
            indices = rng.sample(range(len(texts.ids)), min(size, len(texts.ids)))
            batch = collate(texts, indices, pad)
            inputs, labels = mask_tokens(
                batch["input_ids"], batch["attention_mask"], model.arch.vocab_size, mask_id, first_normal,
                settings.mask_probability, generator,
            )
            logits = model.mlm_logits(inputs, batch["attention_mask"])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.config.train.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step % 50 == 0 or step == settings.steps:
                print(f"pretrain step {step}/{settings.steps} mlm loss {loss.item():.4f}", flush=True)
            if step % self.config.checkpoint_every == 0 and step < settings.steps:
                save_checkpoint(folder, f"step-{step:08d}", model=model, optimizer=optimizer,
                                scheduler=scheduler, state={"step": step})
                rotate(folder, self.config.keep_last)
        temporary = folder / ".done.pt.tmp"
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), temporary)
        temporary.replace(done)

    # ------------------------------------------------------------------------------------------ supervised

    def _supervised(self, model: Any, train: dict[str, Encoded], validation: dict[str, Encoded],
                    weights: dict[str, Any], pad: int, resume: bool) -> dict[str, Any]:
        import torch

        from maaza.train.checkpoint import (
            BEST,
            latest_checkpoint,
            load_checkpoint,
            rotate,
            save_checkpoint,
        )
        from maaza.train.logs import TrainingLogger

        config = self.config
        folder = self.out / "checkpoints"
        per_epoch = len(epoch_batches(train, config, 0))
        total = config.train.max_steps or per_epoch * config.train.epochs
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay)
        scheduler = _schedule(optimizer, total, config.train.warmup_ratio)
        state: dict[str, Any] = {"step": 0, "best_val_loss": None, "best_step": None}
        latest = latest_checkpoint(folder) if resume else None
        if latest is not None:
            state = load_checkpoint(latest, model=model, optimizer=optimizer, scheduler=scheduler)
            print(f"filter: resumed from {latest} (step {state['step']})")
        logger = TrainingLogger(self.out, tensorboard=True, wandb_settings=None, run_name=config.name,
                                config=asdict(config), resume_step=state["step"])
        step, losses, seen = state["step"], [], time.time()
        batches_of: dict[int, list[tuple[str, list[int]]]] = {}
        try:
            while step < total:
                epoch, position = divmod(step, per_epoch)
                if epoch not in batches_of:
                    batches_of = {epoch: epoch_batches(train, config, epoch)}
                name, indices = batches_of[epoch][position]
                model.train()
                batch = collate(train[name], indices, pad)
                loss = task_loss(model, name, batch, weights.get(name)) * config.task(name).loss_weight
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                losses.append(loss.item())
                logger.log(step, {"loss": loss.item(), f"loss_{name}": loss.item(), "lr": scheduler.get_last_lr()[0]})
                if step % 50 == 0:
                    print(f"step {step}/{total} (epoch {epoch + 1}) loss {sum(losses[-50:]) / len(losses[-50:]):.4f} "
                          f"{(time.time() - seen) / 50:.2f} s/step", flush=True)
                    seen = time.time()
                if step % config.eval_every == 0 or step == total:
                    values = evaluate_losses(model, validation, weights, pad, config.train.batch_size)
                    logger.log(step, values, prefix="val")
                    print(f"  val {values}", flush=True)
                    if state["best_val_loss"] is None or values["loss"] < state["best_val_loss"]:
                        state.update(best_val_loss=values["loss"], best_step=step, best_values=values)
                        save_checkpoint(folder, BEST, model=model, optimizer=optimizer, scheduler=scheduler,
                                        state={**state, "step": step})
                if step % config.checkpoint_every == 0 or step == total:
                    save_checkpoint(folder, f"step-{step:08d}", model=model, optimizer=optimizer,
                                    scheduler=scheduler, state={**state, "step": step})
                    rotate(folder, config.keep_last)
        finally:
            logger.close()
        if (folder / BEST).is_dir():
            from maaza.errors import warn_integrity
            from maaza.train.checkpoint import checkpoint_problem

            if (problem := checkpoint_problem(folder / BEST)) is None:
                load_checkpoint(folder / BEST, model=model, optimizer=None, scheduler=None)
            else:
                warn_integrity(f"checkpoint {folder / BEST} is damaged ({problem}); keeping the final weights")
        return {
            "steps": step,
            "epochs": round(step / per_epoch, 3),
            "final_train_loss": round(sum(losses[-50:]) / len(losses[-50:]), 4) if losses else None,
            "best_val_loss": state["best_val_loss"],
            "best_step": state["best_step"],
            "best_val": state.get("best_values"),
        }


def evaluate_losses(model: Any, validation: dict[str, Encoded], weights: dict[str, Any], pad: int,
                    batch_size: int) -> dict[str, float]:
    """Mean validation loss per task and their sum (`loss`, what picks the best step)."""
    import torch

    model.eval()
    values: dict[str, float] = {}
    with torch.no_grad():
        for name, data in validation.items():
            order = sorted(range(len(data.ids)), key=lambda i: len(data.ids[i]))
            total, count = 0.0, 0
            for start in range(0, len(order), batch_size):
                indices = order[start : start + batch_size]
                total += task_loss(model, name, collate(data, indices, pad), weights.get(name)).item() * len(indices)
                count += len(indices)
            values[f"loss_{name}"] = round(total / max(1, count), 5)
    values["loss"] = round(sum(values.values()), 5)
    return values

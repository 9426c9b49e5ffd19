"""The loss slot (`train.loss`): a registry of loss functions, name -> function.

A loss takes (model, batch, train settings) and returns a `LossResult`: the micro-batch's summed loss, which
the recipe divides by the step's supervised units (completion tokens, or examples for a classifier), and,
when the batch carries per-example `loss_weight`s (a task mixture) or the loss is per example anyway, each
example's unweighted summed loss for the per-task report.

- `completion_ce`: cross-entropy on what an example supervises: its completion tokens (causal LM, logits
  only at those positions), or its label (sequence classifier, logits of the last prompt token).
- `distill`: knowledge distillation from cached teacher logits (`batch["teacher_logits"]`, one row of
  logits over the labels per example): alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(labels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from maaza.errors import MaazaError

if TYPE_CHECKING:
    from torch import Tensor

    from maaza.train.config import OptimSettings

IGNORE_INDEX = -100  # maaza.train.data.IGNORE_INDEX: labels of prompt and padding tokens


@dataclass
class LossResult:
    total: Tensor  # summed (loss-weighted) loss of the micro-batch
    per_row: Tensor | None = None  # each example's unweighted summed loss; None when not computed


def _core(model: Any) -> Any:
    """The plain transformers model under a peft wrapper (LoRA layers stay injected in it)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def supervised_logits(model: Any, batch: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor]:
    """(logits, targets, rows): the logits a loss reads, their targets, and the example index of each.

    Causal LM (labels per token): only the completion positions are projected to the vocabulary. Batches
    are right-padded, so under a causal mask no real token ever attends to padding: the padding mask is
    redundant for every position that carries a label. Leaving it out lets SDPA take its fused causal path
    instead of materialising a (batch, heads, T, T) mask: on CPU this cut activation memory several-fold
    on 1.5K-token rows. Padded positions compute garbage that no label reads.
    Sequence classifier (one label per example): the head reads the last real token of each row, the
    token transformers' own `...ForSequenceClassification` pools at inference.
    """
    import torch

    core = _core(model)
    labels = batch["labels"]
    rows = torch.arange(labels.shape[0], device=labels.device)
    if labels.ndim == 1:
        backbone = getattr(core, core.base_model_prefix)
        hidden = backbone(input_ids=batch["input_ids"]).last_hidden_state
        last = batch["attention_mask"].sum(dim=1) - 1
        head = core.score if hasattr(core, "score") else core.classifier
        return head(hidden[rows, last]).float(), labels, rows
    hidden = core.get_decoder()(input_ids=batch["input_ids"]).last_hidden_state
    shifted = labels[:, 1:]
    mask = shifted != IGNORE_INDEX
    logits = core.get_output_embeddings()(hidden[:, :-1][mask]).float()
    return logits, shifted[mask], rows[:, None].expand_as(mask)[mask]


def completion_loss_sum(model: Any, batch: dict[str, Any]) -> tuple[Tensor, int]:
    """Summed cross-entropy over the supervised positions and their count (unweighted)."""
    import torch.nn.functional as F

    logits, targets, _ = supervised_logits(model, batch)
    return F.cross_entropy(logits, targets, reduction="sum"), int(targets.numel())


def _reduce(per_item: Tensor, rows: Tensor, batch: dict[str, Any]) -> LossResult:
    """Sum per-position (or per-example) losses, each times its example's loss_weight when given."""
    import torch

    per_row = torch.zeros(batch["labels"].shape[0], device=per_item.device, dtype=per_item.dtype)
    per_row = per_row.index_add(0, rows, per_item.detach())
    weights = batch.get("loss_weight")
    total = (per_item * weights.to(per_item.dtype)[rows]).sum() if weights is not None else per_item.sum()
    return LossResult(total, per_row)


def completion_ce(model: Any, batch: dict[str, Any], train: OptimSettings | None = None) -> LossResult:
    """Cross-entropy on the completion tokens (causal LM) or the label (classifier); see the module doc."""
    import torch.nn.functional as F

    if "loss_weight" not in batch:  # a single task: exactly today's summed cross-entropy
        return LossResult(completion_loss_sum(model, batch)[0])
    logits, targets, rows = supervised_logits(model, batch)
    return _reduce(F.cross_entropy(logits, targets, reduction="none"), rows, batch)


def kd_loss(student: Tensor, teacher: Tensor, labels: Tensor, temperature: float, alpha: float) -> Tensor:
    """Per example: alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * CE(student, y).

    The T^2 keeps the soft term's gradient on the scale of the hard one (Hinton et al., 2015).
    """
    import torch.nn.functional as F

    t = temperature
    log_student = F.log_softmax(student.float() / t, dim=-1)
    log_teacher = F.log_softmax(teacher.float() / t, dim=-1)
    kl = (log_teacher.exp() * (log_teacher - log_student)).sum(dim=-1)
    ce = F.cross_entropy(student.float(), labels, reduction="none")
    return alpha * t * t * kl + (1 - alpha) * ce


def distill(model: Any, batch: dict[str, Any], train: OptimSettings | None = None) -> LossResult:
    """Knowledge distillation from the batch's cached teacher logits (train.distill settings)."""
    if train is None:
        raise MaazaError("train.loss: distill needs the train.distill settings")
    if batch["labels"].ndim != 1:
        raise MaazaError("train.loss: distill needs per-example logits: model.kind sequence_classifier")
    teacher = batch.get("teacher_logits")
    if teacher is None:
        raise MaazaError(
            "train.loss: distill got a batch without teacher logits (train.distill.teacher_logits)"
        )
    logits, targets, rows = supervised_logits(model, batch)
    if teacher.shape != logits.shape:
        raise MaazaError(
            f"train.distill.teacher_logits: {tuple(teacher.shape[1:])} logits per row, the model "
            f"has {tuple(logits.shape[1:])}"
        )
    settings = train.distill
    return _reduce(kd_loss(logits, teacher, targets, settings.temperature, settings.alpha), rows, batch)


LossFn = Callable[[Any, dict[str, Any], "OptimSettings | None"], LossResult]

LOSSES: dict[str, LossFn] = {"completion_ce": completion_ce, "distill": distill}


def get_loss(name: str) -> LossFn:
    """The loss registered as `name`; an unknown name is an error naming train.loss and the choices."""
    try:
        return LOSSES[name]
    except KeyError:
        raise MaazaError(f"train.loss: '{name}' is not one of {', '.join(LOSSES)}") from None

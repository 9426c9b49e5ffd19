"""The loss slot: the registry, the distillation loss against a hand computation, the teacher-logits cache."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from maaza.errors import MaazaError
from maaza.train.data import TrainExample
from maaza.train.losses import LOSSES, completion_ce, distill, get_loss, kd_loss
from maaza.train.teacher import FORMAT, attach_teacher_logits, load_teacher_logits, write_teacher_logits

LABELS = ("negative", "neutral", "positive")


def _log_softmax(values: list[float]) -> list[float]:
    top = max(values)
    total = math.log(math.fsum(math.exp(v - top) for v in values)) + top
    return [v - total for v in values]


def test_kd_loss_equals_the_hand_computed_value() -> None:
    student, teacher, label, t, alpha = [1.0, 0.0, -1.0], [0.0, 2.0, 0.0], 0, 2.0, 0.5
    log_s, log_t = _log_softmax([v / t for v in student]), _log_softmax([v / t for v in teacher])
    kl = math.fsum(math.exp(lt) * (lt - ls) for lt, ls in zip(log_t, log_s, strict=True))
    ce = -_log_softmax(student)[label]
    expected = alpha * t * t * kl + (1 - alpha) * ce
    assert (kl, ce) == pytest.approx((0.20494, 0.40761), abs=1e-5)  # worked on paper: 2 * 0.20494 + 0.20380
    assert expected == pytest.approx(0.61369, abs=1e-5)
    got = kd_loss(torch.tensor([student]), torch.tensor([teacher]), torch.tensor([label]), t, alpha)
    assert got.shape == (1,)
    assert float(got[0]) == pytest.approx(expected, rel=1e-6)


def test_kd_loss_limits() -> None:
    student = torch.tensor([[0.3, -1.2, 2.0], [1.0, 1.0, 0.0]])
    labels = torch.tensor([2, 0])
    ce = torch.nn.functional.cross_entropy(student, labels, reduction="none")
    assert torch.allclose(kd_loss(student, student * 5, labels, 3.0, 0.0), ce)  # alpha 0: the plain CE
    assert torch.allclose(
        kd_loss(student, student, labels, 3.0, 1.0), torch.zeros(2), atol=1e-6
    )  # KL(p || p) = 0
    assert (kd_loss(student, -student, labels, 1.0, 1.0) > 0).all()


class _Classifier(torch.nn.Module):
    """Just enough of a transformers classifier for the loss functions: a backbone and a `score` head."""

    base_model_prefix = "model"

    def __init__(self) -> None:
        super().__init__()
        self.model = _Backbone()
        self.score = torch.nn.Linear(2, 3, bias=False)


class _Backbone(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 2)

    def forward(self, input_ids: torch.Tensor) -> object:
        return type("Out", (), {"last_hidden_state": self.embed(input_ids)})()


def test_distill_reads_the_batch_and_weights_each_example() -> None:
    from maaza.train.config import OptimSettings

    torch.manual_seed(0)
    model = _Classifier().requires_grad_(False)
    batch = {
        "input_ids": torch.tensor([[1, 2, 3], [4, 5, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1], [1, 1, 0]]),
        "labels": torch.tensor([2, 0]),
        "teacher_logits": torch.tensor([[0.0, 1.0, 3.0], [2.0, 0.0, 0.0]]),
    }
    settings = OptimSettings(loss="distill")
    logits = model.score(model.model.embed(torch.tensor([3, 5])))  # the head on each row's last real token
    expected = kd_loss(logits, batch["teacher_logits"], batch["labels"], 2.0, 0.5)
    result = distill(model, batch, settings)
    assert result.per_row is not None and torch.allclose(result.per_row, expected)
    assert float(result.total) == pytest.approx(float(expected.sum()), rel=1e-6)
    weighted = distill(model, {**batch, "loss_weight": torch.tensor([1.0, 1.5])}, settings)
    assert float(weighted.total) == pytest.approx(float(expected[0] + 1.5 * expected[1]), rel=1e-6)
    plain = completion_ce(model, batch)  # the same model under the default loss: CE on the label
    ce = torch.nn.functional.cross_entropy(logits, batch["labels"], reduction="sum")
    assert float(plain.total) == pytest.approx(float(ce), rel=1e-6) and plain.per_row is None
    with pytest.raises(MaazaError, match=r"distill got a batch without teacher logits"):
        distill(model, {k: v for k, v in batch.items() if k != "teacher_logits"}, settings)
    with pytest.raises(MaazaError, match=r"needs per-example logits: model.kind sequence_classifier"):
        distill(model, {**batch, "labels": torch.tensor([[1, 2, 3], [4, 5, 0]])}, settings)


def test_the_registry_names_its_losses() -> None:
    assert list(LOSSES) == ["completion_ce", "distill"]
    assert get_loss("distill") is distill
    with pytest.raises(MaazaError, match=r"^train.loss: 'focal' is not one of completion_ce, distill$"):
        get_loss("focal")


def _examples(*ids: str) -> list[TrainExample]:
    return [TrainExample(row_id, (1, 2), (), label=0) for row_id in ids]


def test_teacher_cache_round_trip_and_attach(tmp_path: Path) -> None:
    path = write_teacher_logits(
        tmp_path / "teacher.json",
        {"a": [1, 2, 3], "b": [0.5, 0, -1]},
        teacher="big",
        teacher_hash="f00d",
        labels=LABELS,
    )
    raw = json.loads(path.read_text())
    assert raw["format"] == FORMAT and raw["teacher_hash"] == "f00d" and raw["logits"]["a"] == [1.0, 2.0, 3.0]
    cache = load_teacher_logits(path, LABELS)
    assert cache.describe() == {"file": str(path), "teacher": "big", "teacher_hash": "f00d", "rows": 2}
    attached = attach_teacher_logits(_examples("b", "a"), cache)
    assert [e.teacher_logits for e in attached] == [(0.5, 0.0, -1.0), (1.0, 2.0, 3.0)]
    with pytest.raises(
        MaazaError,
        match=r"train.distill.teacher_logits: .* has no logits for training row 'c' "
        r"\(and 1 more\)",
    ):
        attach_teacher_logits(_examples("a", "c", "d"), cache)


def test_teacher_cache_errors(tmp_path: Path) -> None:
    good = {
        "format": FORMAT,
        "teacher": "t",
        "teacher_hash": "h",
        "labels": list(LABELS),
        "logits": {"a": [0, 0, 0]},
    }

    def load(payload: object) -> None:
        (tmp_path / "t.json").write_text(json.dumps(payload))
        load_teacher_logits(tmp_path / "t.json", LABELS)

    load(good)
    with pytest.raises(MaazaError, match=r"labels \['positive', 'negative', 'neutral'\], the task's are"):
        load({**good, "labels": ["positive", "negative", "neutral"]})
    with pytest.raises(MaazaError, match=r"row 'a' has 2 logits for 3 labels"):
        load({**good, "logits": {"a": [0, 1]}})
    with pytest.raises(MaazaError, match=r"is not a teacher-logits file"):
        load({"logits": {}})
    with pytest.raises(MaazaError, match=r"lacks 'teacher_hash'"):
        load({k: v for k, v in good.items() if k != "teacher_hash"})
    with pytest.raises(MaazaError, match=r"train.distill.teacher_logits: file not found"):
        load_teacher_logits(tmp_path / "absent.json", LABELS)
    with pytest.raises(MaazaError, match=r"2 values for 3 labels"):
        write_teacher_logits(tmp_path / "w.json", {"a": [1, 2]}, teacher="t", teacher_hash="h", labels=LABELS)

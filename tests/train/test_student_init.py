"""A distilled student's start: the teacher layers it copies (`model.teacher_layers` or every k-th), and the
vocabulary cut to the run's texts (`model.vocab_cut`), through build_model, a short run and the saved folder.

The teacher is a tiny random 4-layer Llama (hidden 32) over the tiny byte-level BPE of test_vocab_cut.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from test_vocab_cut import tiny_llama, tiny_tokenizer
from train_helpers import SENTIMENT_ROWS

from maaza.config import from_dict
from maaza.errors import MaazaError
from maaza.train.config import ADDED_KEYS, ModelSettings, TrainConfig
from maaza.train.data import collate, prepare_data
from maaza.train.models import copy_teacher_layers
from maaza.train.recipe import Recipe, build_model, recipe_hash

LAYER_PREFIX = "model.layers."


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture(scope="module")
def teacher_tokenizer() -> Any:
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def teacher(teacher_tokenizer: Any) -> Any:
    torch.manual_seed(11)
    return tiny_llama(teacher_tokenizer, layers=4)


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory: pytest.TempPathFactory, teacher: Any, teacher_tokenizer: Any) -> Path:
    """The teacher saved as a model folder with its tokenizer: what `model.base` names."""
    folder = tmp_path_factory.mktemp("tiny-teacher")
    teacher.save_pretrained(folder, safe_serialization=True)
    teacher_tokenizer.save_pretrained(folder)
    return folder


def student_config(base: Path, sentiment: Path, out: Path, **model: Any) -> TrainConfig:
    """A 2-layer sentiment classifier started from `base`'s layers; `model` keys override."""
    data = {
        "name": "student",
        "task": "sentiment",
        "output_dir": str(out),
        "model": {
            "base": str(base),
            "method": "full",
            "kind": "sequence_classifier",
            "init": "teacher_layers",
            "architecture": {"layers": 2},
            **model,
        },
        "data": {"train": [str(sentiment)], "prompt_format": "plain", "val_fraction": 0.25, "max_length": 64},
        "train": {
            "epochs": 1,
            "max_steps": 2,
            "lr": 1e-3,
            "batch_size": 4,
            "micro_batch_tokens": 256,
            "warmup_ratio": 0.0,
            "seed": 7,
            "threads": 1,
        },
        "checkpoint": {"every_steps": 10, "keep_last": 1},
        "eval": {"every_steps": 10, "max_examples": 4},
        "logging": {"tensorboard": False, "progress": False},
    }
    return from_dict(TrainConfig, data)


def student_of(teacher: Any, layers: int, *, classifier: bool = True) -> Any:
    from transformers import LlamaForCausalLM, LlamaForSequenceClassification

    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = layers
    torch.manual_seed(5)
    return (LlamaForSequenceClassification if classifier else LlamaForCausalLM)(config)


def assert_copied(student: Any, teacher: Any, picks: list[int]) -> None:
    """Every parameter of student layer i is teacher layer picks[i]'s; the rest (embeddings, norm) the
    teacher's, except a classifier's head."""
    taught = teacher.state_dict()
    for name, tensor in student.state_dict().items():
        if name.startswith("score."):
            continue
        if name.startswith(LAYER_PREFIX):
            index, rest = name[len(LAYER_PREFIX) :].split(".", 1)
            name = f"{LAYER_PREFIX}{picks[int(index)]}.{rest}"
        assert torch.equal(tensor, taught[name]), name


# --- which teacher layers ---------------------------------------------------------------------------


def test_copy_teacher_layers_takes_a_list_or_a_stride(teacher: Any) -> None:
    student = student_of(teacher, 2)
    head = student.score.weight.detach().clone()
    assert copy_teacher_layers(teacher, student, [1, 3]) == [1, 3]
    assert_copied(student, teacher, [1, 3])
    assert torch.equal(student.model.embed_tokens.weight, teacher.model.embed_tokens.weight)
    assert torch.equal(student.model.norm.weight, teacher.model.norm.weight)
    assert torch.equal(student.score.weight, head)  # the head stays fresh: the teacher has none
    layer = student.model.layers[0].self_attn.q_proj.weight
    assert torch.equal(layer, teacher.model.layers[1].self_attn.q_proj.weight)
    assert not torch.equal(layer, teacher.model.layers[0].self_attn.q_proj.weight)  # distinct layers

    strided = student_of(teacher, 2)
    assert copy_teacher_layers(teacher, strided, 2) == [0, 2]  # the stride form: i * 2
    assert_copied(strided, teacher, [0, 2])
    lm = student_of(teacher, 3, classifier=False)
    assert copy_teacher_layers(teacher, lm, [0, 1, 3]) == [0, 1, 3]
    assert_copied(lm, teacher, [0, 1, 3])  # a causal LM: its (tied) lm_head is the teacher's too
    with pytest.raises(
        MaazaError, match=r"model.teacher_layers: \[4\] out of range: the teacher has 4 layers"
    ):
        copy_teacher_layers(teacher, student_of(teacher, 2), [1, 4])
    with pytest.raises(MaazaError, match=r"model.teacher_layers: 3 teacher layers for a 2-layer student"):
        copy_teacher_layers(teacher, student_of(teacher, 2), [0, 1, 2])


def test_build_model_copies_the_named_teacher_layers(
    teacher_dir: Path, sentiment: Path, tmp_path: Path
) -> None:
    from transformers import LlamaForCausalLM

    teacher = LlamaForCausalLM.from_pretrained(teacher_dir)
    config = student_config(teacher_dir, sentiment, tmp_path, teacher_layers=[0, 3])
    student, tokenizer, _ = build_model(config, torch.device("cpu"))
    assert student.maaza_start == {
        "init": "teacher_layers",
        "teacher_layers": [0, 3],
        "teacher_head": False,
    }
    assert student.config.num_hidden_layers == 2 and student.score.weight.shape == (3, 32)
    assert_copied(student, teacher, [0, 3])
    assert len(tokenizer) == teacher.config.vocab_size  # no cut asked: the teacher's vocabulary
    stride = student_config(teacher_dir, sentiment, tmp_path)
    assert build_model(stride, torch.device("cpu"))[0].maaza_start["teacher_layers"] == [0, 2]
    beyond = student_config(teacher_dir, sentiment, tmp_path, teacher_layers=[2, 4])
    with pytest.raises(
        MaazaError, match=r"model.teacher_layers: \[4\] out of range: the teacher has 4 layers"
    ):
        build_model(beyond, torch.device("cpu"))


# --- config ---------------------------------------------------------------------------------------------

STUDENT = {"method": "full", "init": "teacher_layers", "architecture": {"layers": 2}}
ARCH = {"layers": 2, "hidden": 32, "heads": 4, "intermediate": 64, "context": 64}


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ({"vocab_cut": True}, "model.vocab_cut: a pretrained model keeps its vocabulary"),
        (
            {**STUDENT, "teacher_layers": [0]},
            "model.teacher_layers: lists 1 layers, but model.architecture.layers is 2",
        ),
        ({**STUDENT, "teacher_layers": [0, 1, 2]}, "model.teacher_layers: lists 3 layers"),
        ({**STUDENT, "teacher_layers": [-1, 2]}, r"model.teacher_layers: \[-1, 2\] has a negative index"),
        (
            {**STUDENT, "teacher_layers": [3, 1]},
            r"model.teacher_layers: \[3, 1\] must be distinct and ascending",
        ),
        (
            {**STUDENT, "teacher_layers": [2, 2]},
            r"model.teacher_layers: \[2, 2\] must be distinct and ascending",
        ),
        (
            {"method": "full", "init": "config", "teacher_layers": [0, 1], "architecture": {"layers": 2}},
            "model.teacher_layers: only read with model.init teacher_layers",
        ),
        (
            {
                "method": "full",
                "init": "config",
                "vocab_cut": True,
                "architecture": {**ARCH, "vocab_size": 500},
            },
            "model.architecture.vocab_size: model.vocab_cut sets the vocabulary; leave it out",
        ),
    ],
)
def test_config_errors_name_the_key(model: dict[str, Any], expected: str) -> None:
    with pytest.raises(MaazaError, match=expected):
        from_dict(ModelSettings, model)


def test_the_new_keys_leave_old_recipe_hashes_alone(
    teacher_dir: Path, sentiment: Path, tmp_path: Path
) -> None:
    assert {"vocab_cut", "teacher_layers"} <= set(ADDED_KEYS["model"])
    plain = student_config(teacher_dir, sentiment, tmp_path)
    spelled = student_config(teacher_dir, sentiment, tmp_path, vocab_cut=False, teacher_layers=None)
    assert recipe_hash(plain) == recipe_hash(spelled)
    assert recipe_hash(student_config(teacher_dir, sentiment, tmp_path, vocab_cut=True)) != recipe_hash(plain)
    assert recipe_hash(
        student_config(teacher_dir, sentiment, tmp_path, teacher_layers=[0, 2])
    ) != recipe_hash(plain)
    assert from_dict(ModelSettings, {**STUDENT, "teacher_layers": [1, 3]}).teacher_layers == [1, 3]


# --- the vocabulary cut through build_model -------------------------------------------------------------


def kept_ids(cut: Any, original: Any) -> list[int]:
    """The original id of each cut token (the cut numbers its tokens as the kept ids, in order)."""
    return original.convert_tokens_to_ids(cut.convert_ids_to_tokens(list(range(len(cut)))))


def test_a_vocab_cut_student_saves_a_folder_plain_transformers_loads(
    teacher_dir: Path, teacher_tokenizer: Any, sentiment: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, LlamaForCausalLM

    from maaza.train.outputs import save_outputs

    teacher = LlamaForCausalLM.from_pretrained(teacher_dir)
    config = student_config(teacher_dir, sentiment, tmp_path / "run", teacher_layers=[1, 3], vocab_cut=True)
    student, tokenizer, _ = build_model(config, torch.device("cpu"))
    kept = kept_ids(tokenizer, teacher_tokenizer)
    record = student.maaza_start["vocab_cut"]
    assert student.maaza_start["teacher_layers"] == [1, 3]
    assert record["vocab_before"] == teacher.config.vocab_size == len(teacher_tokenizer)
    assert record["vocab_after"] == record["kept_tokens"] == len(tokenizer) == student.config.vocab_size
    assert record["texts"] == len(SENTIMENT_ROWS) and 256 < len(tokenizer) < len(teacher_tokenizer)
    # the kept rows of the teacher's embeddings, its chosen layers, and the classifier pads with the cut's pad
    assert torch.equal(
        student.model.embed_tokens.weight, teacher.model.embed_tokens.weight[torch.tensor(kept)]
    )
    assert student.config.pad_token_id == tokenizer.pad_token_id and kept[tokenizer.pad_token_id] == (
        teacher_tokenizer.pad_token_id
    )
    layer = student.model.layers[1].mlp.down_proj.weight
    assert torch.equal(layer, teacher.model.layers[3].mlp.down_proj.weight)
    # the data is tokenized with the cut tokenizer, into the original tokens
    data = prepare_data(config.data, tokenizer, config.train.seed, task="sentiment", classify=True)
    original = prepare_data(
        config.data, teacher_tokenizer, config.train.seed, task="sentiment", classify=True
    )
    assert [[kept[i] for i in e.prompt_ids] for e in data.train + data.val] == [
        list(e.prompt_ids) for e in original.train + original.val
    ]
    save_outputs(student, tokenizer, config, tmp_path / "run", recipe_hash(config))
    merged = tmp_path / "run" / "merged"
    loaded_tokenizer = AutoTokenizer.from_pretrained(merged)
    loaded = AutoModelForSequenceClassification.from_pretrained(merged).eval()
    assert len(loaded_tokenizer) == loaded.config.vocab_size == len(tokenizer)
    assert loaded_tokenizer.padding_side == "right"
    assert json.loads((merged / "maaza.json").read_text())["vocab_cut"] == record
    prompts = [f"Review: {row['text']}\nSentiment:" for row in SENTIMENT_ROWS[:4]]
    assert loaded_tokenizer(prompts)["input_ids"] == tokenizer(prompts, add_special_tokens=False)["input_ids"]
    batch = collate(data.train[:4], tokenizer.pad_token_id)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad():
        expected = student.eval()(**inputs).logits
        theirs = loaded(
            **loaded_tokenizer(prompts_of(data.train[:4], tokenizer), padding=True, return_tensors="pt")
        )
    assert torch.equal(loaded(**inputs).logits, expected)
    assert torch.allclose(theirs.logits, expected, atol=1e-6)


def prompts_of(examples: list[Any], tokenizer: Any) -> list[str]:
    return [tokenizer.decode(list(e.prompt_ids)) for e in examples]


def test_a_vocab_cut_causal_lm_keeps_its_targets_tokens(
    teacher_dir: Path, teacher_tokenizer: Any, sentiment: Path, tmp_path: Path
) -> None:
    """init config, causal LM: the targets are texts of the run too (they are tokenized as completions)."""
    config = student_config(
        teacher_dir, sentiment, tmp_path, kind="causal_lm", init="config", architecture=ARCH, vocab_cut=True
    )
    model, tokenizer, _ = build_model(config, torch.device("cpu"))
    kept = kept_ids(tokenizer, teacher_tokenizer)
    assert model.config.vocab_size == len(tokenizer) == model.lm_head.weight.shape[0] < len(teacher_tokenizer)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert model.maaza_start["vocab_cut"]["texts"] == 2 * len(SENTIMENT_ROWS)  # prompt and target of each row
    data = prepare_data(config.data, tokenizer, config.train.seed, task="sentiment")
    original = prepare_data(config.data, teacher_tokenizer, config.train.seed, task="sentiment")
    for new, old in zip(data.train + data.val, original.train + original.val, strict=True):
        assert [kept[i] for i in new.prompt_ids + new.completion_ids] == list(
            old.prompt_ids + old.completion_ids
        )
    assert kept[model.config.eos_token_id] == teacher_tokenizer.eos_token_id


def test_a_vocab_cut_student_trains_and_ships_its_cut_vocabulary(
    teacher_dir: Path, sentiment: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    config = student_config(teacher_dir, sentiment, tmp_path / "run", teacher_layers=[0, 3], vocab_cut=True)
    summary = Recipe(config).run()
    assert summary["init"]["kind"] == "teacher_layers" and summary["init"]["teacher_layers"] == [0, 3]
    cut = summary["init"]["vocab_cut"]
    assert cut["vocab_after"] < cut["vocab_before"]
    merged = tmp_path / "run" / "merged"
    tokenizer = AutoTokenizer.from_pretrained(merged)
    model = AutoModelForSequenceClassification.from_pretrained(merged).eval()
    assert len(tokenizer) == model.config.vocab_size == cut["vocab_after"]
    assert model.model.embed_tokens.weight.shape == (cut["vocab_after"], 32)
    assert summary["params"]["total"] == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        logits = model(**tokenizer(["Review: loved it\nSentiment:"], return_tensors="pt")).logits
    assert logits.shape == (1, 3) and torch.isfinite(logits).all()


def test_a_classifier_teacher_over_the_same_labels_gives_its_head_too(
    teacher: Any, teacher_tokenizer: Any, sentiment: Path, tmp_path: Path
) -> None:
    """A teacher folder that is itself a classifier over the task's labels (the top-layer teacher): the
    student copies its trained head with the layers; a classifier over other labels gives layers only."""
    from train_helpers import SENTIMENT_LABELS
    from transformers import LlamaForSequenceClassification

    def classifier_teacher(labels: list[str], folder: Path) -> LlamaForSequenceClassification:
        config = copy.deepcopy(teacher.config)
        config.num_labels = len(labels)
        config.id2label = dict(enumerate(labels))
        config.label2id = {label: i for i, label in enumerate(labels)}
        torch.manual_seed(3)
        model = LlamaForSequenceClassification(config)
        model.model.load_state_dict(teacher.model.state_dict())
        model.save_pretrained(folder, safe_serialization=True)
        teacher_tokenizer.save_pretrained(folder)
        return model

    same = classifier_teacher(list(SENTIMENT_LABELS), tmp_path / "same")
    student, _, _ = build_model(student_config(tmp_path / "same", sentiment, tmp_path / "out",
                                               teacher_layers=[0, 3]), torch.device("cpu"))
    assert student.maaza_start["teacher_head"] is True
    assert torch.equal(student.score.weight, same.score.weight)
    assert torch.equal(student.model.layers[1].mlp.up_proj.weight, same.model.layers[3].mlp.up_proj.weight)

    other = classifier_teacher(["x", "y", "z"], tmp_path / "other")
    fresh, _, _ = build_model(student_config(tmp_path / "other", sentiment, tmp_path / "out2",
                                             teacher_layers=[0, 3]), torch.device("cpu"))
    assert fresh.maaza_start["teacher_head"] is False
    assert not torch.equal(fresh.score.weight, other.score.weight)

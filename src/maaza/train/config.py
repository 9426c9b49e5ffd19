"""The training recipe's configuration (one YAML per recipe under configs/).

The recipe has slots, not forks: `task` (any registered task), `model.kind` / `model.init` (what is trained
and how it starts), `train.loss` (what it minimises) and `data.mixture` (several tasks in one run). Every
choice is checked here against its registry, so a typo is an error naming the key before anything loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

from maaza.errors import MaazaError
from maaza.tasks import get_task
from maaza.tasks.base import is_classification_task

ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
DEFAULT_TRAIN_FILES = ["edgejson_v3/train.jsonl"]
EDGEJSON_RESOURCE = "schemas"  # data.schemas: the edgejson resource, passed to every task that reads one

# Keys added after checkpoints were first written: left out of the recipe hash while at their default, so a
# checkpoint of a config that does not use them still resumes (maaza.train.recipe.recipe_hash).
ADDED_KEYS: dict[str, tuple[str, ...]] = {
    "model": ("kind", "init", "architecture", "vocab_cut", "teacher_layers"),
    "data": ("resources", "mixture"),
    "train": ("loss", "distill"),
}


@dataclass
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.1
    target_modules: list[str] = field(default_factory=lambda: list(ALL_PROJECTIONS))


@dataclass
class ArchitectureSettings:
    """The shape of a model built from its config (model.init config; teacher_layers reads `layers` only).

    The family (Llama for SmolLM2) and the tokenizer come from `model.base`; unset vocab_size: the base's.
    """

    layers: int | None = None
    hidden: int | None = None
    heads: int | None = None
    kv_heads: int | None = None  # None: as many as `heads` (no grouped-query attention)
    intermediate: int | None = None
    vocab_size: int | None = None
    context: int | None = None  # max positions

    def check(self, init: str) -> None:
        where = "model.architecture"
        if init == "teacher_layers":
            if not self.layers or self.layers < 1:
                raise MaazaError(f"{where}.layers: model.init teacher_layers needs the student's layer count")
            for name in ("hidden", "heads", "kv_heads", "intermediate", "vocab_size", "context"):
                if getattr(self, name) is not None:
                    raise MaazaError(
                        f"{where}.{name}: teacher_layers keeps the teacher's widths; leave it out"
                    )
            return
        for name in ("layers", "hidden", "heads", "intermediate", "context"):
            value = getattr(self, name)
            if value is None or value < 1:
                raise MaazaError(f"{where}.{name}: model.init config needs a positive {name}")
        heads, kv = self.heads or 1, self.kv_heads or self.heads or 1
        if (self.hidden or 0) % heads:
            raise MaazaError(f"{where}.hidden: {self.hidden} is not a multiple of heads ({heads})")
        if kv < 1 or heads % kv:
            raise MaazaError(f"{where}.kv_heads: {kv} does not divide heads ({heads})")
        if self.vocab_size is not None and self.vocab_size < 1:
            raise MaazaError(f"{where}.vocab_size: must be positive")


@dataclass
class ModelSettings:
    base: str = "smollm2-135m"
    method: Literal["lora", "full"] = "lora"
    lora: LoraSettings = field(default_factory=LoraSettings)
    # A trained peft LoRA adapter folder to start from instead of a fresh LoRA (warm start: refine an
    # adapter on new or more data); its rank, alpha and target modules must equal `lora`'s.
    init_adapter: str | None = None
    # Quantization-aware fine-tuning (method 'full' only): every matrix llama.cpp stores 4-bit is trained
    # through its Q4_0 round trip (maaza.train.fake_quant), so `maaza export --formats gguf-q4_0-pure` of the
    # result holds exactly the weights training saw. None: plain fine-tuning.
    fake_quant: Literal["q4_0"] | None = None
    # What is trained (maaza.train.models): a causal LM writing the target, or the base's decoder with a
    # linear head on its last prompt token over the task's labels.
    kind: Literal["causal_lm", "sequence_classifier"] = "causal_lm"
    # How it starts: the base's weights, random weights of `architecture`, or the base's embeddings and
    # every k-th layer (k = the base's layers // architecture.layers), or the layers `teacher_layers` names.
    init: Literal["pretrained", "config", "teacher_layers"] = "pretrained"
    architecture: ArchitectureSettings | None = None
    # With init teacher_layers: the teacher layer each student layer copies, in order (one per
    # architecture.layers, ascending, each below the teacher's layer count). None: every k-th layer.
    teacher_layers: list[int] | None = None
    # Cut the vocabulary to the tokens of the run's texts (the task's prompts of every training and
    # validation row, and a causal LM's targets) before tokenizing them (maaza.train.vocab_cut): the 256
    # byte tokens, the special tokens and the merges that build the kept tokens stay, so every text
    # tokenizes as before and any other text still does. The embeddings keep the kept rows and the cut
    # tokenizer is saved with the model. Only with init config or teacher_layers: a pretrained model
    # keeps its vocabulary.
    vocab_cut: bool = False

    def validate(self) -> None:
        if self.teacher_layers is not None and self.init != "teacher_layers":
            raise MaazaError("model.teacher_layers: only read with model.init teacher_layers")
        if self.init == "pretrained":
            if self.architecture is not None:
                raise MaazaError("model.architecture: only read with model.init config or teacher_layers")
            if self.vocab_cut:
                raise MaazaError(
                    "model.vocab_cut: a pretrained model keeps its vocabulary; cut it with model.init "
                    "config or teacher_layers"
                )
            return
        if self.method != "full":
            raise MaazaError(f"model.method: model.init {self.init} trains new weights: needs method 'full'")
        if self.init_adapter:
            raise MaazaError("model.init_adapter: a warm start needs model.init pretrained")
        if self.architecture is None:
            raise MaazaError(f"model.architecture: model.init {self.init} needs an architecture")
        self.architecture.check(self.init)
        if self.vocab_cut and self.architecture.vocab_size is not None:
            raise MaazaError(
                "model.architecture.vocab_size: model.vocab_cut sets the vocabulary; leave it out"
            )
        if self.teacher_layers is not None:
            self._check_teacher_layers(self.teacher_layers, self.architecture.layers or 0)

    @staticmethod
    def _check_teacher_layers(picked: list[int], layers: int) -> None:
        where = "model.teacher_layers"
        if len(picked) != layers:
            raise MaazaError(
                f"{where}: lists {len(picked)} layers, but model.architecture.layers is {layers}; "
                "name one teacher layer per student layer"
            )
        if any(index < 0 for index in picked):
            raise MaazaError(f"{where}: {picked} has a negative index; teacher layers count from 0")
        if any(a >= b for a, b in pairwise(picked)):
            raise MaazaError(f"{where}: {picked} must be distinct and ascending (the teacher's order)")


@dataclass
class MixtureEntry:
    """One task of a multi-task run: its files, how often its examples are drawn, how much their loss counts."""

    task: str = ""
    train: list[str] = field(default_factory=list)
    val: str | None = None  # None: hold out data.val_fraction of this task's train rows
    schemas: str | None = None  # None: data.schemas (for a task that reads a schema folder)
    resources: dict[str, str] = field(default_factory=dict)
    prompt_format: str | None = None  # None: data.prompt_format
    weight: float = 1.0  # share of every step's examples (relative to the other entries)
    loss_weight: float = 1.0  # each example's loss is multiplied by it


@dataclass
class DataSettings:
    train: list[str] = field(default_factory=lambda: list(DEFAULT_TRAIN_FILES))
    val: str | None = None  # None: hold out `val_fraction` of train (seeded)
    val_fraction: float = 0.05
    schemas: str = "edgejson_v3/schemas"
    prompt_format: str = "schema-chat"
    minify_targets: bool = True
    max_length: int = 2048
    # Examples longer than max_length: "drop" (counted and reported) or "error". The target is never cut.
    overlength: Literal["drop", "error"] = "drop"
    max_train_examples: int | None = None  # with a mixture: per task
    resources: dict[str, str] = field(default_factory=dict)  # the task's other resources: {name: path}
    # Several tasks in one run (maaza.train.mixture); replaces train/val/resources above.
    mixture: list[MixtureEntry] | None = None

    def validate(self) -> None:
        if not 0 <= self.val_fraction < 1:
            raise MaazaError("data.val_fraction: must be in [0, 1)")
        if self.max_length < 16:
            raise MaazaError("data.max_length: must be at least 16")
        if not self.train:
            raise MaazaError("data.train: name at least one JSONL file")
        if self.mixture is not None:
            self._validate_mixture()

    def _validate_mixture(self) -> None:
        mixture = self.mixture or []
        if not mixture:
            raise MaazaError("data.mixture: list at least one task (or leave it out)")
        for key, value in (
            ("train", self.train != DEFAULT_TRAIN_FILES),
            ("val", self.val),
            ("resources", self.resources),
        ):
            if value:
                raise MaazaError(f"data.{key}: with data.mixture, give each task's {key} in its entry")
        seen: dict[str, int] = {}
        for i, entry in enumerate(mixture):
            where = f"data.mixture[{i}]"
            if not entry.task:
                raise MaazaError(f"{where}.task: name the entry's task")
            if entry.task in seen:
                raise MaazaError(
                    f"{where}.task: '{entry.task}' is already data.mixture[{seen[entry.task]}]; "
                    "list all its files in one entry"
                )
            seen[entry.task] = i
            if not entry.train:
                raise MaazaError(f"{where}.train: name at least one JSONL file")
            if entry.weight < 0:
                raise MaazaError(f"{where}.weight: must be >= 0, got {entry.weight}")
            if entry.loss_weight < 0:
                raise MaazaError(f"{where}.loss_weight: must be >= 0, got {entry.loss_weight}")
        if sum(entry.weight for entry in mixture) <= 0:
            raise MaazaError("data.mixture: the weights sum to 0; give at least one task a positive weight")


@dataclass
class DistillSettings:
    """Knowledge distillation from cached teacher logits (train.loss distill; maaza.train.losses.kd_loss)."""

    temperature: float = 2.0
    alpha: float = 0.5  # alpha * T^2 * KL(teacher || student) + (1 - alpha) * CE(labels)
    teacher_logits: str | None = None  # the cache file (maaza.train.teacher): every training row's logits
    # The teacher the cache must come from (its weights hash, maaza.train.top_layers.weights_hash): a cache
    # of another teacher is refused. None: any teacher's cache is accepted (its hash is still reported).
    teacher_hash: str | None = None


@dataclass
class OptimSettings:
    epochs: float = 3.0
    max_steps: int | None = None  # stops early when set (optimizer steps)
    lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    weight_decay: float = 0.01
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = 0.1
    batch_size: int = 32  # examples per optimizer step, over all processes (the effective batch)
    micro_batch_tokens: int = 4096  # padded tokens per forward pass; examples grouped by length
    max_grad_norm: float = 1.0
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 on a GPU that supports it, else fp32
    seed: int = 42
    threads: int | None = None
    loss: str = "completion_ce"  # a name in maaza.train.losses.LOSSES
    distill: DistillSettings = field(default_factory=DistillSettings)

    def validate(self) -> None:
        from maaza.train.losses import LOSSES

        if self.lr <= 0:
            raise MaazaError("train.lr: must be positive")
        if self.batch_size < 1:
            raise MaazaError("train.batch_size: must be at least 1")
        if len(self.betas) != 2:
            raise MaazaError("train.betas: needs two numbers")
        if not 0 <= self.warmup_ratio < 1:
            raise MaazaError("train.warmup_ratio: must be in [0, 1)")
        if self.epochs <= 0 and not self.max_steps:
            raise MaazaError("train.epochs: must be positive (or set train.max_steps)")
        if self.loss not in LOSSES:
            raise MaazaError(f"train.loss: '{self.loss}' is not one of {', '.join(LOSSES)}")
        if self.loss == "distill":
            if not self.distill.teacher_logits:
                raise MaazaError("train.distill.teacher_logits: the distill loss needs a teacher-logits file")
            if self.distill.temperature <= 0:
                raise MaazaError("train.distill.temperature: must be positive")
            if not 0 <= self.distill.alpha <= 1:
                raise MaazaError("train.distill.alpha: must be in [0, 1]")


@dataclass
class CheckpointSettings:
    every_steps: int = 50
    keep_last: int = 3
    keep_best: bool = True
    export_best: bool = True  # final adapter/merged come from the best checkpoint (by val loss)


@dataclass
class EvalSettings:
    every_steps: int = 50
    max_examples: int | None = 64


@dataclass
class LoggingSettings:
    tensorboard: bool = True
    wandb: dict[str, Any] | None = None  # e.g. {project: maaza, entity: me}; needs `pip install wandb`
    log_every_steps: int = 1
    progress: bool = True


@dataclass
class TrainConfig:
    name: str = "mlm-135m-json"
    task: str = "edgejson"  # a registered task (maaza tasks list); with a mixture, its primary task
    output_dir: str = "runs/mlm_135m_json"
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=DataSettings)
    train: OptimSettings = field(default_factory=OptimSettings)
    checkpoint: CheckpointSettings = field(default_factory=CheckpointSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)

    def validate(self) -> None:
        """The checks that need the task registry: task names, prompt formats, resources, model kind."""
        task = get_task(self.task, key="task")
        check_prompt_format(task, self.data.prompt_format, "data.prompt_format")
        check_resources(task, self.data.resources, "data.resources")
        for i, entry in enumerate(self.data.mixture or []):
            where = f"data.mixture[{i}]"
            entry_task = get_task(entry.task, key=f"{where}.task")
            if entry.prompt_format is not None:
                check_prompt_format(entry_task, entry.prompt_format, f"{where}.prompt_format")
            elif self.data.prompt_format not in entry_task.prompt_formats:
                raise MaazaError(
                    f"{where}.prompt_format: task '{entry.task}' has no prompt format '{self.data.prompt_format}' "
                    f"(data.prompt_format); set one of {', '.join(entry_task.prompt_formats)}"
                )
            check_resources(entry_task, entry.resources, f"{where}.resources")
        tasks = [entry.task for entry in self.data.mixture or []]
        if tasks and self.task not in tasks:
            raise MaazaError(
                f"task: '{self.task}' is not in data.mixture ({', '.join(tasks)}); "
                "set task to the mixture's primary task"
            )
        if self.model.kind == "sequence_classifier":
            if not is_classification_task(task):
                raise MaazaError(
                    f"model.kind: sequence_classifier needs a classification task (labels, label_of); "
                    f"task '{self.task}' has none"
                )
            if self.data.mixture is not None:
                raise MaazaError("data.mixture: a sequence_classifier trains one task's labels; leave it out")
        elif self.train.loss == "distill":
            raise MaazaError(
                "train.loss: distill reads cached per-example logits over the task's labels: "
                "needs model.kind sequence_classifier"
            )
        arch = self.model.architecture
        if self.model.init == "config" and arch is not None and (arch.context or 0) < self.data.max_length:
            raise MaazaError(
                f"model.architecture.context: {arch.context} is shorter than data.max_length "
                f"({self.data.max_length})"
            )


def check_prompt_format(task: Any, prompt_format: str, key: str) -> None:
    if prompt_format not in task.prompt_formats:
        raise MaazaError(f"{key}: '{prompt_format}' is not one of {', '.join(task.prompt_formats)}")


def check_resources(task: Any, resources: dict[str, str], key: str) -> None:
    for name in resources:
        if name == EDGEJSON_RESOURCE:
            raise MaazaError(f"{key}.{name}: set it with the schemas key instead")
        if name not in task.resource_names:
            known = ", ".join(task.resource_names) or "none"
            raise MaazaError(
                f"{key}.{name}: task '{task.name}' reads no resource '{name}' (its resources: {known})"
            )

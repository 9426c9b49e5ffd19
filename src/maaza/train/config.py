"""The training recipe's configuration (one YAML per recipe under configs/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from maaza.errors import MaazaError
from maaza.tasks.edgejson import PROMPT_FORMATS

ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.1
    target_modules: list[str] = field(default_factory=lambda: list(ALL_PROJECTIONS))


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


@dataclass
class DataSettings:
    train: list[str] = field(default_factory=lambda: ["edgejson_v3/train.jsonl"])
    val: str | None = None  # None: hold out `val_fraction` of train (seeded)
    val_fraction: float = 0.05
    schemas: str = "edgejson_v3/schemas"
    prompt_format: str = "schema-chat"
    minify_targets: bool = True
    max_length: int = 2048
    # Examples longer than max_length: "drop" (counted and reported) or "error". The target is never cut.
    overlength: Literal["drop", "error"] = "drop"
    max_train_examples: int | None = None

    def validate(self) -> None:
        if self.prompt_format not in PROMPT_FORMATS:
            raise MaazaError(
                f"data.prompt_format: '{self.prompt_format}' is not one of {', '.join(PROMPT_FORMATS)}"
            )
        if not 0 <= self.val_fraction < 1:
            raise MaazaError("data.val_fraction: must be in [0, 1)")
        if self.max_length < 16:
            raise MaazaError("data.max_length: must be at least 16")
        if not self.train:
            raise MaazaError("data.train: name at least one JSONL file")


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

    def validate(self) -> None:
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
    task: Literal["edgejson"] = "edgejson"
    output_dir: str = "runs/mlm_135m_json"
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=DataSettings)
    train: OptimSettings = field(default_factory=OptimSettings)
    checkpoint: CheckpointSettings = field(default_factory=CheckpointSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)

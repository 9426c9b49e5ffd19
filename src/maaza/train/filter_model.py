"""NLM-5M-Filter's network: one small BERT encoder, three heads (spam, toxicity, PII tags).

The encoder is transformers' `BertModel` built from a config (random init, no download): absolute
positions, post-norm, GELU, the architecture ONNX exporters and onnxruntime's fused attention know well.
The plan's shape: 6 layers, 256 hidden, 4 heads, context 512; a 768-wide feed-forward keeps the total near
5M parameters with a ~4.4K vocabulary. Heads:

- `spam`: [CLS] -> dropout -> linear over SPAM_LABELS;
- `toxicity`: [CLS] -> dropout -> linear over TOXICITY_LABELS (toxic = not `neither`);
- `pii`: every token -> dropout -> linear over BIO_TAGS (`maaza.tasks.filter.spans`).
- `mlm` (pre-training only, not exported): a tied-embedding masked-token head.

`forward` returns all three logits, so one graph serves every head (what the ONNX export traces).
Saved as `filter_config.json` + `model.safetensors`; `load_filter_model(folder)` reads both.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.tasks.filter import SPAM_LABELS, TOXICITY_LABELS

CONFIG_FILE = "filter_config.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass
class EncoderShape:
    """The encoder's shape (the recipe's `model:` section). Defaults: the plan's NLM-5M (6 x 256, 4 heads,
    context 512)."""

    layers: int = 6
    hidden: int = 256
    heads: int = 4
    intermediate: int = 768
    context: int = 512
    dropout: float = 0.1


@dataclass
class FilterArchitecture(EncoderShape):
    """The shape plus what the tokenizer decides: the vocabulary size and the padding id."""

    vocab_size: int = 0
    pad_token_id: int = 0

    def bert_config(self) -> Any:
        from transformers import BertConfig

        return BertConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            intermediate_size=self.intermediate,
            max_position_embeddings=self.context,
            hidden_dropout_prob=self.dropout,
            attention_probs_dropout_prob=self.dropout,
            type_vocab_size=1,
            pad_token_id=self.pad_token_id,
        )


def build_filter_model(arch: FilterArchitecture, pii_tags: int) -> Any:
    """A `FilterModel` with random weights (seed torch first for a reproducible start)."""
    import torch
    from torch import nn
    from transformers import BertModel

    class FilterModel(nn.Module):
        """Encoder + spam / toxicity / PII heads (+ the MLM head used only by pre-training)."""

        def __init__(self) -> None:
            super().__init__()
            self.arch = arch
            config = arch.bert_config()
            config._attn_implementation = "eager"  # an explicit additive mask in the exported graph
            self.encoder = BertModel(config, add_pooling_layer=False)
            self.dropout = nn.Dropout(arch.dropout)
            self.spam = nn.Linear(arch.hidden, len(SPAM_LABELS))
            self.toxicity = nn.Linear(arch.hidden, len(TOXICITY_LABELS))
            self.pii = nn.Linear(arch.hidden, pii_tags)
            self.mlm_transform = nn.Sequential(
                nn.Linear(arch.hidden, arch.hidden), nn.GELU(), nn.LayerNorm(arch.hidden)
            )
            self.mlm_bias = nn.Parameter(torch.zeros(arch.vocab_size))

        def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            token_types = torch.zeros_like(input_ids)
            return self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_types
            ).last_hidden_state

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            states = self.dropout(self.hidden_states(input_ids, attention_mask))
            first = states[:, 0]
            return self.spam(first), self.toxicity(first), self.pii(states)

        def mlm_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            states = self.mlm_transform(self.hidden_states(input_ids, attention_mask))
            table = self.encoder.embeddings.word_embeddings.weight
            return states @ table.T + self.mlm_bias

    return FilterModel()


def count_parameters(model: Any, *, exported_only: bool = True) -> int:
    """Parameters of the model; `exported_only` leaves out the MLM head, which the ONNX file does not hold."""
    return sum(
        p.numel()
        for name, p in model.named_parameters()
        if not (exported_only and name.startswith(("mlm_transform", "mlm_bias")))
    )


def save_filter_model(model: Any, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """`filter_config.json` (architecture, number of PII tags, `extra`) and `model.safetensors`."""
    from safetensors.torch import save_file

    from maaza.io import atomic_write_json

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    state = {name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}
    temporary = target / f".{WEIGHTS_FILE}.tmp"
    save_file(state, str(temporary))
    temporary.replace(target / WEIGHTS_FILE)
    config = {"architecture": asdict(model.arch), "pii_tags": model.pii.out_features, **(extra or {})}
    atomic_write_json(target / CONFIG_FILE, config)
    return target


def read_filter_config(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise MaazaError(f"{path}: not a filter model folder (no {CONFIG_FILE})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        FilterArchitecture(**config["architecture"])
        int(config["pii_tags"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise MaazaError(f"{path}: malformed filter config ({type(exc).__name__}: {exc})") from None
    return config


def load_filter_model(folder: str | Path) -> Any:
    """The `FilterModel` saved in `folder`, in eval mode."""
    from safetensors.torch import load_file

    config = read_filter_config(folder)
    model = build_filter_model(FilterArchitecture(**config["architecture"]), int(config["pii_tags"]))
    weights = Path(folder) / WEIGHTS_FILE
    if not weights.is_file():
        raise MaazaError(f"{weights}: missing (the filter's weights)")
    missing, unexpected = model.load_state_dict(load_file(str(weights)), strict=False)
    if missing or unexpected:
        raise MaazaError(f"{weights}: weights do not fit the config (missing {missing[:2]}, unexpected {unexpected[:2]})")
    return model.eval()

"""The pipeline config: one YAML with a section per stage, validated like every maaza config.

```yaml
kind: pipeline
data: {generate: {schemas: DIR, n: 300, ...}}    # or {use_existing: {train, val, test, schemas}}
train: {from: configs/x.yaml, train: {max_steps: 20}}   # or a whole TrainConfig mapping
eval: {limit: 24, constrained: true, before_after: true}
export: {formats: [gguf-q8_0]}
refine: true
card: true
leaderboard: true
```

Relative paths are looked up in the working directory, then beside the pipeline YAML, then under the
data root. Unknown keys and wrong types are errors naming the key path and the file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from maaza.config import apply_overrides, from_dict, load_yaml
from maaza.data.command import GenerateSettings
from maaza.errors import MaazaError
from maaza.train.config import TrainConfig

TRAIN_FROM_KEY = "from"


@dataclass
class ExistingData:
    """`data.use_existing`: rows already on disk (paths as in train configs: data-root relative allowed)."""

    train: str | list[str] = "edgejson_v3/train.jsonl"
    val: str | None = None  # None: the train stage holds out train.data.val_fraction of train
    test: str | None = "edgejson_v3/test.jsonl"
    schemas: str = "edgejson_v3/schemas"

    @property
    def train_files(self) -> list[str]:
        return [self.train] if isinstance(self.train, str) else list(self.train)

    def validate(self) -> None:
        if not self.train_files:
            raise MaazaError("data.use_existing.train: name at least one JSONL file")


@dataclass
class DataSection:
    generate: GenerateSettings | None = None
    use_existing: ExistingData | None = None

    def validate(self) -> None:
        if (self.generate is None) == (self.use_existing is None):
            raise MaazaError("data: give exactly one of 'generate' or 'use_existing'")


@dataclass
class EvalSection:
    """`eval`: schema-guided extraction on the test rows, the fine-tuned model (and the base model)."""

    data: str | None = None  # default: the data stage's test split
    limit: int | None = None  # a stratified slice of N rows
    batch_size: int = 8
    max_new_tokens: int = 512
    constrained: bool = True
    before_after: bool = True  # also evaluate the base model on the same rows (eval/base.json)
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    lenient_datetime: bool = True
    threads: int | None = None
    # decoding options, as `maaza eval` names them (maaza.eval.runner.EvalConfig)
    backend: Literal["hf"] = "hf"  # the trained model is a transformers folder/adapter; exports: `maaza eval`
    loop_guard: bool = True
    grounded: bool = False
    rewind_repeats: bool = False
    stop_on_json_close: bool = True

    def validate(self) -> None:
        from maaza.decoding.options import check_decoding_options

        try:
            check_decoding_options(constrained=self.constrained, grounded=self.grounded,
                                   rewind_repeats=self.rewind_repeats, backend=self.backend)
        except MaazaError as exc:
            raise MaazaError(f"eval: {exc}") from None
        if self.limit is not None and self.limit <= 0:
            raise MaazaError("eval.limit: must be a positive number of rows")
        if self.batch_size <= 0:
            raise MaazaError("eval.batch_size: must be at least 1")
        if self.max_new_tokens <= 0:
            raise MaazaError("eval.max_new_tokens: must be at least 1")


@dataclass
class ExportSection:
    """`export`: deployable files of the fine-tuned model (round-trip checked)."""

    formats: list[str] = field(default_factory=lambda: ["gguf-q8_0"])
    check: bool = True
    check_tokens: int = 16
    name: str | None = None  # GGUF file stem (default: the model's name)

    def validate(self) -> None:
        from maaza.export.command import FORMATS

        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise MaazaError(f"export.formats: {unknown[0]!r} is not one of {', '.join(FORMATS)}")
        if not self.formats:
            raise MaazaError("export.formats: name at least one format")
        if self.check_tokens <= 0:
            raise MaazaError("export.check_tokens: must be at least 1")


@dataclass
class LeaderboardSection:
    """`leaderboard`: rank this run's results (plus other results files and the published figures)."""

    extra_results: list[str] = field(default_factory=list)  # more results JSONs, folders or globs
    published: bool = True


@dataclass
class PipelineConfig:
    kind: Literal["pipeline"] = "pipeline"  # lets config checkers tell pipeline YAMLs from train YAMLs
    name: str | None = None  # default: train.name
    run_dir: str | None = None  # default: runs/<config file stem>; `--out` wins
    data: DataSection | None = None
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig mapping, optionally `from: YAML`
    eval: EvalSection | None = None
    export: ExportSection | None = None
    refine: bool = False
    card: bool = False
    leaderboard: LeaderboardSection | bool = False
    progress: bool = True  # tqdm bars inside stages

    def validate(self) -> None:
        if self.data is None:
            raise MaazaError("data: the section is required (generate or use_existing)")
        if not self.train:
            raise MaazaError("train: the section is required (a train config mapping, or from: YAML)")
        if self.eval is None and (self.refine or self.leaderboard):
            what = "refine" if self.refine else "leaderboard"
            raise MaazaError(f"{what}: needs the eval section")

    @property
    def leaderboard_settings(self) -> LeaderboardSection | None:
        if isinstance(self.leaderboard, LeaderboardSection):
            return self.leaderboard
        return LeaderboardSection() if self.leaderboard else None


@dataclass
class LoadedPipeline:
    """A validated pipeline config with its train config built and its paths resolvable."""

    config: PipelineConfig
    train: TrainConfig  # data paths and output_dir still as written; the runner fills them in
    source: Path | None  # the YAML it came from
    raw: dict[str, Any]  # the mapping after --set overrides (saved into the run folder)

    def resolve(self, path: str) -> Path:
        """A config path: as given if it exists, else beside the YAML, else under the data root."""
        return resolve_path(path, self.source)


def resolve_path(path: str, source: Path | None) -> Path:
    from maaza.paths import resolve_under_data_root

    given = Path(path).expanduser()
    if given.is_absolute() or given.exists():
        return given
    if source is not None and (source.parent / given).exists():
        return source.parent / given
    return resolve_under_data_root(given)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def build_train_config(section: dict[str, Any], source: Path | None) -> TrainConfig:
    """The TrainConfig of the `train` section: `from: YAML` (if any) deep-merged with the other keys."""
    mapping = dict(section)
    base: dict[str, Any] = {}
    origin = mapping.pop(TRAIN_FROM_KEY, None)
    if origin is not None:
        if not isinstance(origin, str):
            raise MaazaError(f"train.{TRAIN_FROM_KEY}: expected a path to a train YAML, got {origin!r}")
        path = resolve_path(origin, source)
        base = load_yaml(path)
    try:
        return from_dict(TrainConfig, _deep_merge(base, mapping), "train")
    except MaazaError as exc:
        where = f" (from {origin})" if origin else ""
        raise MaazaError(f"{exc}{where}") from None


def load_pipeline(
    path: str | Path | None = None, overrides: list[str] | None = None, *, data: dict[str, Any] | None = None
) -> LoadedPipeline:
    """Load a pipeline YAML (or an in-memory mapping), apply `--set` overrides, and validate it all."""
    if (path is None) == (data is None):
        raise ValueError("pass exactly one of path or data")
    source = Path(path) if path is not None else None
    raw = apply_overrides(load_yaml(source) if source is not None else data or {}, overrides or [])
    where = f"{source}: " if source is not None else ""
    try:
        config = from_dict(PipelineConfig, raw)
        train = build_train_config(config.train, source)
    except MaazaError as exc:
        raise MaazaError(f"{where}{exc}") from None
    return LoadedPipeline(config, train, source, raw)

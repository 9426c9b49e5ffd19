"""Run the pipeline stages into one run folder, skipping those whose inputs are unchanged.

Stages, in order (each optional one only when its config section asks for it):

| stage | writes | consumes |
|---|---|---|
| data | RUN/data/{train,val,test}.jsonl, stats.json, README.md, schemas/ | schema files |
| train | RUN/train/{adapter,merged,checkpoints,training_summary.json} | train/val rows, schemas |
| eval_base | RUN/eval/base.json (the base model, same rows) | test rows, schemas |
| eval | RUN/eval/finetuned.json | test rows, schemas, adapter (or merged) |
| refine | RUN/refine/refine.{md,json} | both results JSONs, test rows |
| export | RUN/export/*.gguf, sizes.json | adapter (or merged) |
| card | RUN/README.md | summary, results, sizes, model metadata |
| leaderboard | RUN/leaderboard/ | results JSONs |

A stage whose previous attempt did not finish (record status `running`, same inputs) resumes: train
from its latest checkpoint, eval from its partial results JSON. A stage whose inputs changed starts
over from a clean output folder.
"""

from __future__ import annotations

import copy
import fnmatch
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maaza import __version__
from maaza.config import to_dict
from maaza.envinfo import peak_rss_mb, release_memory, reset_peak_rss
from maaza.errors import MaazaError
from maaza.io import atomic_write_json, atomic_write_text
from maaza.pipeline.config import LoadedPipeline
from maaza.pipeline.state import COMPLETE, RUNNING, StageStore, now, sha256_json
from maaza.train.config import TrainConfig

STAGE_ORDER: tuple[str, ...] = ("data", "train", "eval_base", "eval", "refine", "export", "card", "leaderboard")
SUMMARY_FILE = "pipeline.json"
CONFIG_COPY = "pipeline.yaml"

Say = Callable[[str], None]


@dataclass
class Stage:
    """One step: what it consumes (as a JSON-able dict), how to run it, what it leaves behind."""

    name: str
    inputs: Callable[[], dict[str, Any]]
    run: Callable[[bool], None]  # argument: resume an interrupted attempt
    outputs: Callable[[], list[Path]]
    clean: Callable[[], None] = lambda: None


@dataclass
class StageResult:
    name: str
    status: str  # "ran", "resumed" or "skipped"
    seconds: float
    inputs_hash: str
    peak_rss_mb: float | None = None  # the stage's own peak (envinfo.reset_peak_rss before it), when it ran


@dataclass
class PipelineResult:
    run_dir: Path
    stages: list[StageResult] = field(default_factory=list)
    seconds: float = 0.0

    def status(self, name: str) -> str | None:
        return next((s.status for s in self.stages if s.name == name), None)


def _rmtree(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _fmt_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class PipelineRun:
    """The stages of one pipeline config over one run folder."""

    def __init__(
        self,
        loaded: LoadedPipeline,
        run_dir: str | Path,
        *,
        force: Iterable[str] = (),
        say: Say = print,
    ):
        self.loaded = loaded
        self.config = loaded.config
        self.run_dir = Path(run_dir)
        forced = set(force)
        unknown = forced - {*STAGE_ORDER, "all"}
        if unknown:
            raise MaazaError(f"--force: unknown stage '{sorted(unknown)[0]}' (stages: {', '.join(STAGE_ORDER)}, all)")
        self.force = set(STAGE_ORDER) if "all" in forced else forced
        self.say = say
        self.store = StageStore(self.run_dir)
        self.data_dir = self.run_dir / "data"
        self.train_dir = self.run_dir / "train"
        self.eval_dir = self.run_dir / "eval"
        self.export_dir = self.run_dir / "export"
        self.refine_dir = self.run_dir / "refine"
        self.leaderboard_dir = self.run_dir / "leaderboard"
        self.card_path = self.run_dir / "README.md"
        self.base_results = self.eval_dir / "base.json"
        self.finetuned_results = self.eval_dir / "finetuned.json"
        self.stages = self._stages()

    # ------------------------------------------------------------------------------------------ paths

    @property
    def generated(self) -> bool:
        return self.config.data is not None and self.config.data.generate is not None

    def train_files(self) -> list[Path]:
        data = self.config.data
        if data is not None and data.use_existing is not None:
            return [self.loaded.resolve(p) for p in data.use_existing.train_files]
        return [self.data_dir / "train.jsonl"]

    def val_file(self) -> Path | None:
        """The validation rows, or None (then training holds out a share of train)."""
        data = self.config.data
        if data is not None and data.use_existing is not None:
            return self.loaded.resolve(data.use_existing.val) if data.use_existing.val else None
        path = self.data_dir / "val.jsonl"
        return path if path.is_file() and path.stat().st_size > 0 else None

    def test_file(self) -> Path:
        evaluation = self.config.eval
        if evaluation is not None and evaluation.data:
            return self.loaded.resolve(evaluation.data)
        data = self.config.data
        if data is not None and data.use_existing is not None:
            if not data.use_existing.test:
                raise MaazaError("eval: no test rows: set data.use_existing.test or eval.data")
            return self.loaded.resolve(data.use_existing.test)
        return self.data_dir / "test.jsonl"

    def schemas_dir(self) -> Path:
        data = self.config.data
        if data is not None and data.use_existing is not None:
            return self.loaded.resolve(data.use_existing.schemas)
        return self.data_dir / "schemas"

    def source_schemas(self) -> Path:
        """The folder `data.generate` draws its schemas from."""
        from maaza.tasks.edgejson import default_paths

        gen = self.config.data.generate if self.config.data else None
        assert gen is not None
        if gen.schemas:
            return self.loaded.resolve(gen.schemas)
        default = default_paths()[1]
        if default is None:
            raise MaazaError("data.generate.schemas: no schema folder given and no data root found")
        return default

    def selected_schemas(self) -> list[tuple[str, Path]]:
        """(relative path, file) of the schemas to generate from, honouring `schemas_include`."""
        gen = self.config.data.generate if self.config.data else None
        assert gen is not None
        root = self.source_schemas()
        if not root.is_dir():
            raise MaazaError(f"data.generate.schemas: schema folder not found: {root}")
        found = [(p.relative_to(root).as_posix(), p) for p in sorted(root.rglob("*.json"))]
        if not found:
            raise MaazaError(f"data.generate.schemas: no schema files (*.json) under {root}")
        if gen.schemas_include is None:
            return found
        chosen: dict[str, Path] = {}
        for pattern in gen.schemas_include:
            hits = [
                (rel, path) for rel, path in found
                if fnmatch.fnmatchcase(path.stem, pattern) or fnmatch.fnmatchcase(rel.removesuffix(".json"), pattern)
            ]
            if not hits:
                raise MaazaError(f"data.generate.schemas_include: '{pattern}' matches no schema under {root}")
            chosen.update(hits)
        return sorted(chosen.items())

    def train_config(self) -> TrainConfig:
        """The train section with the data stage's files and RUN/train filled in."""
        config = copy.deepcopy(self.loaded.train)
        if self.config.name:
            config.name = self.config.name
        config.output_dir = str(self.train_dir)
        config.data.train = [str(p) for p in self.train_files()]
        val = self.val_file()
        config.data.val = str(val) if val is not None else None
        config.data.schemas = str(self.schemas_dir())
        config.logging.progress = config.logging.progress and self.config.progress
        return config

    def finetuned_model(self) -> tuple[str, str | None]:
        """(model, adapter) of the trained model: base + adapter for LoRA, the merged folder otherwise."""
        train = self.loaded.train
        if train.model.method == "lora":
            return train.model.base, str(self.train_dir / "adapter")
        return str(self.train_dir / "merged"), None

    def _digest(self, path: Path) -> str | None:
        return self.store.digests.path(path)

    def _model_identity(self, name: str) -> dict[str, Any]:
        """A base model by name; a local folder also by the digests of its config and weights."""
        folder = Path(name).expanduser()
        if not folder.is_dir():
            return {"name": name}
        files = sorted([*folder.glob("*.safetensors"), *folder.glob("config.json")])
        return {"name": name, "files": {p.name: self._digest(p) for p in files}}

    # ----------------------------------------------------------------------------------------- stages

    def _stages(self) -> list[Stage]:
        cfg = self.config
        stages = [
            Stage("data", self._data_inputs, self._run_data, self._data_outputs, self._clean_data),
            Stage("train", self._train_inputs, self._run_train, self._train_outputs,
                  lambda: _rmtree(self.train_dir)),
        ]
        if cfg.eval is not None:
            if cfg.eval.before_after:
                stages.append(Stage("eval_base", lambda: self._eval_inputs(False), lambda r: self._run_eval(False, r),
                                    lambda: [self.base_results], lambda: _rmtree(self.base_results)))
            stages.append(Stage("eval", lambda: self._eval_inputs(True), lambda r: self._run_eval(True, r),
                                lambda: [self.finetuned_results], lambda: _rmtree(self.finetuned_results)))
        if cfg.refine:
            stages.append(Stage("refine", self._refine_inputs, self._run_refine, lambda: [self.refine_dir],
                                lambda: _rmtree(self.refine_dir)))
        if cfg.export is not None:
            stages.append(Stage("export", self._export_inputs, self._run_export, lambda: [self.export_dir],
                                lambda: _rmtree(self.export_dir)))
        if cfg.card:
            stages.append(Stage("card", self._card_inputs, self._run_card, lambda: [self.card_path],
                                lambda: _rmtree(self.card_path)))
        if cfg.leaderboard_settings is not None:
            stages.append(Stage("leaderboard", self._leaderboard_inputs, self._run_leaderboard,
                                lambda: [self.leaderboard_dir], lambda: _rmtree(self.leaderboard_dir)))
        return stages

    # data

    def _data_inputs(self) -> dict[str, Any]:
        data = self.config.data
        assert data is not None
        if data.generate is not None:
            settings = asdict(data.generate)
            settings.pop("schemas")
            settings["exclude_texts"] = {
                p: self._digest(self.loaded.resolve(p)) for p in data.generate.exclude_texts
            }
            return {
                "generate": settings,
                "schemas": {rel: self._digest(path) for rel, path in self.selected_schemas()},
                "maaza_version": __version__,
            }
        assert data.use_existing is not None
        files = {"train": [self._digest(p) for p in self.train_files()], "schemas": self._digest(self.schemas_dir())}
        val = self.val_file()
        files["val"] = self._digest(val) if val else None
        if data.use_existing.test:
            files["test"] = self._digest(self.loaded.resolve(data.use_existing.test))
        missing = [str(p) for p in [*self.train_files(), self.schemas_dir()] if not p.exists()]
        if missing:
            raise MaazaError(f"data.use_existing: not found: {missing[0]}")
        return {"use_existing": files}

    def _data_outputs(self) -> list[Path]:
        if self.generated:
            names = ("train.jsonl", "val.jsonl", "test.jsonl", "README.md", "schemas")
            return [self.data_dir / name for name in names]
        data = self.config.data
        assert data is not None and data.use_existing is not None
        paths = [*self.train_files(), self.schemas_dir()]
        val = self.val_file()
        if val is not None:
            paths.append(val)
        if data.use_existing.test:
            paths.append(self.loaded.resolve(data.use_existing.test))
        return paths

    def _clean_data(self) -> None:
        if self.generated:
            _rmtree(self.data_dir)

    def _run_data(self, resume: bool) -> None:
        del resume  # generation is fast and seeded: it simply runs again
        if not self.generated:
            self.say(f"using existing rows: train {', '.join(map(str, self.train_files()))}")
            return
        from maaza.data.command import generate_dataset
        from maaza.data.teachers import make_teacher

        gen = self.config.data.generate if self.config.data else None
        assert gen is not None
        source = self.source_schemas()
        schemas_out = self.data_dir / "schemas"
        _rmtree(schemas_out)
        for rel, path in self.selected_schemas():
            target = schemas_out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        command = (f"maaza data generate --schemas {schemas_out} --n {gen.n} --seed {gen.seed} "
                   f"--val-fraction {gen.val_fraction} --test-fraction {gen.test_fraction}"
                   + (f" --styles {gen.styles}" if gen.styles else "") + " --out OUT")
        try:  # provenance: the dataset card's attribution check reads where the schemas came from
            stats = generate_dataset(self.data_dir, schemas_out, gen, teacher=make_teacher("template"),
                                     command=command, show_progress=self.config.progress,
                                     provenance={"schemas": str(source), "schemas_include": gen.schemas_include},
                                     resolve=self.loaded.resolve)
        except MaazaError as exc:
            raise MaazaError(f"data: {exc}") from None
        splits = stats["splits"]
        self.say(f"wrote {stats['written']} rows (train {splits['train']}, val {splits['val']}, "
                 f"test {splits['test']}) from {stats['specs']} schemas to {self.data_dir}")
        if self.config.eval is not None and not self.config.eval.data and not splits["test"]:
            raise MaazaError("data.generate.test_fraction: the test split is empty, so there is nothing to evaluate")

    # train

    def _train_inputs(self) -> dict[str, Any]:
        config = to_dict(self.train_config())
        for key in ("output_dir", "logging"):
            config.pop(key)
        for key in ("train", "val", "schemas"):
            config["data"].pop(key)
        val = self.val_file()
        return {
            "recipe": config,
            "base_model": self._model_identity(self.loaded.train.model.base),
            "files": {
                "train": [self._digest(p) for p in self.train_files()],
                "val": self._digest(val) if val is not None else None,
                "schemas": self._digest(self.schemas_dir()),
            },
        }

    def _train_outputs(self) -> list[Path]:
        paths = [self.train_dir / "merged", self.train_dir / "training_summary.json"]
        if self.loaded.train.model.method == "lora":
            paths.insert(0, self.train_dir / "adapter")
        return paths

    def _run_train(self, resume: bool) -> None:
        from maaza.train.checkpoint import latest_checkpoint
        from maaza.train.recipe import Recipe

        config = self.train_config()
        latest = latest_checkpoint(self.train_dir / "checkpoints") if resume else None
        if latest is not None:
            self.say(f"resuming training from {self.store.rel(latest)}")
        summary = Recipe(config).run(resume=resume)
        self.say(
            f"trained {summary['steps']} steps ({summary['epochs']:.2f} epochs) in {summary['train_seconds']:.0f} s, "
            f"{summary['useful_tokens_per_s']} useful tok/s, final loss {summary['final_train_loss']}, "
            f"best val loss {summary['best_val_loss']} (step {summary['best_step']})"
        )

    # eval

    def _eval_config(self, finetuned: bool) -> Any:
        """The EvalConfig of `maaza eval` for this run: every option of the eval section passes through."""
        from maaza.eval.runner import EvalConfig

        settings = self.config.eval
        assert settings is not None
        model, adapter = self.finetuned_model() if finetuned else (self.loaded.train.model.base, None)
        return EvalConfig(
            data=str(self.test_file()),
            schemas=str(self.schemas_dir()),
            model=model,
            adapter=adapter,
            task=self.loaded.train.task,
            prompt_format=self.loaded.train.data.prompt_format,  # the trained format, for both models
            limit=settings.limit,
            batch_size=settings.batch_size,
            max_new_tokens=settings.max_new_tokens,
            dtype=settings.dtype,
            constrained=settings.constrained,
            lenient_datetime=settings.lenient_datetime,
            stop_on_json_close=settings.stop_on_json_close,
            threads=settings.threads,
            backend=settings.backend,
            loop_guard=settings.loop_guard,
            grounded=settings.grounded,
            rewind_repeats=settings.rewind_repeats,
            extra={"variant": "fine-tuned" if finetuned else "base"},
        )

    def _eval_inputs(self, finetuned: bool) -> dict[str, Any]:
        settings = self.config.eval
        assert settings is not None
        section = asdict(settings)
        for key in ("data", "before_after", "threads"):
            section.pop(key)
        inputs: dict[str, Any] = {
            "eval": section,
            "prompt_format": self.loaded.train.data.prompt_format,
            "files": {"test": self._digest(self.test_file()), "schemas": self._digest(self.schemas_dir())},
        }
        if finetuned:
            model, adapter = self.finetuned_model()
            inputs["model"] = {"base": self.loaded.train.model.base if adapter else None,
                               "trained": self._digest(Path(adapter or model))}
        else:
            inputs["model"] = self._model_identity(self.loaded.train.model.base)
        return inputs

    def _run_eval(self, finetuned: bool, resume: bool) -> None:
        from maaza.eval.runner import EvalRun, format_summary

        out = self.finetuned_results if finetuned else self.base_results
        test = self.test_file()
        if not test.is_file() or test.stat().st_size == 0:
            raise MaazaError(f"eval: no test rows in {test}")
        if resume and out.is_file():
            self.say(f"resuming evaluation from {self.store.rel(out)}")
        results = EvalRun(self._eval_config(finetuned), out).run(progress=self.config.progress)
        self.say(format_summary(results))

    # refine

    def _refine_inputs(self) -> dict[str, Any]:
        before_after = self.config.eval is not None and self.config.eval.before_after
        return {
            "results": self._digest(self.finetuned_results),
            "baseline": self._digest(self.base_results) if before_after else None,
            "test": self._digest(self.test_file()),
        }

    def _run_refine(self, resume: bool) -> None:
        del resume
        from maaza.report.refine import CLASSES, write_refine

        before_after = self.config.eval is not None and self.config.eval.before_after
        report, md_path, _ = write_refine(
            self.finetuned_results, self.refine_dir,
            baseline_path=self.base_results if before_after else None, data_path=self.test_file(),
        )
        counts = ", ".join(f"{report['counts'][name]} {name}" for name in CLASSES)
        self.say(f"{len(report['schemas'])} schemas: {counts} ({self.store.rel(md_path)})")

    # export

    def _export_inputs(self) -> dict[str, Any]:
        settings = self.config.export
        assert settings is not None
        model, adapter = self.finetuned_model()
        return {
            "export": asdict(settings),
            "base_model": self._model_identity(model) if adapter else None,
            "trained": self._digest(Path(adapter or model)),
        }

    def _run_export(self, resume: bool) -> None:
        del resume
        from maaza.export.command import export_model

        settings = self.config.export
        assert settings is not None
        model, adapter = self.finetuned_model()
        summary = export_model(
            self.export_dir, settings.formats, model=model, adapter=adapter, name=settings.name,
            check=settings.check, check_tokens=settings.check_tokens, report=self.say,
        )
        failed = [fmt for fmt, entry in summary["formats"].items()
                  if (entry.get("check") or {}).get("passed") is False]
        if failed:
            self.say(f"WARNING: round-trip check failed for {', '.join(failed)} (see {self.store.rel(self.export_dir)}"
                     "/sizes.json)")

    # card

    def _card_files(self) -> list[Path]:
        from maaza.report.card import find_run_files

        files = find_run_files(self.run_dir)
        named = [files.summary, files.sizes, files.metadata, files.model_config, files.adapter_config]
        return sorted({p for p in [*named, *files.results] if p is not None})

    def _card_inputs(self) -> dict[str, Any]:
        return {"files": {self.store.rel(p): self._digest(p) for p in self._card_files()}}

    def _run_card(self, resume: bool) -> None:
        del resume
        from maaza.report.card import write_card

        path = write_card(self.run_dir)
        self.say(f"model card: {path}")

    # leaderboard

    def _leaderboard_results(self) -> list[str]:
        settings = self.config.leaderboard_settings
        assert settings is not None
        own = [self.base_results] if self.config.eval and self.config.eval.before_after else []
        own.append(self.finetuned_results)
        return [str(p) for p in own] + list(settings.extra_results)

    def _leaderboard_inputs(self) -> dict[str, Any]:
        from maaza.report.results import expand_paths

        settings = self.config.leaderboard_settings
        assert settings is not None
        found = expand_paths([a for a in self._leaderboard_results() if Path(a).exists() or any(c in a for c in "*?[")])
        return {
            "published": settings.published,
            "files": {self.store.rel(p): self._digest(p) for p, _ in found},
        }

    def _run_leaderboard(self, resume: bool) -> None:
        del resume
        from maaza.report.leaderboard import write_leaderboard

        settings = self.config.leaderboard_settings
        assert settings is not None
        summary = write_leaderboard(self._leaderboard_results(), self.leaderboard_dir, published=settings.published)
        measured = sum(1 for e in summary["entries"] if not e.published)
        self.say(f"{measured} results ranked -> {self.store.rel(self.leaderboard_dir / 'leaderboard.md')}, "
                 f"{self.store.rel(self.leaderboard_dir / 'index.html')}")

    # ------------------------------------------------------------------------------------------- run

    def _estimate(self, name: str, done: dict[str, float]) -> float | None:
        """Seconds a stage should take: its last recorded duration, else (eval) the base model's eval."""
        record = self.store.read(name) or {}
        seconds = record.get("seconds") or record.get("previous_seconds")
        if seconds:
            return float(seconds)
        if name == "eval" and "eval_base" in done:
            return done["eval_base"]
        return None

    def _eta_line(self, remaining: list[Stage], done: dict[str, float]) -> str | None:
        if not remaining:
            return None
        known = {s.name: self._estimate(s.name, done) for s in remaining}
        values = [v for v in known.values() if v is not None]
        if not values:
            return None
        unknown = [n for n, v in known.items() if v is None]
        tail = f" + {', '.join(unknown)} (no estimate yet)" if unknown else ""
        return f"ETA for the remaining {len(remaining)} stage(s): ~{_fmt_seconds(sum(values))}{tail}"

    def run(self) -> PipelineResult:
        """Run (or skip) every stage in order; returns what happened to each."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        import yaml

        atomic_write_text(self.run_dir / CONFIG_COPY, yaml.safe_dump(self.loaded.raw, sort_keys=False))
        result = PipelineResult(self.run_dir)
        started = time.perf_counter()
        done: dict[str, float] = {}
        total = len(self.stages)
        self.say(f"pipeline: {total} stages ({', '.join(s.name for s in self.stages)}) into {self.run_dir}")
        for index, stage in enumerate(self.stages, start=1):
            inputs = stage.inputs()
            inputs_hash = sha256_json(inputs)
            record = self.store.read(stage.name)
            forced = stage.name in self.force
            same = record is not None and record.get("inputs_hash") == inputs_hash
            if (not forced and same and record is not None and record.get("status") == COMPLETE
                    and self.store.outputs_intact(record)):
                self.say(f"skip {stage.name} (unchanged)")
                result.stages.append(StageResult(stage.name, "skipped", 0.0, inputs_hash))
                self.store.digests.save()
                continue
            resume = not forced and same and record is not None and record.get("status") == RUNNING
            if not resume:
                stage.clean()
            previous = (record or {}).get("seconds") or (record or {}).get("previous_seconds")
            self.store.write(stage.name, {
                "stage": stage.name, "status": RUNNING, "inputs_hash": inputs_hash, "inputs": inputs,
                "started": now(), "previous_seconds": previous,
            })
            why = "forced" if forced else "resuming" if resume else "inputs changed" if record else "first run"
            self.say(f"[{index}/{total}] {stage.name} ({why}) ...")
            stage_started = time.perf_counter()
            release_memory()  # what the previous stage freed goes back to the system before this one measures
            own_peak = reset_peak_rss()
            stage.run(resume)
            seconds = time.perf_counter() - stage_started
            peak = round(peak_rss_mb(), 1)
            done[stage.name] = seconds
            outputs = self.store.output_digests(stage.outputs())
            missing = [rel for rel, digest in outputs.items() if digest is None]
            if missing:
                raise MaazaError(f"{stage.name}: expected output {missing[0]} was not written")
            self.store.write(stage.name, {
                "stage": stage.name, "status": COMPLETE, "inputs_hash": inputs_hash, "inputs": inputs,
                "outputs": outputs, "started": (self.store.read(stage.name) or {}).get("started"),
                "finished": now(), "seconds": round(seconds, 2),
                "peak_rss_mb": peak, "peak_rss_scope": "stage" if own_peak else "process so far",
            })
            elapsed = time.perf_counter() - started
            self.say(f"[{index}/{total}] {stage.name} done in {_fmt_seconds(seconds)}, peak RSS {peak / 1024:.2f} GB "
                     f"(pipeline elapsed {_fmt_seconds(elapsed)})")
            eta = self._eta_line(self.stages[index:], done)
            if eta:
                self.say(eta)
            result.stages.append(StageResult(stage.name, "resumed" if resume else "ran", seconds, inputs_hash, peak))
        result.seconds = time.perf_counter() - started
        self._write_summary(result)
        return result

    def _write_summary(self, result: PipelineResult) -> None:
        from maaza.io import read_json

        metrics: dict[str, Any] = {}
        for name, path in (("base", self.base_results), ("fine-tuned", self.finetuned_results)):
            if path.is_file() and any(s.name == ("eval_base" if name == "base" else "eval") for s in self.stages):
                overall = (read_json(path, what="results file").get("metrics") or {}).get("overall") or {}
                metrics[name] = {k: overall.get(k) for k in ("n", "json_exact", "field_f1", "schema_compliance")}
        atomic_write_json(self.run_dir / SUMMARY_FILE, {
            "config": self.loaded.raw,
            "source": str(self.loaded.source) if self.loaded.source else None,
            "finished": now(),
            "seconds": round(result.seconds, 2),
            "peak_rss_mb": max((s.peak_rss_mb for s in result.stages if s.peak_rss_mb is not None), default=None),
            "stages": [asdict(s) for s in result.stages],
            "metrics": metrics,
        })
        ran = [s.name for s in result.stages if s.status != "skipped"]
        self.say(f"pipeline done in {_fmt_seconds(result.seconds)}: ran {', '.join(ran) or 'nothing'}; "
                 f"skipped {len(result.stages) - len(ran)}")
        for name, values in metrics.items():
            if values.get("n"):
                self.say(f"  {name:10s} JSONExact {100 * (values['json_exact'] or 0):.1f}%  field F1 "
                         f"{values['field_f1'] or 0:.3f}  compliance {100 * (values['schema_compliance'] or 0):.1f}% "
                         f"({values['n']} rows)")

"""Your own style in minutes: fine-tune a model on a folder of MIDI files.

`StyleFinetune` runs the stages one by one (the command line shows a progress bar for
each); `finetune()` runs them all.

1. prepare: the folder becomes a corpus of one style (data/style_corpus.py: `prepare midi`,
   duplicates and drum-only files dropped, a validation part held out), in the run folder
   `<data folder>/finetune-runs/<name>/`.
2. tokenize: in the base model's tokenization, captions embedded.
3. train: a full fine-tune of the base model, or low-rank adapters (`adapter="lora"`,
   training/lora.py: the base frozen, merged into the weights when saved) (Trainer with
   `init_from` and a wall-clock budget, `max_minutes`, which ends the cosine schedule on
   time). The validation loss is
   measured before the first step; validations are spread over the budget (timed from
   the first steps) and the run stops early when two validations in a row bring no
   improvement. Ctrl-C keeps the best weights so far and the run folder, so a resume
   continues exactly.
4. publish: the best (EMA) weights, the tokenizer, the base model's reprise gate and a
   config.json that names the style word, written under a temporary name and renamed
   into `<data folder>/models/<name>/`: a model of the same name is replaced only by a
   complete new one. Two short samples in the style are written to its samples/.

The style word: the user's style name (default: the model name) is mapped to the style
control the fine-tune trains. A name the prompt parser already knows ("jazz", "chiptune")
trains its own style; a new word trains a style the shipped corpus does not use
(CARRIERS), and the model's config.json says `{"styles": {word: style}}`, so the word in a
prompt selects it (conditioning/prompt.py).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from ..conditioning.prompt import check_style_word, parse_prompt
from ..data.midi_folder import list_midi_files
from ..data.style_corpus import (
    StyleCorpusReport,
    load_style_report,
    prepare_style_corpus,
)
from ..errors import BadInputError
from ..fileio import atomic_write_json
from ..model.folder import (
    check_model_name,
    model_metadata,
    model_styles,
    resolve_model_dir,
    user_home,
    user_models_dir,
)
from ..model.transformer import ModelConfig
from ..tokens.tokenizer import MusicTokenizer
from .checkpoint import read_json, recover_folder, replace_folder, temp_folder
from .trainer import OptimConfig, RunConfig, Trainer

log = logging.getLogger(__name__)

DEFAULT_MINUTES = 15.0
MAX_MINUTES = 7 * 24 * 60.0
STATE = "finetune.json"  # in the run folder: the settings, kept for a resume
# Styles the shipped corpus does not use, for a new style word; "world" first: the parser
# never reads it from a prompt on its own, so only the new word (or the style attribute)
# reaches it.
CARRIERS = ("world", "latin", "electronic", "ambient", "soundtrack", "baroque")
VALIDATIONS = 6  # spread over the budget, plus one at the end
TIMING_STEPS = 3  # steps timed before the validations are spread
PATIENCE = 2  # validations in a row without improvement that stop the run
DROPOUT = 0.1  # small data: some regularisation (a training setting, not architecture)
SAMPLES = 2
SAMPLE_BARS = 8
OPTIM = {
    "batch_size": 8,
    "lr": 3e-4,
    "min_lr": 3e-5,
    "warmup_steps": 10,
    "weight_decay": 0.1,
    "ema_decay": 0.99,
    "max_steps": 1_000_000,  # a cap only: the time budget ends the run
}
ADAPTERS = ("full", "lora")
DEFAULT_ADAPTER = "full"
LORA = {"kind": "lora", "rank": 16, "alpha": 32}
LORA_OPTIM = {"lr": 1e-3, "min_lr": 1e-4}  # adapters start at zero: a larger step

ProgressFn = Callable[[int, int | None, str], None]  # done, total (None: unknown), info


@dataclass
class FinetuneResult:
    """What a fine-tune made."""

    name: str
    path: Path  # the user model's folder
    saved: bool  # False: stopped before the first validation, nothing was written
    style: str
    style_name: str
    val_loss_before: float | None
    val_loss_after: float | None
    steps: int
    train_minutes: float
    adapter: str
    stopped_early: bool
    interrupted: bool
    corpus: StyleCorpusReport

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def default_style_name(name: str) -> str:
    """The style word a model name gives ('game_music' -> 'game music')."""
    return check_style_word(name.replace("_", " ").replace(".", " "))[0]


def style_for(style_name: str, base_styles: dict[str, str]) -> tuple[str, str]:
    """(the style word, the style control it trains) for a new fine-tune of a base model
    that has `base_styles` already (module doc)."""
    word, known = check_style_word(style_name)
    if known is not None:
        return word, known
    spelled = " ".join(word.replace("-", " ").split())
    for old, style in base_styles.items():
        if " ".join(old.replace("-", " ").split()) == spelled:
            return word, style  # the same word again: the same control
    taken = set(base_styles.values())
    return word, next((c for c in CARRIERS if c not in taken), CARRIERS[0])


def _check_minutes(minutes: float) -> float:
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        raise BadInputError("minutes must be a number", field="minutes")
    if not (0 < float(minutes) <= MAX_MINUTES) or math.isnan(minutes):
        raise BadInputError(
            f"minutes must be more than 0 and at most {MAX_MINUTES:g}, not {minutes:g}",
            field="minutes",
        )
    return float(minutes)


def _check_adapter(adapter: str) -> str:
    if adapter not in ADAPTERS:
        raise BadInputError(
            f"unknown adapter {adapter!r}; choose one of: {', '.join(ADAPTERS)}", field="adapter"
        )
    return adapter


def run_folder(name: str) -> Path:
    """Where the fine-tune `name` keeps its corpus and checkpoints until it is published."""
    return user_home() / "finetune-runs" / check_model_name(name)


class StyleFinetune:
    """One fine-tune, stage by stage: prepare, tokenize, train, publish (module doc)."""

    def __init__(
        self,
        folder: str | Path,
        name: str,
        base: str | Path | None = None,
        captions: str | Path | None = None,
        minutes: float | None = None,
        style_name: str | None = None,
        resume: bool = False,
        overwrite: bool = False,
        workers: int | None = None,
        adapter: str | None = None,
    ) -> None:
        self.name = check_model_name(name)
        if adapter is not None:
            _check_adapter(adapter)
        self.target = user_models_dir() / self.name
        self.run_dir = run_folder(self.name)
        self.workers = workers
        state = self._state() if resume else None
        self.resuming = state is not None
        existing = (self.target / "model.safetensors").is_file()
        unfinished = self.run_dir.exists()
        if unfinished and not resume and not overwrite and (self.run_dir / STATE).is_file():
            raise BadInputError(
                f"an unfinished fine-tune named {self.name!r} is in {self.run_dir}; resume it, "
                "or allow overwriting it to start again",
                field="name",
            )
        if existing and not overwrite and not (self.resuming and self._published_unfinished()):
            raise BadInputError(
                f"a model named {self.name!r} exists already ({self.target}); choose another "
                "name, or allow overwriting it",
                field="name",
            )
        if state is not None:
            self.folder = Path(state["folder"])
            self.captions = state.get("captions")
            self.base = resolve_model_dir(state["base"])
            self.style_name, self.style = state["style_name"], state["style"]
            self.minutes = _check_minutes(minutes if minutes is not None else state["minutes"])
            self.adapter = state.get("adapter", "full")  # a resume keeps the run's kind
        else:  # the settings first, then the folder and the model: a typo costs no work
            self.minutes = _check_minutes(minutes if minutes is not None else DEFAULT_MINUTES)
            self.adapter = adapter or DEFAULT_ADAPTER
            word = style_name if style_name is not None else default_style_name(self.name)
            check_style_word(word)
            list_midi_files(Path(folder))  # an empty or missing folder fails before any work
            self.folder = Path(folder).resolve()  # absolute: a resume may start elsewhere
            self.captions = str(Path(captions).resolve()) if captions is not None else None
            self.base = resolve_model_dir(base).resolve()
            self.style_name, self.style = style_for(word, model_styles(self.base))
        self.tokenizer = MusicTokenizer.load(self.base)
        self.corpus_dir = self.run_dir / "corpus"
        self.report: StyleCorpusReport | None = None
        self.trainer: Trainer | None = None
        self.val_loss_before: float | None = state.get("val_loss_before") if state else None
        self.stopped_early = False
        self.interrupted = False
        # the Trainer sets torch's thread count for training; the caller's comes back after
        # (more threads than free cores make small generation steps many times slower)
        self._threads = torch.get_num_threads()

    # -- the run folder's state ----------------------------------------------------------------
    def _state(self) -> dict | None:
        path = self.run_dir / STATE
        return read_json(path) if path.is_file() else None

    def _save_state(self) -> None:
        atomic_write_json(
            self.run_dir / STATE,
            {
                "format": "tunesmith-finetune/1",
                "name": self.name,
                "folder": str(self.folder),
                "captions": self.captions,
                "base": str(self.base),
                "style": self.style,
                "style_name": self.style_name,
                "minutes": self.minutes,
                "adapter": self.adapter,
                "val_loss_before": self.val_loss_before,
            },
        )

    def _published_unfinished(self) -> bool:
        made = model_metadata(self.target).get("finetune")
        return isinstance(made, dict) and made.get("complete") is False

    # -- stages ----------------------------------------------------------------------------------
    def prepare(self, progress: Callable[[int, int], None] | None = None) -> StyleCorpusReport:
        """The folder as a corpus of one style (reused when resuming)."""
        if self.resuming:
            self.report = load_style_report(self.corpus_dir)
        if self.report is None:
            if not self.resuming:
                shutil.rmtree(self.run_dir, ignore_errors=True)  # an earlier, abandoned run
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._save_state()
            self.report = prepare_style_corpus(
                self.folder, self.corpus_dir, self.style, self.style_name, self.captions,
                self.workers, progress,
            )  # fmt: skip
        return self.report

    def tokenize(self, progress: Callable[[str, int, int], None] | None = None) -> Path:
        """The corpus in the base model's tokenization, captions embedded (once)."""
        from ..data.dataset import build_token_dataset

        if self.report is None:
            self.prepare()
        tokens = self.corpus_dir / "tokens" / self.tokenizer.dir_name
        if (tokens / "index.json").is_file():
            return tokens
        return build_token_dataset(
            self.corpus_dir,
            self.tokenizer.name,
            self.workers,
            progress,
            extensions=self.tokenizer.extensions,
        )

    def run_config(self) -> RunConfig:
        """The Trainer's config: the base model's architecture and tokenization, the budget."""
        assert self.report is not None
        arch = ModelConfig.from_dict(
            json.loads((self.base / "config.json").read_text(encoding="utf-8"))["model"]
        )
        model = {k: v for k, v in asdict(arch).items() if k != "vocab_size"}
        model["dropout"] = DROPOUT
        data: dict[str, Any] = {
            "corpus": str(self.corpus_dir),
            "tokenization": self.tokenizer.name,
            "extensions": list(self.tokenizer.extensions),
        }
        if self.tokenizer.infill_order != "psm":
            data["infill_order"] = self.tokenizer.infill_order
        augment: dict[str, Any] = {}
        if "infill" in self.tokenizer.extensions:  # keep the model's infill skills (v2)
            augment = {"p_infill_bars": 0.4, "p_infill_part": 0.25}
        lora = self.adapter == "lora"
        optim = OptimConfig(**{**asdict(OptimConfig()), **OPTIM, **(LORA_OPTIM if lora else {})})
        return RunConfig.from_dict(
            {
                "name": f"finetune-{self.name}",
                "model": model,
                "data": data,
                "optim": asdict(optim),
                "augment": augment,
                "eval_every": 10**9,  # set from the first steps' time (train)
                "eval_batches": max(1, math.ceil(self.report.val / optim.batch_size)),
                "log_every": 10,
                "keep_best": 1,
                "samples": False,
                "init_from": str(self.base),
                "max_minutes": self.minutes,
                "adapter": dict(LORA) if lora else None,
            }
        )

    def validation_loss_before(self) -> float:
        """The base model's loss on the held-out pieces (measured once, kept for a resume)."""
        if self.val_loss_before is None:
            trainer = self._trainer()
            self.val_loss_before = float(trainer.validate())
            self._save_state()
        return self.val_loss_before

    def _trainer(self) -> Trainer:
        if self.trainer is None:
            self.tokenize()
            self.trainer = Trainer(
                self.run_config(), self.run_dir, data_dir=self.corpus_dir, resume=self.resuming
            )
        return self.trainer

    def train(self, progress: ProgressFn | None = None) -> Trainer:
        """Fine-tune until the budget is spent, validations stop improving, or Ctrl-C.

        Ctrl-C (SIGINT, in the main thread) ends the run after the step in progress and
        checkpoints it, so a resume goes on from exactly there; a second Ctrl-C stops at
        once (the resume then starts from the last validation's checkpoint)."""
        self.validation_loss_before()
        trainer = self._trainer()
        budget = 60.0 * self.minutes
        start_step, start_seconds = trainer.step, trainer.train_seconds
        estimate: list[int | None] = [None]
        asked = [False]

        def on_step(info: dict) -> None:
            done = trainer.step - start_step
            if done == TIMING_STEPS or (done > TIMING_STEPS and estimate[0] is None):
                per_step = (trainer.train_seconds - start_seconds) / max(1, done)
                left = max(0.0, budget - trainer.train_seconds) / max(per_step, 1e-6)
                total = trainer.step + int(left)
                estimate[0] = total
                trainer.cfg.eval_every = max(5, int(left) // VALIDATIONS)
            if "val_loss" in info and self._no_progress(trainer):
                self.stopped_early = True
                trainer.cfg.optim.max_steps = trainer.step  # the loop ends after this step
            if asked[0]:
                self.interrupted = True
                trainer.cfg.optim.max_steps = trainer.step
            if progress is not None:
                val = trainer.best[0]["val_loss"] if trainer.best else None
                text = f"loss {info['loss']:.3f}" + (f"  best val {val:.3f}" if val else "")
                progress(trainer.step, estimate[0], text)

        def on_sigint(signum, frame) -> None:
            if asked[0]:
                raise KeyboardInterrupt
            asked[0] = True
            log.warning("stopping after this step (Ctrl-C again stops at once)")

        trainer.on_step = on_step
        handler = None
        if threading.current_thread() is threading.main_thread():
            handler = signal.signal(signal.SIGINT, on_sigint)
        try:
            trainer.run()
            if self.interrupted:  # stopped between steps: the exact state, for a resume
                trainer.save_last()
        except KeyboardInterrupt:
            self.interrupted = True
            log.info("interrupted at step %d", trainer.step)
        finally:
            if handler is not None:
                signal.signal(signal.SIGINT, handler)
            torch.set_num_threads(self._threads)
        return trainer

    @staticmethod
    def _no_progress(trainer: Trainer) -> bool:
        """PATIENCE validations in a row after the best one (early stopping)."""
        if not trainer.best:
            return False
        best_step = trainer.best[0]["step"]
        later = [h for h in trainer.history if "val_loss" in h and h["step"] > best_step]
        return len(later) >= PATIENCE

    def publish(self) -> FinetuneResult:
        """The best weights as the user model `name`, replacing an older one only when the new
        one is complete on disk; the run folder is removed unless the run was interrupted."""
        trainer = self._trainer()
        torch.set_num_threads(self._threads)
        assert self.report is not None
        best = trainer.best[0] if trainer.best else None
        source = recover_folder(self.run_dir / "model")
        result = FinetuneResult(
            name=self.name,
            path=self.target,
            saved=False,
            style=self.style,
            style_name=self.style_name,
            val_loss_before=self.val_loss_before,
            val_loss_after=float(best["val_loss"]) if best else None,
            steps=trainer.step,
            train_minutes=round(trainer.train_seconds / 60.0, 3),
            adapter=self.adapter,
            stopped_early=self.stopped_early,
            interrupted=self.interrupted,
            corpus=self.report,
        )
        if source is None or best is None:  # stopped before the first validation
            return result
        for stale in self.target.parent.glob(f".{self.name}.tmp-*"):  # a killed publish's
            shutil.rmtree(stale, ignore_errors=True)
        tmp = temp_folder(self.target)
        for name in (
            "model.safetensors",
            "tokenizer.json",
            "model.onnx",
            "model.int8.onnx",
            "onnx.json",
        ):
            if (source / name).is_file():  # the ONNX files when the onnx package made them
                shutil.copy2(source / name, tmp / name)
        if (self.base / "reprise.json").is_file():  # the base model's gate for --form
            shutil.copy2(self.base / "reprise.json", tmp / "reprise.json")
        for name, as_name in (("loss.png", "loss.png"), ("log.jsonl", "train_log.jsonl")):
            if (self.run_dir / name).is_file():
                shutil.copy2(self.run_dir / name, tmp / as_name)
        config = json.loads((source / "config.json").read_text(encoding="utf-8"))
        styles = {**model_styles(self.base), self.style_name: self.style}
        config.update(
            run=self.name,
            styles=styles,
            finetune={
                "base": str(self.base),
                "base_run": model_metadata(self.base).get("run"),
                "folder": str(self.folder),
                "style": self.style,
                "style_name": self.style_name,
                "minutes": self.minutes,
                "adapter": self.adapter if self.adapter == "full" else dict(LORA),
                "train_minutes": result.train_minutes,
                "steps": trainer.step,
                "best_step": int(best["step"]),
                "val_loss_before": self.val_loss_before,
                "val_loss_after": result.val_loss_after,
                "stopped_early": self.stopped_early,
                "complete": not self.interrupted,
                "midi_files": self.report.midi_files,
                "pieces": {"train": self.report.train, "val": self.report.val},
                "skipped": self.report.skipped,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        atomic_write_json(tmp / "config.json", config)
        _write_samples(tmp, styles, self.style_name)
        replace_folder(tmp, self.target)
        result.saved = True
        if not self.interrupted:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        return result


def _write_samples(folder: Path, styles: dict[str, str], style_name: str) -> None:
    """A few short pieces in the new style (samples/), so the result can be heard at once;
    a sample that fails is reported and skipped, never fatal."""
    from ..generate.engine import Engine
    from ..generate.sampling import SamplingConfig
    from ..model.transformer import MusicTransformer
    from ..render.piece import Piece

    try:
        model = MusicTransformer.load(folder)
        tokenizer = MusicTokenizer.load(folder)
        engine = Engine(model, tokenizer)
        (folder / "samples").mkdir(exist_ok=True)
        for i in range(SAMPLES):
            prompt = f"{'an' if style_name[:1] in 'aeiou' else 'a'} {style_name}"
            controls = parse_prompt(prompt, styles).controls
            controls.bars = SAMPLE_BARS
            res = engine.generate(controls, prompt, 1, SamplingConfig(seed=i + 1))
            piece = Piece.from_tokens(tokenizer, res[0].ids, controls, prompt)
            piece.save(folder / "samples" / f"{i + 1}.mid")
    except Exception as e:  # noqa: BLE001 - samples are a convenience
        log.warning("could not write samples: %s: %s", type(e).__name__, e)


def finetune(
    folder: str | Path,
    name: str,
    base: str | Path | None = None,
    captions: str | Path | None = None,
    minutes: float | None = None,
    style_name: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    workers: int | None = None,
    progress: Callable[[str, int, int | None, str], None] | None = None,
    adapter: str | None = None,
) -> FinetuneResult:
    """Fine-tune `base` (default: the shipped model) on the MIDI files in `folder` and save
    the result as the user model `name` (module doc). `progress(stage, done, total, info)`
    for the stages prepare, tokenize, embed and train. `adapter`: "full" (every weight) or
    "lora" (low-rank adapters); a resume keeps the run's."""
    job = StyleFinetune(
        folder, name, base, captions, minutes, style_name, resume, overwrite, workers, adapter
    )
    say = progress or (lambda *a: None)
    job.prepare(lambda d, t: say("prepare", d, t, ""))
    job.tokenize(lambda stage, d, t: say(stage, d, t, ""))
    job.train(lambda d, t, info: say("train", d, t, info))
    return job.publish()

"""The trainer: AdamW, warmup + cosine, EMA, bf16 autocast on GPU, gradient accumulation,
top-3 checkpoints by validation loss, exact resume, and DistributedDataParallel.

Run folder:
  log.jsonl            one JSON object per logged step / validation
  loss.png             training and validation loss curves
  samples/step_N/      MIDI generated from fixed prompts at each validation
  checkpoints/last/    full training state for exact resume (safetensors + JSON)
  checkpoints/best-N/  EMA weights of the best 3 validations (model, config, tokenizer)
  model/               the best EMA weights: what `tunesmith.load(run_dir)` loads
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from ..data.batches import IGNORE, AugmentConfig, BatchSampler
from ..data.dataset import TokenDataset, build_token_dataset, load_token_dataset
from ..errors import BadInputError, CheckpointError
from ..fileio import atomic_write_bytes, read_yaml_mapping
from ..model.transformer import ModelConfig, MusicTransformer
from ..tokens.tokenizer import MusicTokenizer
from .checkpoint import (
    load_tensors,
    optimizer_from_tensors,
    optimizer_to_tensors,
    read_json,
    recover_folder,
    replace_folder,
    save_tensors,
    temp_folder,
    write_json,
)
from .lora import LoraConfig, add_lora, merged_state
from .lora import count as count_params

log = logging.getLogger(__name__)

SAMPLE_PROMPTS = (
    "A lively Irish reel in D major for fiddle",
    "A four-part Bach chorale in G major for choir",
    "A slow air in E minor on the tin whistle",
    "",
)


@dataclass
class OptimConfig:
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 1e-3
    min_lr: float = 1e-4
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: int = 200
    max_steps: int = 5000
    grad_clip: float = 1.0
    ema_decay: float = 0.999


@dataclass
class RunConfig:
    """A training run, loaded from a YAML file in configs/."""

    name: str
    model: dict
    data: dict = field(default_factory=dict)  # corpus, tokenization, prepare_limit
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    eval_every: int = 250
    eval_batches: int = 8
    log_every: int = 10
    keep_best: int = 3
    samples: bool = True
    seed: int = 1337
    init_from: str | None = None  # a model or run folder to fine-tune (same architecture)
    # With init_from: tokens whose embeddings are drawn afresh, for controls the source model
    # never saw as input (see reinit_token_rows).
    reinit_tokens: list[str] = field(default_factory=list)
    # A wall-clock budget for the training steps (a GPU window, a night): the run stops when
    # it is spent, and the cosine schedule follows whichever of steps and time is further
    # along, so the learning rate reaches min_lr when the time is up (max_steps stays a cap).
    max_minutes: float | None = None
    # Low-rank adapters instead of a full fine-tune (training/lora.py): {"kind": "lora",
    # "rank": 16, "alpha": 32}; the saved model holds the merged weights.
    adapter: dict | None = None

    def lora(self) -> LoraConfig | None:
        if not self.adapter:
            return None
        extra = {k: v for k, v in self.adapter.items() if k != "kind"}
        return LoraConfig(**extra).validated()

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        raw = read_yaml_mapping(path, "config file")
        return cls.from_dict(raw, default_name=path.stem)

    @classmethod
    def from_dict(cls, raw: dict, default_name: str = "run") -> RunConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise BadInputError(f"unknown config keys: {', '.join(sorted(unknown))}")
        if "model" not in raw or not isinstance(raw["model"], dict):
            raise BadInputError("config lacks a 'model' section (n_layer, n_head, d_model, ...)")
        model = dict(raw["model"])
        model_keys = {f.name for f in fields(ModelConfig)} - {"vocab_size"}
        bad = set(model) - model_keys
        if bad:
            raise BadInputError(f"unknown model config keys: {', '.join(sorted(bad))}")
        for key in ("n_layer", "n_head", "d_model", "block_size"):
            if key not in model:
                raise BadInputError(f"config's model section lacks {key!r}")
        optim = _sub(OptimConfig, raw.get("optim", {}), "optim")
        augment = _sub(AugmentConfig, raw.get("augment", {}), "augment")
        rest = {k: v for k, v in raw.items() if k not in ("model", "optim", "augment", "name")}
        minutes = rest.get("max_minutes")
        if minutes is not None and (
            isinstance(minutes, bool)
            or not isinstance(minutes, int | float)
            or not math.isfinite(minutes)
            or minutes <= 0
        ):
            raise BadInputError("max_minutes must be a positive number of minutes")
        if rest.get("reinit_tokens") and not rest.get("init_from"):
            raise BadInputError("reinit_tokens re-draws rows of a source model: set init_from too")
        adapter = rest.get("adapter")
        if adapter is not None:
            if not isinstance(adapter, dict) or adapter.get("kind") != "lora":
                raise BadInputError("adapter must be {kind: lora, rank: R, alpha: A}")
            unknown = set(adapter) - {"kind", "rank", "alpha", "train_embeddings"}
            if unknown:
                raise BadInputError(f"unknown adapter keys: {', '.join(sorted(unknown))}")
            try:
                LoraConfig(**{k: v for k, v in adapter.items() if k != "kind"}).validated()
            except ValueError as e:
                raise BadInputError(str(e)) from None
        return cls(
            name=raw.get("name", default_name), model=model, optim=optim, augment=augment, **rest
        )

    def to_dict(self) -> dict:
        return asdict(self)


def _sub(cls, values: dict, section: str):
    if not isinstance(values, dict):
        raise BadInputError(f"config section {section!r} must be a mapping")
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise BadInputError(f"unknown {section} config keys: {', '.join(sorted(unknown))}")
    if "betas" in values:
        values = {**values, "betas": tuple(values["betas"])}
    return cls(**values)


# -- distributed helpers -----------------------------------------------------------------
def _dist_setup() -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    rank = dist.get_rank() if dist.is_initialized() else 0
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    return rank, world, device


def lr_at(step: int, o: OptimConfig, time_fraction: float | None = None) -> float:
    """Linear warmup to lr, then cosine decay to min_lr at max_steps (or, with a time
    budget, at whichever comes first: max_steps or the end of the budget)."""
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    progress = min(1.0, (step - o.warmup_steps) / max(1, o.max_steps - o.warmup_steps))
    if time_fraction is not None:
        progress = max(progress, min(1.0, time_fraction))
    return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1 + math.cos(math.pi * progress))


def make_optimizer(model: torch.nn.Module, o: OptimConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not biases, norms or the null prefix)."""
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": o.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=o.lr, betas=o.betas, fused=False)


def reinit_token_rows(model, tokenizer, names: list[str], seed: int) -> None:
    """Give tokens the source model never saw as input distinct embeddings again.

    The input embedding is tied to the output layer, so a token that never occurs in
    training only ever receives the softmax's push-down, the same for every such token: their
    rows grow long and nearly parallel (the shipped model's Section_A and Section_B rows have
    cosine 0.99), and a fine-tune cannot tell them apart. Each named row becomes the mean of
    its family's trained rows (the tokens sharing its prefix, e.g. Section_*, whose rows did
    not collapse with it: cosine < 0.9) plus a random offset as long as those rows' typical
    distance from their mean.
    """
    weight = model.tok_emb.weight
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        old = weight.detach().float().clone()
        for name in names:
            try:
                i = tokenizer.token_id(name)
            except KeyError:
                raise BadInputError(f"reinit_tokens: unknown token {name!r}") from None
            kin = tokenizer.ids_with_prefix(name.split("_")[0] + "_")
            cos = torch.nn.functional.cosine_similarity(old[kin], old[i].expand(len(kin), -1))
            family = [j for j, c in zip(kin, cos.tolist(), strict=True) if c < 0.9]
            if len(family) < 2:
                raise BadInputError(f"reinit_tokens: {name!r} has no trained tokens of its kind")
            rows = old[family]
            center = rows.mean(0)
            spread = (rows - center).norm(dim=1).mean()
            offset = torch.randn(weight.shape[1], generator=gen)
            weight[i] = (center + offset / offset.norm() * spread).to(weight.dtype)
    log.info("re-drew the embeddings of %s", ", ".join(names))


def _remove_temp_folders(out: Path) -> None:
    """Folders a killed run left half-written (checkpoint.temp_folder names them
    `.<name>.tmp-<pid>`): never loaded, so removed on the next start."""
    for folder in (out, out / "checkpoints"):
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp-*"):
                if tmp.is_dir():
                    shutil.rmtree(tmp, ignore_errors=True)


def _vocab_extends(source: MusicTokenizer, target: MusicTokenizer) -> bool:
    """True when `target` has every token of `source` at the same id (and more)."""
    return target.vocab_size >= source.vocab_size and all(
        target.token(i) == source.token(i) for i in range(source.vocab_size)
    )


def _grow_embeddings(state: dict, vocab_size: int, seed: int) -> dict:
    """A state dict whose (tied) token embedding has rows for `vocab_size` tokens: the
    source's rows kept, each new row the source rows' mean plus a random offset half as
    long as their typical distance from it (distinct, and not far from where trained
    tokens live)."""
    state = dict(state)
    old = state["tok_emb.weight"]
    center = old.float().mean(0)
    spread = (old.float() - center).norm(dim=1).mean()
    gen = torch.Generator().manual_seed(seed)
    offsets = torch.randn(vocab_size - old.shape[0], old.shape[1], generator=gen)
    offsets = offsets / offsets.norm(dim=1, keepdim=True) * spread * 0.5
    new = torch.cat([old, (center + offsets).to(old.dtype)])
    for name in ("tok_emb.weight", "lm_head.weight"):
        if name in state:
            state[name] = new
    return state


def loss_fn(model, batch, device, autocast) -> torch.Tensor:
    with autocast():
        logits = model(
            batch["idx"].to(device),
            batch["text_emb"].to(device),
            batch["use_text"].to(device),
        )
    return F.cross_entropy(
        logits.float().view(-1, logits.size(-1)),
        batch["targets"].to(device).view(-1),
        ignore_index=IGNORE,
    )


@torch.no_grad()
def evaluate_loss(model, sampler: BatchSampler, batch_size: int, batches: int, device, drop="none"):
    """Mean token loss on the fixed validation batches."""
    model.eval()
    total, count = 0.0, 0
    for batch in sampler.fixed_batches(batch_size, batches, drop=drop):
        n = int((batch["targets"] != IGNORE).sum())
        if n == 0:
            continue
        total += float(loss_fn(model, batch, device, nullcontext)) * n
        count += n
    return total / max(1, count)


# -- data ------------------------------------------------------------------------------
def resolve_dataset(cfg: RunConfig, data_dir: str | Path | None, progress=None) -> TokenDataset:
    """Load (building or preparing first when needed) the token dataset of a run."""
    tokenization = cfg.data.get("tokenization", "REMI")
    extensions = tuple(cfg.data.get("extensions") or ())
    corpus = Path(data_dir or cfg.data.get("corpus", "data/music21"))
    tokens_dir = corpus / "tokens" / MusicTokenizer(tokenization, extensions).dir_name
    if (tokens_dir / "index.json").is_file():
        return load_token_dataset(tokens_dir)
    if not corpus.exists() or not any(corpus.iterdir()):
        limit = cfg.data.get("prepare_limit")
        if limit is None:
            raise BadInputError(
                f"dataset folder {str(corpus)!r} is missing or empty; prepare a corpus into "
                "it first ('tunesmith prepare music21')"
            )
        from ..data.sources.music21 import prepare_music21

        log.info("preparing a %d-piece music21 slice into %s", limit, corpus)
        prepare_music21(corpus, limit=int(limit))
    if not (corpus / "pieces.jsonl").is_file() and not (corpus / "records").is_dir():
        raise BadInputError(f"{str(corpus)!r} is not a prepared corpus (no pieces.jsonl)")
    build_token_dataset(corpus, tokenization, progress=progress, extensions=extensions)
    return load_token_dataset(tokens_dir)


# -- the trainer -------------------------------------------------------------------------
class Trainer:
    def __init__(
        self,
        cfg: RunConfig,
        out_dir: str | Path,
        data_dir: str | Path | None = None,
        resume: bool = False,
        max_steps: int | None = None,
        on_step: Callable[[dict], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.out = Path(out_dir)
        if self.out.exists() and not self.out.is_dir():
            raise BadInputError(f"output folder {str(self.out)!r} is a file")
        self.rank, self.world, self.device = _dist_setup()
        self.is_main = self.rank == 0
        self.on_step = on_step
        if max_steps is not None:
            if max_steps <= 0:
                raise BadInputError("the number of steps must be positive", field="max_steps")
            cfg.optim.max_steps = max_steps
        torch.manual_seed(cfg.seed)
        if self.device.type == "cpu":
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.world))
        self.ds = resolve_dataset(cfg, data_dir)
        if "infill_order" in cfg.data:  # a layout choice over the same token dataset
            self.ds.tokenizer = MusicTokenizer(
                self.ds.tokenizer.name, self.ds.tokenizer.extensions, cfg.data["infill_order"]
            )
        mcfg = ModelConfig.from_dict({**cfg.model, "vocab_size": self.ds.tokenizer.vocab_size})
        self.model = MusicTransformer(mcfg).to(self.device)
        if cfg.init_from and not resume:
            self._init_weights(cfg.init_from, mcfg)
        self.ema = MusicTransformer(mcfg).to(self.device)
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.requires_grad_(False)
        lora = cfg.lora()
        self.lora = lora is not None
        if lora is not None:  # after the EMA copy: that one stays a plain model
            trainable = add_lora(self.model, lora)
            log.info(
                "LoRA rank %d: %d trainable of %d parameters",
                lora.rank, count_params(trainable), self.ema.num_params(),
            )  # fmt: skip
        self.opt = make_optimizer(self.model, cfg.optim)
        self.train_sampler = BatchSampler(
            self.ds, "train", mcfg.block_size, cfg.augment, seed=cfg.seed + 1000 * self.rank
        )
        val_split = "val" if len(self.ds.split_indexes("val")) else "train"
        self.val_sampler = BatchSampler(self.ds, val_split, mcfg.block_size, None, seed=0)
        self.step = 0
        self.train_seconds = 0.0  # time spent in training steps so far (kept on resume)
        self.best: list[dict] = []  # [{"step", "val_loss", "path"}], best first
        self.history: list[dict] = []
        self.ddp = None
        if self.world > 1:
            self.ddp = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        use_bf16 = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        self.autocast = (
            (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_bf16 else nullcontext
        )
        if self.is_main:
            _remove_temp_folders(self.out)
        has_checkpoint = recover_folder(self.ckpt_dir / "last") is not None
        if resume and has_checkpoint:
            self._load_last()
        elif has_checkpoint and self.is_main:
            raise BadInputError(
                f"the output folder {str(self.out)!r} already holds a run; resume it or choose "
                "another folder",
                field="out_dir",
            )
        elif resume:  # killed before its first checkpoint: nothing to resume, start over
            log.warning("no checkpoint in %s to resume: starting from step 0", self.out)
        if self.is_main:
            self._trim_log()

    def _init_weights(self, path: str, mcfg: ModelConfig) -> None:
        """Fine-tuning: start from another model's weights (same architecture)."""
        from ..model.folder import resolve_model_dir

        folder = resolve_model_dir(path)
        source = MusicTransformer.load(folder, device=str(self.device))
        grown = source.cfg.vocab_size < mcfg.vocab_size
        # dropout is a training setting, not architecture: a fine-tune may change it
        same = replace(source.cfg, vocab_size=mcfg.vocab_size, dropout=mcfg.dropout) == mcfg
        if not same or (
            grown and not _vocab_extends(MusicTokenizer.load(folder), self.ds.tokenizer)
        ):
            raise BadInputError(
                f"init_from {path!r} has another architecture than this config's model"
            )
        state = source.state_dict()
        if grown:  # model v2 from v1: the new tokens (Harmony, Infill) get fresh rows
            state = _grow_embeddings(state, mcfg.vocab_size, self.cfg.seed)
        self.model.load_state_dict(state)
        log.info("initialised from %s", path)
        if self.cfg.reinit_tokens:
            reinit_token_rows(self.model, self.ds.tokenizer, self.cfg.reinit_tokens, self.cfg.seed)

    # -- checkpoints ------------------------------------------------------------------------
    @property
    def ckpt_dir(self) -> Path:
        return self.out / "checkpoints"

    def _state_json(self) -> dict:
        states = [self.train_sampler.rng.bit_generator.state]
        if self.world > 1:
            gathered: list = [None] * self.world
            dist.all_gather_object(gathered, states[0])
            states = gathered
        return {
            "format": "tunesmith-train-state/1",
            "step": self.step,
            "train_seconds": self.train_seconds,
            "best": self.best,
            "history": self.history[-2000:],
            "sampler_rng": states,
            "run_config": self.cfg.to_dict(),
        }

    def save_last(self) -> None:
        state = self._state_json()  # every rank joins the gather
        if not self.is_main:
            return
        final = self.ckpt_dir / "last"
        tmp = temp_folder(final)
        save_tensors(tmp / "model.safetensors", _weights(self.model))
        save_tensors(tmp / "ema.safetensors", _weights(self.ema))
        opt_tensors, opt_meta = optimizer_to_tensors(self.opt)
        save_tensors(tmp / "optim.safetensors", opt_tensors)
        save_tensors(tmp / "torch_rng.safetensors", {"cpu": torch.get_rng_state()})
        write_json(tmp / "optim.json", opt_meta)
        write_json(tmp / "state.json", state)  # written last: its presence marks completeness
        replace_folder(tmp, final)

    def _trim_log(self) -> None:
        """log.jsonl keeps the steps up to where this run starts: a resumed run redoes
        the steps after its checkpoint (logging them again), a fresh run starts a new log."""
        path = self.out / "log.jsonl"
        if not path.is_file():
            return
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill
                continue
            if isinstance(entry, dict) and int(entry.get("step", 0)) <= self.step and self.step:
                kept.append(line)
        atomic_write_bytes(path, "".join(f"{line}\n" for line in kept).encode())

    def _load_last(self) -> None:
        folder = recover_folder(self.ckpt_dir / "last")
        if folder is None:
            raise BadInputError(f"nothing to resume in {str(self.out)!r} (no checkpoints/last)")
        if not (folder / "state.json").is_file():
            raise CheckpointError(f"checkpoint {str(folder)!r} is incomplete (no state.json)")
        state = read_json(folder / "state.json")
        _set_weights(self.model, load_tensors(folder / "model.safetensors"), folder)
        _set_weights(self.ema, load_tensors(folder / "ema.safetensors"), folder)
        optimizer_from_tensors(
            self.opt, load_tensors(folder / "optim.safetensors"), read_json(folder / "optim.json")
        )
        torch.set_rng_state(load_tensors(folder / "torch_rng.safetensors")["cpu"])
        rng_states = state["sampler_rng"]
        self.train_sampler.rng.bit_generator.state = rng_states[min(self.rank, len(rng_states) - 1)]
        self.step = int(state["step"])
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.best = state.get("best", [])
        self.history = state.get("history", [])
        log.info("resumed from step %d", self.step)

    def export(self, folder: Path) -> None:
        """EMA weights + config + tokenizer: a folder `tunesmith.load()` accepts."""
        tmp = temp_folder(folder)
        self.ema.save(
            tmp,
            extra_config={
                "tokenization": self.ds.tokenizer.name,
                "run": self.cfg.name,
                "step": self.step,
            },
        )
        self.ds.tokenizer.save(tmp)
        replace_folder(tmp, folder)

    def _update_best(self, val_loss: float) -> None:
        entry: dict[str, Any] = {
            "step": self.step,
            "val_loss": val_loss,
            "path": f"checkpoints/best-{self.step}",
        }
        ranked = sorted([*self.best, entry], key=lambda e: e["val_loss"])
        keep, drop = ranked[: self.cfg.keep_best], ranked[self.cfg.keep_best :]
        if entry in keep:
            self.export(self.out / entry["path"])
        for e in drop:
            shutil.rmtree(self.out / e["path"], ignore_errors=True)
        self.best = keep
        if keep[0] is entry:
            self.export(self.out / "model")

    # -- the loop ---------------------------------------------------------------------------
    def _ema_update(self) -> None:
        decay = min(self.cfg.optim.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            if self.lora:  # the EMA follows the effective (merged) weights
                merged = merged_state(self.model)
                for name, e in self.ema.named_parameters():
                    e.lerp_(merged[name], 1 - decay)
                return
            for e, p in zip(self.ema.parameters(), self.model.parameters(), strict=True):
                e.lerp_(p, 1 - decay)

    def time_fraction(self) -> float | None:
        """How much of the time budget is spent (None without one)."""
        if self.cfg.max_minutes is None:
            return None
        return self.train_seconds / (60.0 * self.cfg.max_minutes)

    def train_step(self) -> dict:
        o = self.cfg.optim
        lr = lr_at(self.step, o, self.time_fraction())
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.model.train()
        net = self.ddp or self.model
        total, tokens = 0.0, 0
        for micro in range(o.grad_accum):
            batch = self.train_sampler.sample(o.batch_size)
            tokens += int((batch["targets"] != IGNORE).sum())
            sync = micro == o.grad_accum - 1 or self.ddp is None
            # not sync: only with DDP (net is self.ddp)
            ctx = self.ddp.no_sync() if not sync and self.ddp is not None else nullcontext()
            with ctx:
                loss = loss_fn(net, batch, self.device, self.autocast) / o.grad_accum
                loss.backward()
            total += float(loss.detach())
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), o.grad_clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self._ema_update()
        self.step += 1
        return {
            "step": self.step,
            "loss": total,
            "lr": lr,
            "grad_norm": float(norm),
            "tokens": tokens,
        }

    def validate(self) -> float:
        val = evaluate_loss(
            self.ema,
            self.val_sampler,
            self.cfg.optim.batch_size,
            self.cfg.eval_batches,
            self.device,
        )
        return val

    def run(self) -> dict:
        o = self.cfg.optim
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_json(self.out / "run_config.json", self.cfg.to_dict())
        t0, tok_count = time.time(), 0
        last: dict = {}
        while self.step < o.max_steps:
            started = time.monotonic()
            info = self.train_step()
            self._add_train_time(time.monotonic() - started)
            done = self.step == o.max_steps or self._out_of_time()
            tok_count += info["tokens"] * self.world
            elapsed = max(1e-9, time.time() - t0)
            info["tokens_per_s"] = tok_count / elapsed
            last = info
            if self.step % self.cfg.log_every == 0 or done:
                self._log(info)
            if self.step % self.cfg.eval_every == 0 or done:
                val = self.validate()
                if self.is_main:
                    self._update_best(val)
                    self._log(
                        {"step": self.step, "val_loss": val, "val_ppl": math.exp(min(val, 50))}
                    )
                last["val_loss"] = val
                self.save_last()  # before the extras below: a failure there loses nothing
                if self.is_main:
                    self._extras()
            if self.on_step:
                self.on_step(info)
            if done:
                break
        if self.world > 1:
            dist.barrier()
        return last

    def _add_train_time(self, seconds: float) -> None:
        """Count step time; with a budget under DDP every rank takes rank 0's count, so the
        ranks' learning rates and their stopping step agree exactly."""
        self.train_seconds += seconds
        if self.cfg.max_minutes is not None and self.world > 1:
            shared = torch.tensor([self.train_seconds], dtype=torch.float64, device=self.device)
            dist.broadcast(shared, 0)
            self.train_seconds = float(shared.item())

    def _out_of_time(self) -> bool:
        """The budget (minutes of training steps; validation and checkpoints not counted)
        is spent."""
        fraction = self.time_fraction()
        return fraction is not None and fraction >= 1.0

    def _extras(self) -> None:
        """Sample MIDI and the loss plot: conveniences that must never stop a run."""
        try:
            if self.cfg.samples:
                self._write_samples()
            self._plot()
        except Exception as e:  # noqa: BLE001 - reported, and the run goes on
            log.warning("could not write samples or the loss plot: %s: %s", type(e).__name__, e)

    def _log(self, entry: dict) -> None:
        if not self.is_main:
            return
        entry = {**entry, "time": time.time()}
        self.history.append(entry)
        with open(self.out / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def _plot(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        train = [(h["step"], h["loss"]) for h in self.history if "loss" in h]
        val = [(h["step"], h["val_loss"]) for h in self.history if "val_loss" in h]
        fig, ax = plt.subplots(figsize=(7, 4))
        if train:
            ax.plot(*zip(*train, strict=True), label="train", alpha=0.7)
        if val:
            ax.plot(*zip(*val, strict=True), "o-", label="validation (EMA)")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (nats/token)")
        ax.set_title(f"tunesmith {self.cfg.name}")
        ax.legend()
        ax.grid(alpha=0.3)
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        atomic_write_bytes(self.out / "loss.png", buf.getvalue())

    def _write_samples(self) -> None:
        """A fixed set of prompts rendered to MIDI with the EMA weights (offline 'WandB')."""
        from ..conditioning.prompt import parse_prompt
        from ..generate.engine import Engine
        from ..generate.sampling import SamplingConfig
        from ..render.piece import Piece

        engine = Engine(self.ema, self.ds.tokenizer)
        folder = self.out / "samples" / f"step_{self.step}"
        folder.mkdir(parents=True, exist_ok=True)
        for i, prompt in enumerate(SAMPLE_PROMPTS):
            try:
                controls = parse_prompt(prompt).controls
                res = engine.generate(controls, prompt, 1, SamplingConfig(seed=i, max_bars=8))
                piece = Piece.from_tokens(self.ds.tokenizer, res[0].ids, controls, prompt)
                piece.save(folder / f"{i}.mid")
            except Exception as e:  # a sample must never stop training
                log.warning("sample %d failed at step %d: %s", i, self.step, e)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    sd = dict(model.state_dict())
    sd.pop("lm_head.weight", None)  # tied
    return sd


def _set_weights(model: torch.nn.Module, tensors: dict, folder: Path) -> None:
    tensors = dict(tensors)
    tensors["lm_head.weight"] = tensors.get("tok_emb.weight")
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise CheckpointError(
            f"checkpoint {str(folder)!r} does not match the config: {str(e).splitlines()[0]}"
        ) from None


def train(
    config: str | Path | RunConfig,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    resume: bool = False,
    max_steps: int | None = None,
    on_step: Callable[[dict], None] | None = None,
) -> dict:
    """Train (or resume) a run; returns the last step's metrics."""
    cfg = config if isinstance(config, RunConfig) else RunConfig.load(config)
    trainer = Trainer(cfg, out_dir, data_dir, resume, max_steps, on_step)
    return trainer.run()

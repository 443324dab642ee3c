"""Training: loss goes down, resume is exact, checkpoints are safe, DDP ranks agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml
from tests.conftest import TINY_RUN

from tunesmith.errors import BadInputError, CheckpointError
from tunesmith.model.transformer import MusicTransformer
from tunesmith.training.trainer import RunConfig, lr_at, reinit_token_rows, train


def _log(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_validation_loss_decreases(tiny_run):
    vals = [e["val_loss"] for e in _log(tiny_run) if "val_loss" in e]
    assert len(vals) == 3
    assert vals[-1] < vals[0] - 0.3
    assert (tiny_run / "loss.png").stat().st_size > 1000
    kept = sorted(p.name for p in (tiny_run / "checkpoints").iterdir())
    assert kept == ["best-10", "best-20", "best-30", "last"]
    model = MusicTransformer.load(tiny_run / "model")
    assert model.cfg.n_layer == 2


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "checkpoints" / "last" / "model.safetensors"))


def test_resume_reproduces_uninterrupted_run(tiny_corpus, tiny_tokens, tmp_path):
    cfg = dict(TINY_RUN, eval_every=4)
    cfg["optim"] = dict(cfg["optim"], max_steps=8)
    train(RunConfig.from_dict(json.loads(json.dumps(cfg))), tmp_path / "a", data_dir=tiny_corpus)
    train(
        RunConfig.from_dict(json.loads(json.dumps(cfg))),
        tmp_path / "b",
        data_dir=tiny_corpus,
        max_steps=4,
    )
    # an interrupted run resumes from its last checkpoint to the same end state
    train(
        RunConfig.from_dict(json.loads(json.dumps(cfg))),
        tmp_path / "b",
        data_dir=tiny_corpus,
        resume=True,
        max_steps=8,
    )
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_init_from_fine_tunes_a_trained_model(tiny_run, tiny_corpus, tmp_path):
    cfg = json.loads(json.dumps(TINY_RUN))
    cfg["optim"] = dict(cfg["optim"], max_steps=2, warmup_steps=1)
    fresh = train(RunConfig.from_dict(cfg), tmp_path / "fresh", data_dir=tiny_corpus)
    cfg["init_from"] = str(tiny_run)
    tuned = train(RunConfig.from_dict(cfg), tmp_path / "tuned", data_dir=tiny_corpus)
    # starting from the trained weights, the first steps' loss is far below a fresh model's
    assert tuned["loss"] < fresh["loss"] - 1.0
    # dropout is a training setting: a fine-tune may change it
    cfg["model"] = dict(cfg["model"], dropout=0.1)
    train(RunConfig.from_dict(cfg), tmp_path / "dropout", data_dir=tiny_corpus)
    cfg["model"] = dict(cfg["model"], d_model=32)
    with pytest.raises(BadInputError, match="another architecture"):
        train(RunConfig.from_dict(cfg), tmp_path / "bad", data_dir=tiny_corpus)


def test_reinit_token_rows_separates_collapsed_embeddings():
    from tunesmith.model.transformer import ModelConfig
    from tunesmith.tokens.tokenizer import MusicTokenizer

    tok = MusicTokenizer("REMI")
    cfg = ModelConfig(vocab_size=tok.vocab_size, n_layer=1, n_head=2, d_model=32, block_size=64)
    model = MusicTransformer(cfg)
    w = model.tok_emb.weight
    a, b = tok.token_id("Section_A"), tok.token_id("Section_B")
    trained = [tok.token_id(f"Section_{s}") for s in ("any", "start", "middle", "end")]
    collapsed = torch.randn(32) * 0.5
    with torch.no_grad():  # what an unseen control's tied row becomes: long, one direction
        for name in tok.tokens(tok.ids_with_prefix("Section_")):
            if name.removeprefix("Section_") not in ("any", "start", "middle", "end"):
                w[tok.token_id(name)] = collapsed + 0.01 * torch.randn(32)
    before = w.detach().clone()
    reinit_token_rows(model, tok, ["Section_A", "Section_B"], seed=0)
    cos = torch.nn.functional.cosine_similarity(w[a], w[b], dim=0)
    assert cos < 0.9  # the two labels can be told apart again
    center = before[trained].mean(0)
    spread = (before[trained] - center).norm(dim=1).mean()
    for i in (a, b):  # drawn around the trained Section rows, at their spread
        assert torch.allclose((w[i] - center).norm(), spread, rtol=1e-4)
    others = [i for i in range(tok.vocab_size) if i not in (a, b)]
    assert torch.equal(w[others], before[others])
    with pytest.raises(BadInputError, match="unknown token"):
        reinit_token_rows(model, tok, ["Section_Z"], seed=0)
    with pytest.raises(BadInputError, match="set init_from"):
        RunConfig.from_dict({"model": TINY_RUN["model"], "reinit_tokens": ["Section_A"]})


def test_half_written_checkpoint_is_never_loaded(tiny_corpus, tiny_tokens, tmp_path):
    cfg = dict(TINY_RUN)
    cfg["optim"] = dict(cfg["optim"], max_steps=10)
    train(RunConfig.from_dict(json.loads(json.dumps(cfg))), tmp_path, data_dir=tiny_corpus)
    state = tmp_path / "checkpoints" / "last" / "state.json"
    state.unlink()  # what a crash before the final write would leave
    with pytest.raises(CheckpointError, match="incomplete"):
        train(
            RunConfig.from_dict(json.loads(json.dumps(cfg))),
            tmp_path,
            data_dir=tiny_corpus,
            resume=True,
        )


def test_bad_configs_and_outputs(tmp_path, tiny_corpus):
    with pytest.raises(BadInputError, match="lacks a 'model'"):
        RunConfig.from_dict({"name": "x"})
    with pytest.raises(BadInputError, match="lacks 'd_model'"):
        RunConfig.from_dict({"model": {"n_layer": 1, "n_head": 1, "block_size": 8}})
    with pytest.raises(BadInputError, match="unknown config keys"):
        RunConfig.from_dict({"model": dict(TINY_RUN["model"]), "bogus": 1})
    with pytest.raises(BadInputError, match="does not exist"):
        RunConfig.load(tmp_path / "missing.yaml")
    file_out = tmp_path / "afile"
    file_out.write_text("x")
    with pytest.raises(BadInputError, match="is a file"):
        train(RunConfig.from_dict(json.loads(json.dumps(TINY_RUN))), file_out, data_dir=tiny_corpus)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError, match="missing or empty"):
        train(RunConfig.from_dict(json.loads(json.dumps(TINY_RUN))), tmp_path / "o", data_dir=empty)


def test_warmup_then_cosine():
    o = RunConfig.from_dict(
        {
            "model": dict(TINY_RUN["model"]),
            "optim": {"lr": 1.0, "min_lr": 0.1, "warmup_steps": 10, "max_steps": 110},
        }
    ).optim
    assert lr_at(0, o) == pytest.approx(0.1)
    assert lr_at(9, o) == pytest.approx(1.0)
    assert lr_at(60, o) == pytest.approx(0.55)
    assert lr_at(110, o) == pytest.approx(0.1)
    # with a time budget the schedule follows whichever is further along: steps or time
    assert lr_at(20, o, time_fraction=0.5) == pytest.approx(0.55)
    assert lr_at(60, o, time_fraction=0.1) == pytest.approx(0.55)
    assert lr_at(20, o, time_fraction=1.5) == pytest.approx(0.1)


def test_time_budget_stops_the_run_and_keeps_its_model(tiny_corpus, tiny_tokens, tmp_path):
    cfg = json.loads(json.dumps(TINY_RUN))
    cfg["optim"] = dict(cfg["optim"], max_steps=1000)
    cfg["max_minutes"] = 1e-9  # spent by the first step
    train(RunConfig.from_dict(cfg), tmp_path / "run", data_dir=tiny_corpus)
    log = _log(tmp_path / "run")
    assert max(e["step"] for e in log) == 1
    assert [e["step"] for e in log if "val_loss" in e] == [1]  # validated and exported at the end
    assert MusicTransformer.load(tmp_path / "run" / "model").cfg.n_layer == 2
    state = json.loads((tmp_path / "run" / "checkpoints" / "last" / "state.json").read_text())
    assert state["step"] == 1 and state["train_seconds"] > 0


@pytest.mark.parametrize("minutes", [0, -1, "ten", True, float("nan"), float("inf")])
def test_time_budget_must_be_positive(minutes):
    with pytest.raises(BadInputError, match="max_minutes"):
        RunConfig.from_dict({"model": dict(TINY_RUN["model"]), "max_minutes": minutes})


@pytest.mark.slow
@pytest.mark.parametrize("budget", [None, 0.0005])
def test_two_process_ddp_ranks_end_identical(tiny_corpus, tiny_tokens, tmp_path, budget):
    cfg = dict(TINY_RUN, eval_every=3)
    cfg["optim"] = dict(cfg["optim"], max_steps=3, batch_size=4)
    if budget:  # a time budget: every rank must take rank 0's clock (lr and stopping step)
        cfg["optim"]["warmup_steps"] = 0
        cfg["max_minutes"] = budget
    cfg["data"] = {"corpus": str(tiny_corpus)}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    script = tmp_path / "ddp.py"
    script.write_text(
        "import sys, torch, torch.distributed as dist\n"
        "from tunesmith.training.trainer import Trainer, RunConfig\n"
        f"t = Trainer(RunConfig.load({str(tmp_path / 'c.yaml')!r}), {str(tmp_path / 'run')!r})\n"
        "t.run()\n"
        "flat = torch.cat([p.detach().flatten() for p in t.model.parameters()])\n"
        "gathered = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]\n"
        "dist.all_gather(gathered, flat)\n"
        "assert torch.equal(gathered[0], gathered[1]), 'ranks differ'\n"
        "print('RANK', dist.get_rank(), 'OK', float(flat.abs().sum()))\n"
        # leave the group before exit: gloo's threads torn down at interpreter exit can
        # abort the process ("terminate called without an active exception")
        "dist.barrier()\n"
        "dist.destroy_process_group()\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
        str(script),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("OK") == 2
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()


@pytest.mark.slow
def test_tiny_config_trains_on_a_fresh_checkout(tmp_path):
    """`tunesmith train --config configs/tiny.yaml --max-steps 5` prepares its own slice."""
    from pathlib import Path

    config = Path(__file__).parents[2] / "configs" / "tiny.yaml"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tunesmith.cli",
            "train",
            "--config",
            str(config),
            "--max-steps",
            "5",
            "--out",
            "run",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "data" / "tiny" / "pieces.jsonl").is_file()
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()


def _free_port() -> int:
    """A TCP port nothing listens on now (a fixed one can still be held by a previous run)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_resumed_or_restarted_run_keeps_a_tidy_folder(tiny_corpus, tiny_tokens, tmp_path):
    """Temp folders of killed writes go, the log has one line per step after a resume, a
    run killed before its first checkpoint starts over cleanly, and a failing sample
    writer never stops a run."""
    cfg = dict(TINY_RUN)
    cfg["optim"] = dict(cfg["optim"], max_steps=10)
    cfg["eval_every"] = 5
    fresh = lambda: RunConfig.from_dict(json.loads(json.dumps(cfg)))  # noqa: E731
    train(fresh(), tmp_path, data_dir=tiny_corpus, max_steps=5)
    log_path = tmp_path / "log.jsonl"
    # a run that went on to step 8 and was killed there, mid-way through a checkpoint write
    with open(log_path, "a") as f:
        for step in (6, 7, 8):
            f.write(json.dumps({"step": step, "loss": 1.0}) + "\n")
        f.write('{"step": 9, "lo')  # the line the kill cut
    stale = tmp_path / "checkpoints" / ".last.tmp-99999"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    train(fresh(), tmp_path, data_dir=tiny_corpus, resume=True)
    assert not stale.exists()
    steps = [json.loads(line)["step"] for line in log_path.read_text().splitlines()]
    train_steps = [s for s, line in zip(steps, log_path.read_text().splitlines(), strict=True)
                   if '"loss"' in line]  # fmt: skip
    assert train_steps == sorted(set(train_steps)) and max(steps) == 10
    # killed before its first checkpoint: --resume starts over, with a new log
    early = tmp_path / "early"
    early.mkdir()
    (early / "log.jsonl").write_text(json.dumps({"step": 3, "loss": 9.9}) + "\n")
    train(fresh(), early, data_dir=tiny_corpus, resume=True, max_steps=5)
    records = [json.loads(line) for line in (early / "log.jsonl").read_text().splitlines()]
    assert {"step": 3, "loss": 9.9} not in records  # the stale log was replaced, not appended to
    assert not any(r.get("loss") == 9.9 for r in records)
    assert (early / "checkpoints" / "last" / "state.json").is_file()


def test_a_failing_sample_writer_does_not_stop_the_run(tiny_corpus, tiny_tokens, tmp_path, caplog):
    from tunesmith.training.trainer import Trainer

    cfg = dict(TINY_RUN)
    cfg["optim"] = dict(cfg["optim"], max_steps=5)
    cfg["eval_every"] = 5
    trainer = Trainer(RunConfig.from_dict(json.loads(json.dumps(cfg))), tmp_path, tiny_corpus)

    def broken() -> None:
        raise ImportError("a module changed under the running job")

    trainer._write_samples = broken  # type: ignore[method-assign]
    trainer.cfg.samples = True
    with caplog.at_level("WARNING"):
        trainer.run()
    assert (tmp_path / "checkpoints" / "last" / "state.json").is_file()
    assert any("could not write samples" in r.message for r in caplog.records)

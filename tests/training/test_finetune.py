"""Fine-tuning on a folder of MIDI files: the tiny model adapts to a new style, the result is
a user model found by name, the style word works in prompts, Ctrl-C keeps the best weights
and a resume continues the same run, and an earlier model of the same name is never lost."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from tests.conftest import write_style_folder

from tunesmith.api import Composer
from tunesmith.errors import BadInputError
from tunesmith.model.folder import list_user_models, resolve_model_dir, user_models_dir
from tunesmith.training.finetune import CARRIERS, StyleFinetune, run_folder, style_for

SECONDS = 0.04  # minutes of training: a few tiny-model steps


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNESMITH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_a_fine_tuned_model_is_found_by_name_and_knows_its_word(tiny_run, home, tmp_path):
    folder = write_style_folder(tmp_path / "mine")
    base = Composer.load(tiny_run)
    threads = torch.get_num_threads()
    tuned = base.finetune(folder, "game", minutes=SECONDS, style_name="game tune", workers=1)
    assert torch.get_num_threads() == threads  # the caller's setting comes back
    assert tuned.path == user_models_dir() / "game"
    assert tuned.styles == {"game tune": CARRIERS[0]}
    assert tuned.controls_for("a game tune in G major").style == CARRIERS[0]
    assert base.controls_for("a game tune").style is None
    piece = tuned("a game tune for flute", bars=4, seed=1)
    assert piece.score.note_num() > 0
    assert Composer.load("game").styles == tuned.styles  # --model game everywhere
    assert resolve_model_dir("game") == home / "models" / "game"
    (listed,) = list_user_models()
    assert listed["name"] == "game" and listed["styles"] == {"game tune": CARRIERS[0]}
    assert listed["parameters"] == tuned.model.num_params()
    assert listed["complete"] is True and listed["adapter"] == "full"
    assert listed["val_loss_before"] > 0 and listed["val_loss_after"] > 0
    made = json.loads((tuned.path / "config.json").read_text())["finetune"]
    assert made["pieces"] == {"train": 9, "val": 1}
    assert made["skipped"] == {"unreadable": 2, "drums only": 1, "duplicate of another file": 1}
    assert sorted(p.name for p in (tuned.path / "samples").iterdir()) == ["1.mid", "2.mid"]
    assert not run_folder("game").exists()  # the run folder goes once the model is saved


def test_a_word_already_known_trains_its_own_style():
    assert style_for("Jazz", {}) == ("jazz", "jazz")
    assert style_for("game tune", {"game tune": "latin"}) == ("game tune", "latin")
    assert style_for("boss fight", {"game tune": CARRIERS[0]})[1] == CARRIERS[1]


def test_ctrl_c_keeps_the_best_and_resume_continues(tiny_run, home, tmp_path):
    folder = write_style_folder(tmp_path / "mine", extras=False)
    job = StyleFinetune(folder, "tunes", tiny_run, minutes=0.3, workers=1)
    job.prepare()
    before = job.validation_loss_before()

    pressed = []

    def ctrl_c_after_a_validation(step, total, info):
        if job.trainer is not None and job.trainer.best and not pressed:
            pressed.append(step)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: the run ends after the next step

    previous = signal.getsignal(signal.SIGINT)  # ignored in a background job, else default
    job.train(ctrl_c_after_a_validation)
    assert job.interrupted and signal.getsignal(signal.SIGINT) is previous  # restored
    first = job.publish()
    assert first.saved and first.interrupted
    assert list_user_models()[0]["complete"] is False
    state = json.loads((run_folder("tunes") / "checkpoints" / "last" / "state.json").read_text())
    assert first.steps == pressed[0] + 1
    assert state["step"] == first.steps  # checkpointed where it stopped, kept for the resume
    # no other start may take the name while the run waits...
    with pytest.raises(BadInputError, match="an unfinished fine-tune named 'tunes'"):
        StyleFinetune(folder, "tunes", tiny_run, minutes=SECONDS)
    # ...the resume goes on from that step (a new budget just past what was spent)
    spent = job.trainer.train_seconds / 60
    again = StyleFinetune(folder, "tunes", resume=True, minutes=spent + SECONDS, workers=1)
    assert again.resuming and again.style_name == "tunes"
    assert again.validation_loss_before() == before  # measured once, on the base model
    steps: list[int] = []
    trainer = again.train(lambda step, total, info: steps.append(step))
    assert steps[0] == first.steps + 1  # the next step after the checkpoint
    done = again.publish()
    assert done.saved and not done.interrupted and done.steps == trainer.step
    assert list_user_models()[0]["complete"] is True
    assert not run_folder("tunes").exists()


def test_an_earlier_model_of_the_name_is_not_lost(tiny_run, home, tmp_path):
    folder = write_style_folder(tmp_path / "mine", extras=False)
    taken = user_models_dir() / "mine"
    taken.mkdir(parents=True)
    for f in (tiny_run / "model").iterdir():
        (taken / f.name).write_bytes(f.read_bytes())
    original = {f.name: f.read_bytes() for f in taken.iterdir()}
    with pytest.raises(BadInputError, match="a model named 'mine' exists already") as info:
        StyleFinetune(folder, "mine", tiny_run, minutes=SECONDS)
    assert info.value.field == "name"
    # with overwrite, a fine-tune that fails (one usable file) leaves the old model whole
    single = write_style_folder(tmp_path / "single", n=1, extras=False)
    job = StyleFinetune(single, "mine", tiny_run, minutes=SECONDS, overwrite=True, workers=1)
    with pytest.raises(BadInputError, match="single MIDI file"):
        job.prepare()
    assert {f.name: f.read_bytes() for f in taken.iterdir()} == original


@pytest.mark.parametrize(
    "name, fragment",
    [("a/b", "path separator"), ("..", "not usable"), ("", "cannot be empty")],
)
def test_a_bad_name_is_refused_before_any_work(name, fragment, home, tmp_path):
    with pytest.raises(BadInputError, match=fragment):
        StyleFinetune(tmp_path, name)
    assert not home.exists()


def test_a_lora_fine_tune_is_a_plain_model_that_knows_its_word(tiny_run, home, tmp_path):
    folder = write_style_folder(tmp_path / "mine", extras=False)
    tuned = Composer.load(tiny_run).finetune(
        folder, "arcade", minutes=SECONDS, style_name="arcade tune", workers=1, adapter="lora"
    )
    made = json.loads((tuned.path / "config.json").read_text())["finetune"]
    assert made["adapter"]["kind"] == "lora" and made["adapter"]["rank"] == 16
    assert tuned.controls_for("an arcade tune").style == CARRIERS[0]
    assert tuned("an arcade tune for flute", bars=4, seed=1).score.note_num() > 0
    from tunesmith.model.transformer import MusicTransformer

    b = MusicTransformer.load(tiny_run / "model").state_dict()
    t = tuned.model.state_dict()
    assert torch.equal(t["ln_f.weight"], b["ln_f.weight"])  # frozen under the adapters
    assert not torch.equal(t["blocks.0.mlp.0.weight"], b["blocks.0.mlp.0.weight"])


def test_an_unknown_adapter_is_refused_before_any_work(home, tmp_path):
    with pytest.raises(BadInputError, match="unknown adapter 'qlora'; choose one of: full, lora"):
        StyleFinetune(tmp_path, "x", adapter="qlora")
    assert not home.exists()

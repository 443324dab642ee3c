"""`tunesmith finetune` and `tunesmith models` as a user runs them: a folder of MIDI files in,
a model usable with --model NAME out; bad input is one line and leaves nothing behind; Ctrl-C
keeps the best model so far and --resume finishes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import symusic
from tests.conftest import assert_one_line_error, run_cli, run_ok, write_style_folder


@pytest.fixture
def home(tmp_path, monkeypatch):
    """User models in a temporary folder (the commands run in child processes: the
    environment carries it)."""
    monkeypatch.setenv("TUNESMITH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _models() -> list[dict]:
    res = run_ok("models", "--json")
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


def test_finetune_then_generate_with_the_name(tiny_run, home, tmp_path):
    folder = write_style_folder(tmp_path / "my midi")
    res = run_ok(
        "finetune", folder, "--out", "arcade", "--style-name", "arcade tune",
        "--model", tiny_run, "--minutes", "0.04", "--workers", "1",
    )  # fmt: skip
    assert "validation loss" in res.stdout and "--model arcade" in res.stdout
    # the skipped files are counted in the report on stderr
    assert "skipped 2 unreadable, 1 drums only, 1 duplicate of another file" in res.stderr
    (model,) = _models()
    assert model["name"] == "arcade" and model["styles"] == {"arcade tune": "world"}
    assert model["val_loss_after"] is not None and model["complete"] is True
    table = run_ok("models").stdout
    assert "arcade" in table and "arcade tune (world)" in table
    out = tmp_path / "piece.mid"
    run_ok("generate", "an arcade tune for flute", "-o", out, "--bars", "4", "--model", "arcade")
    assert symusic.Score(str(out)).note_num() > 0
    explained = run_ok("explain", "an arcade tune", "--model", "arcade", "--json").stdout
    rows = json.loads(explained)["attributes"]
    assert {"attribute": "style", "value": "world", "from_text": "arcade tune"} in rows


def test_finetune_with_adapters(tiny_run, home, tmp_path):
    folder = write_style_folder(tmp_path / "mine", extras=False)
    bad = run_ok(
        "finetune", folder, "--out", "arcade", "--model", tiny_run, "--adapter", "qlora",
        check_ok=False,
    )  # fmt: skip
    assert_one_line_error(bad, "unknown adapter 'qlora'; choose one of: full, lora")
    run_ok(
        "finetune", folder, "--out", "arcade", "--style-name", "arcade tune", "--adapter", "lora",
        "--model", tiny_run, "--minutes", "0.04", "--workers", "1",
    )  # fmt: skip
    (model,) = _models()
    assert model["adapter"] == "lora"
    assert "(lora)" in run_ok("models").stdout


def test_models_without_any(home):
    assert "no models in" in run_ok("models").stdout
    assert _models() == []


def _broken_folder(tmp_path):
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "a.mid").write_bytes(b"not midi at all")
    (folder / "b.mid").write_bytes(b"")
    return folder


def _two_files(tmp_path):
    return write_style_folder(tmp_path / "mine", 2, extras=False)


def _text_folder(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "notes.txt").write_text("no music here")
    return folder


@pytest.mark.parametrize(
    "make, args, fragment",
    [
        (lambda p: (p / "empty").mkdir() or p / "empty", [], "is empty"),
        (lambda p: p / "nowhere", [], "does not exist"),
        (_text_folder, [], "no .mid or .midi files"),
        (_broken_folder, [], "none of the 2 MIDI files"),
        (lambda p: write_style_folder(p / "one", 1, extras=False), [], "a single MIDI file"),
        (_two_files, ["--out", "../elsewhere"], "contains a path separator"),
        (_two_files, ["--minutes", "0"], "(--minutes)"),
        (_two_files, ["--style-name", "slow"], "would be read as tempo"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(make, args, fragment, tiny_run, home, tmp_path):
    folder = make(tmp_path)
    if not args or args[0] != "--out":
        args = ["--out", "mine", *args]
    res = run_cli("finetune", folder, *args, "--model", tiny_run, "--workers", "1")
    assert_one_line_error(res, fragment)
    assert _models() == []


def test_an_existing_name_needs_overwrite(tiny_run, home, tmp_path):
    taken = home / "models" / "taken"
    taken.mkdir(parents=True)
    for f in (tiny_run / "model").iterdir():
        (taken / f.name).write_bytes(f.read_bytes())
    before = {f.name: f.read_bytes() for f in taken.iterdir()}
    folder = write_style_folder(tmp_path / "mine")
    res = run_cli("finetune", folder, "--out", "taken", "--model", tiny_run)
    assert_one_line_error(res, "a model named 'taken' exists already; give --overwrite")
    assert {f.name: f.read_bytes() for f in taken.iterdir()} == before


@pytest.mark.slow
def test_ctrl_c_keeps_the_best_so_far_and_resume_finishes(tiny_run, home, tmp_path):
    folder = write_style_folder(tmp_path / "mine", extras=False)
    cmd = [sys.executable, "-m", "tunesmith.cli", "finetune", str(folder), "--out", "tunes",
           "--model", str(tiny_run), "--minutes", "1", "--workers", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    best = home / "finetune-runs" / "tunes" / "model" / "model.safetensors"
    deadline = time.monotonic() + 300
    while not best.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert best.is_file(), "no validation before the deadline"
    os.kill(proc.pid, signal.SIGINT)  # Ctrl-C
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    assert "interrupted: the best model so far is saved as 'tunes'" in stderr
    assert "Traceback" not in stderr
    (interrupted,) = _models()
    assert interrupted["complete"] is False
    steps = json.loads((home / "models" / "tunes" / "config.json").read_text())["finetune"]["steps"]
    last = home / "finetune-runs" / "tunes" / "checkpoints" / "last" / "state.json"
    assert json.loads(last.read_text())["step"] == steps  # checkpointed where it stopped
    # without --resume the name stays taken; with it the same run goes on and finishes
    again = run_cli("finetune", folder, "--out", "tunes", "--model", tiny_run)
    assert_one_line_error(again, "an unfinished fine-tune named 'tunes' exists; give --resume")
    run_ok("finetune", folder, "--out", "tunes", "--resume", "--minutes", "0.01")
    (done,) = _models()
    assert done["complete"] is True
    made = json.loads((home / "models" / "tunes" / "config.json").read_text())["finetune"]
    assert made["steps"] > steps
    assert not (home / "finetune-runs" / "tunes").exists()

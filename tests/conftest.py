"""Shared fixtures: a tiny synthetic corpus, its token dataset, and a tiny trained model.

The corpus is written with symusic (no music21 parsing) so the fixtures cost seconds; the
text encoder is the real MiniLM, as in the product.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import symusic

from tunesmith.data.records import PieceRecord, split_for, write_index
from tunesmith.fileio import atomic_write_json
from tunesmith.music.keys import key_name

MAJOR = [0, 2, 4, 5, 7, 9, 11]


def make_score(tonic: int, meter: tuple[int, int], voices: int, bars: int, programs, seed: int):
    """A small tonal piece: stepwise melody over held chord tones, `voices` tracks."""
    rng = random.Random(seed)
    num, den = meter
    tpq = 480
    bar_ticks = num * 4 * tpq // den
    beat = 4 * tpq // den
    s = symusic.Score(tpq)
    s.time_signatures.append(symusic.TimeSignature(0, num, den))
    s.tempos.append(symusic.Tempo(0, 100.0))
    for v in range(voices):
        t = symusic.Track(program=programs[v], name=f"v{v}")
        base = 72 - 12 * v + tonic
        degree = 0
        for b in range(bars):
            step = beat if v == 0 else bar_ticks
            for pos in range(0, bar_ticks, step):
                degree = max(-3, min(7, degree + rng.choice([-1, 1, 0, 2, -2])))
                octave, idx = divmod(degree, 7)
                pitch = base + 12 * octave + MAJOR[idx]
                t.notes.append(symusic.Note(b * bar_ticks + pos, step, pitch, 80))
        s.tracks.append(t)
    return s


def write_corpus(folder: Path, n: int = 24) -> Path:
    """n synthetic pieces with records and captions, in the prepared-corpus format."""
    (folder / "midi").mkdir(parents=True, exist_ok=True)
    meters = [(4, 4), (3, 4), (6, 8), (2, 4)]
    forms = ["reel", "waltz", "jig", "march"]
    for i in range(n):
        tonic = (i * 5) % 12
        voices = 1 + i % 4
        programs = [[110], [40, 42], [52, 52, 52], [40, 40, 41, 42]][voices - 1]
        meter = meters[i % 4]
        score = make_score(tonic, meter, voices, 8 + (i % 3) * 4, programs, seed=i)
        rid = f"syn{i:03d}"
        score.dump_midi(str(folder / "midi" / f"{rid}.mid"))
        key = key_name(tonic, "major")
        rec = PieceRecord(
            id=rid,
            tune_id=f"tune{i}",
            source="synthetic",
            title=f"Tune {i}",
            form=forms[i % 4],
            key=key,
            meter=f"{meter[0]}/{meter[1]}",
            tempo=100.0,
            tempo_estimated=False,
            programs=programs,
            voices=voices,
            bars=8 + (i % 3) * 4,
            captions=[
                f"a {forms[i % 4]} in {key}",
                f"{forms[i % 4]} for {voices} voices",
                "a tune",
            ],
            split=["train", "train", "train", "val"][i % 4] if i < 20 else split_for(f"tune{i}"),
        )
        atomic_write_json(folder / "records" / f"{rid}.json", asdict(rec))
    write_index(folder)
    return folder


def write_style_folder(folder: Path, n: int = 10, extras: bool = True) -> Path:
    """A user's folder of `n` MIDI files in one style (3/4, flute over a bass line); with
    `extras` also a copy of the first file under another name, a drum-only file, an
    unreadable file and an empty one (what a fine-tune must skip and count)."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        score = make_score((i * 7) % 12, (3, 4), 2, 8 + 4 * (i % 2), [73, 32], seed=100 + i)
        score.dump_midi(str(folder / f"tune{i:02d}.mid"))
    if extras:
        shutil.copy(folder / "tune00.mid", folder / "tune00 (copy).mid")
        drums = symusic.Score(480)
        kit = symusic.Track(program=0, is_drum=True, name="kit")
        for beat in range(16):
            kit.notes.append(symusic.Note(beat * 480, 240, 36 + 2 * (beat % 2), 100))
        drums.tracks.append(kit)
        drums.dump_midi(str(folder / "beat.mid"))
        (folder / "broken.mid").write_bytes(b"MThd this is not a MIDI file")
        (folder / "empty.mid").write_bytes(b"")
    return folder


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def tiny_tokens(tiny_corpus) -> Path:
    from tunesmith.data.dataset import build_token_dataset

    return build_token_dataset(tiny_corpus, "REMI", workers=1)


TINY_RUN = {
    "name": "tiny-test",
    "model": {"n_layer": 2, "n_head": 2, "d_model": 64, "block_size": 192, "n_prefix": 2},
    "optim": {"batch_size": 8, "lr": 0.003, "min_lr": 0.0003, "warmup_steps": 5, "max_steps": 30},
    "eval_every": 10,
    "eval_batches": 2,
    "log_every": 5,
    "samples": False,
}


@pytest.fixture(scope="session")
def tiny_run(tiny_corpus, tiny_tokens, tmp_path_factory) -> Path:
    """A tiny model trained for 30 steps on the synthetic corpus (TUNESMITH_TINY_RUN=DIR:
    one trained before, e.g. by benchmarks/error_catalog.py, which runs many sessions)."""
    from tunesmith.training.trainer import RunConfig, train

    if os.environ.get("TUNESMITH_TINY_RUN"):
        return Path(os.environ["TUNESMITH_TINY_RUN"])
    out = tmp_path_factory.mktemp("run")
    train(RunConfig.from_dict(dict(TINY_RUN)), out, data_dir=tiny_corpus)
    return out


V2_EXTENSIONS = ("harmony", "infill")


@pytest.fixture(scope="session")
def tiny_tokens_v2(tiny_corpus) -> Path:
    """The synthetic corpus in model v2's layout: a Harmony token per bar, infill markers."""
    from tunesmith.data.dataset import build_token_dataset

    return build_token_dataset(tiny_corpus, "REMI", workers=1, extensions=V2_EXTENSIONS)


@pytest.fixture(scope="session")
def tiny_run_v2(tiny_corpus, tiny_tokens_v2, tiny_run, tmp_path_factory) -> Path:
    """A tiny v2 model: the tiny v1 model fine-tuned 30 steps with the infill objectives
    (its vocabulary grown by the Harmony and Infill tokens), as configs/v2.yaml does."""
    from tunesmith.training.trainer import RunConfig, train

    out = tmp_path_factory.mktemp("run_v2")
    cfg = dict(TINY_RUN, name="tiny-v2", init_from=str(tiny_run / "model"))
    cfg["data"] = {"tokenization": "REMI", "extensions": list(V2_EXTENSIONS)}
    cfg["augment"] = {"p_infill_bars": 0.3, "p_infill_part": 0.3}
    train(RunConfig.from_dict(cfg), out, data_dir=tiny_corpus)
    return out


def pytest_sessionfinish(session, exitstatus):
    """With TUNESMITH_ERROR_LOG set, write the error lines the CLI tests met (error_log.py)."""
    from tests.error_log import flush

    flush()


def run_cli(*args, cwd=None, timeout: int = 300) -> subprocess.CompletedProcess:
    """`tunesmith ARGS...` in a fresh process, as a user runs it. A failure's error line is
    recorded for the catalog of error messages (docs/ERRORS.md, tests/error_log.py)."""
    res = subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )
    from tests.error_log import record

    record([str(a) for a in args], res.returncode, res.stderr)
    return res


def run_ok(*args, check_ok: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """`run_cli`, asserting success unless `check_ok` is False."""
    res = run_cli(*args, **kwargs)
    if check_ok:
        assert res.returncode == 0, res.stderr[-2000:]
    return res


def assert_one_line_error(res: subprocess.CompletedProcess, fragment: str) -> None:
    """A failed command that said one line on stderr, containing `fragment`, no traceback."""
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert fragment in lines[0]

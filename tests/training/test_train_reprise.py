"""Fitting the reprise gate on labelled sections: it learns that A brings the theme back."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import symusic
from tests.conftest import assert_one_line_error, run_cli

from tunesmith.api import Composer
from tunesmith.data.records import PieceRecord, write_index
from tunesmith.fileio import atomic_write_json
from tunesmith.training.reprise import LABELS, fit_gate, gate_losses

MATERIAL = {"A": [60, 62, 64, 65, 67, 65, 64, 62], "B": [72, 71, 69, 67, 69, 71, 72, 74]}


def _tune(form: str, shift: int, seed: int) -> symusic.Score:
    """4-bar phrases following `form`; every A phrase is the same, B phrases differ."""
    rng = np.random.default_rng(seed)
    s = symusic.Score(480)
    s.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    t = symusic.Track(program=40)
    bar = 0
    for letter in form:
        for k in range(4):
            for beat in range(4):
                if letter == "A":
                    p = MATERIAL["A"][(k * 2 + beat) % 8]
                else:
                    p = MATERIAL["B"][int(rng.integers(0, 8))] - int(rng.integers(0, 5))
                t.notes.append(symusic.Note((bar * 4 + beat) * 480, 480, p + shift, 80))
            bar += 1
    s.tracks.append(t)
    return s


@pytest.fixture(scope="module")
def form_corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forms")
    (folder / "midi").mkdir()
    forms = ["AABA", "ABAB", "AABB", "ABAA"]
    for i in range(16):
        rid = f"form{i:02d}"
        _tune(forms[i % 4], i % 5, seed=i).dump_midi(str(folder / "midi" / f"{rid}.mid"))
        rec = PieceRecord(
            id=rid, tune_id=rid, source="synthetic", title=rid, form="air", key="C major",
            meter="4/4", tempo=90.0, tempo_estimated=False, programs=[40], voices=1, bars=16,
            captions=["an air"], split="val" if i >= 12 else "train",
        )  # fmt: skip
        atomic_write_json(folder / "records" / f"{rid}.json", asdict(rec))
    write_index(folder)
    from tunesmith.data.dataset import build_token_dataset

    build_token_dataset(folder, "REMI", workers=1, embed_text=False)
    return folder


def test_the_gate_learns_that_a_copies_and_b_does_not(form_corpus, tiny_run, tmp_path):
    res = run_cli(
        "train-reprise", "--data", form_corpus, "--model", tiny_run, "--out", tmp_path / "m"
    )
    assert res.returncode == 0, res.stderr
    composer = Composer.load(tmp_path / "m")
    gate = composer.engine.gate
    assert gate is not None and gate.labels == list(LABELS)
    report = gate.fitted_on
    assert report["sections"]["train"] >= 12  # 3 later phrases per piece, all labelled
    for split in ("train", "val"):
        a, b = report[split]["A"], report[split]["B"]
        # A phrases repeat the theme: the gate takes most of their loss away under A, and
        # helps much less when told B.
        assert a["reference_hit_rate"] > 0.9 > b["reference_hit_rate"]
        assert a["loss_true_label"] < 0.5 * a["loss_model_alone"]
        assert a["loss_true_label"] < a["loss_other_label"]
        assert b["loss_true_label"] <= b["loss_other_label"]


def test_fit_on_hand_made_tokens():
    """Tokens where references always hit under A and never under B."""
    n = 400
    label = np.repeat([0, 1], n // 2)
    features = np.zeros((n, 11))
    features[:, 0] = 1.0
    data = {
        "label": label,
        "features": features,
        "lp_true": np.full(n, -2.0),
        "hit": label == 0,
        "has_ref": np.ones(n, dtype=bool),
    }
    gate = fit_gate(data)
    assert gate.probability("A", features[0]) > 0.95
    assert gate.probability("B", features[0]) < 0.05
    losses = gate_losses(gate, data)
    assert losses["A"]["loss_true_label"] < 0.1 < 1.5 < losses["A"]["loss_other_label"]
    assert losses["B"]["loss_true_label"] < 2.1 < 3.0 < losses["B"]["loss_other_label"]


def test_bad_input_is_one_line(form_corpus, tiny_run, tmp_path):
    res = run_cli("train-reprise", "--data", form_corpus, "--model", tiny_run, "--sections", 0)
    assert_one_line_error(res, "--sections")
    res = run_cli("train-reprise", "--data", tmp_path, "--model", tiny_run)
    assert_one_line_error(res, "not a prepared corpus")
    res = run_cli("train-reprise", "--data", form_corpus)  # would rewrite the package
    assert_one_line_error(res, "give --out")

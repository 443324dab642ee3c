"""Section labels from repeat structure, and their use in training crops."""

from __future__ import annotations

import numpy as np
import symusic

from tunesmith.data.sections import phrase_labels, section_of_bar
from tunesmith.tokens.tokenizer import MusicTokenizer


def tune(phrases: str, bars_per_phrase: int = 4) -> symusic.Score:
    """A melody whose phrases follow `phrases` (e.g. 'AABA'): equal letters, equal notes."""
    s = symusic.Score(480)
    t = symusic.Track(program=0)
    material = {"A": [60, 62, 64, 65], "B": [72, 71, 69, 67]}
    bar = 0
    for letter in phrases:
        for k in range(bars_per_phrase):
            for beat, p in enumerate(material[letter]):
                t.notes.append(symusic.Note((bar * 4 + beat) * 480, 480, p + (k % 2) * 2, 80))
            bar += 1
    s.tracks.append(t)
    return s


def labels_of(score):
    tok = MusicTokenizer("REMI")
    piece = tok.encode_music(score)
    return section_of_bar(tok, piece.ids, piece.bar_starts)


def test_repeat_structure_becomes_a_and_b():
    assert labels_of(tune("AABA")) == {0: "A", 4: "A", 8: "B", 12: "A"}
    assert labels_of(tune("AABB")) == {0: "A", 4: "A", 8: "B", 12: "B"}
    # 24 bars or more: 8-bar phrases
    assert labels_of(tune("ABA", 8)) == {0: "A", 8: "B", 16: "A"}


def test_no_structure_no_labels():
    assert labels_of(tune("AA")) == {}  # too short to show a form
    assert labels_of(tune("AAAA")) == {}  # no contrast
    assert phrase_labels([{(0, 0, 60)}, {(0, 0, 61)}] * 6) is None  # nothing returns


def _sampler(tiny_tokens, **augment):
    from tunesmith.data.batches import AugmentConfig, BatchSampler
    from tunesmith.data.dataset import load_token_dataset

    ds = load_token_dataset(tiny_tokens)
    aug = AugmentConfig(p_drop_control=0, p_drop_all=0, transpose=False, **augment)
    sampler = BatchSampler(ds, "train", 192, aug)
    piece = int(next(i for i in sampler.indexes if len(ds.piece_bars(int(i))) >= 12))
    return ds, sampler, piece


def _section(tok, seq, n_prefix):
    return next(t for t in tok.tokens(seq[:n_prefix]) if t.startswith("Section_"))


def test_training_crops_hear_the_theme_then_a_labelled_section(tiny_tokens):
    ds, sampler, piece = _sampler(tiny_tokens, p_form_section=1.0)
    tok = ds.tokenizer
    sampler._sections[piece] = {0: "A", 4: "B", 8: "A"}  # as section_of_bar labels ABA
    ids, bars = ds.piece_ids(piece), ds.piece_bars(piece)
    theme = ids[bars[0] : bars[4]].tolist()
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):
        seq, n_prefix, _, _ = sampler.example(piece, rng, train=True)
        section = _section(tok, seq, n_prefix)
        seen.add(section)
        # the opening phrase (its last bars within half the block), then the section named
        heard = seq[n_prefix:]
        cut = next(i for i in range(len(theme)) if len(theme) - i <= 96 and theme[i] == tok.bar_id)
        assert heard[: len(theme) - cut] == theme[cut:]
        start = int(bars[4 if section == "Section_B" else 8])
        after = heard[len(theme) - cut :]
        assert after[:8] == ids[start : start + 8].tolist()
    assert seen == {"Section_A", "Section_B"}


def test_repeat_crops_play_the_opening_phrase_twice(tiny_tokens):
    ds, sampler, _ = _sampler(tiny_tokens, p_form_section=0.0, p_repeat_phrase=1.0)
    tok = ds.tokenizer
    piece = next(
        int(i)
        for i in sampler.indexes
        if 8 <= len(b := ds.piece_bars(int(i))) < 24 and b[4] - b[0] <= 96
    )
    ids, bars = ds.piece_ids(piece), ds.piece_bars(piece)
    seq, n_prefix, _, _ = sampler.example(piece, np.random.default_rng(0), train=True)
    assert _section(tok, seq, n_prefix) == "Section_A"
    theme = ids[bars[0] : bars[4]].tolist()  # pieces under 24 bars: 4-bar phrases
    assert seq[n_prefix : n_prefix + 2 * len(theme)] == theme + theme
    # the Bars control counts the repeated phrase too
    assert f"Bars_{len(bars) + 4}" in tok.tokens(seq[:n_prefix])

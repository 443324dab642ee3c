"""Model v2's training examples: bar infill and part infill crops, with the markers given."""

from __future__ import annotations

import numpy as np
import pytest

from tunesmith.conditioning.controls import Controls
from tunesmith.data.batches import IGNORE, AugmentConfig, BatchSampler
from tunesmith.data.dataset import load_token_dataset
from tunesmith.tokens.layouts import part_notes


@pytest.fixture(scope="module")
def sampler(tiny_tokens_v2):
    ds = load_token_dataset(tiny_tokens_v2)
    aug = AugmentConfig(transpose=False, p_drop_control=0.0, p_drop_text=0.0)
    return BatchSampler(ds, "train", 256, aug, seed=0)


def _bars(tok, ids):
    out = []
    for t in ids:
        if t == tok.bar_id:
            out.append([])
        out[-1].append(t)
    return out


def test_a_bar_infill_example_is_before_after_then_the_hole(sampler):
    tok = sampler.tok
    rng = np.random.default_rng(3)
    poly = [i for i in sampler.indexes if len(sampler.ds.piece_bars(i)) >= 8]
    for piece in poly[:6]:
        seq, n_prefix, _, _ = sampler.infill_example(int(piece), "bars", rng, sampler.augment)
        names = tok.tokens(seq)
        b, a, m = (names.index(x) for x in ("Infill_before", "Infill_after", "Infill_begin"))
        assert n_prefix == b and b < a < m and names[-1] == "EOS_None"
        original = _bars(tok, sampler.ds.piece_ids(int(piece)).tolist())
        before, after, middle = seq[b + 1 : a], seq[a + 1 : m], seq[m + 1 : -1]
        hole = _bars(tok, middle)
        assert 1 <= len(hole) <= 4
        assert names[n_prefix - 1] == "Controls_end"
        bars_token = [
            n for n in tok.tokens(tok.prefix_ids(Controls(bars=len(hole)))) if n.startswith("Bars_")
        ]
        assert bars_token[0] in names[:n_prefix]  # the bars to write (binned)
        # the hole is real consecutive bars, with the bars just before and after it
        starts = [i for i in range(len(original)) if original[i : i + len(hole)] == hole]
        assert starts
        i = starts[0]
        flat = lambda bars: [t for bar in bars for t in bar]  # noqa: E731
        assert before == flat(original[i - len(_bars(tok, before)) : i]) if before else True
        assert after == flat(original[i + len(hole) : i + len(hole) + len(_bars(tok, after))])
        assert len(seq) <= sampler.block_size + 1


def test_a_part_infill_example_gives_the_parts_then_the_texture(sampler):
    tok = sampler.tok
    rng = np.random.default_rng(5)
    made = 0
    for piece in sampler._poly[:8]:
        ex = sampler.infill_example(int(piece), "part", rng, sampler.augment)
        assert ex is not None
        seq, n_prefix, _, _ = ex
        names = tok.tokens(seq)
        p, m = names.index("Infill_part"), names.index("Infill_begin")
        assert p == n_prefix
        given, texture = seq[p + 1 : m], [t for t in seq[m + 1 :] if t != tok.eos_id]
        slots = {int(n.split("_")[1]) for n in tok.tokens(given) if n.startswith("Program_")}
        assert slots and slots < {
            int(n.split("_")[1]) for n in tok.tokens(texture) if n.startswith("Program_")
        }
        # the given notes are the texture's notes of those voices, over the same bars
        n_texture_bars = texture.count(tok.bar_id)
        given_bars = _bars(tok, given)[:n_texture_bars]
        assert [t for bar in given_bars for t in bar] == part_notes(tok, texture, slots)[
            : sum(len(b) for b in given_bars)
        ]
        made += 1
    assert made


def test_markers_carry_no_loss(sampler):
    tok = sampler.tok
    rng = np.random.default_rng(1)
    examples = [sampler.infill_example(int(p), "bars", rng, None) for p in sampler._poly[:4]]
    batch = sampler._collate([e for e in examples if e is not None])
    markers = set(tok.ids_with_prefix("Infill_"))
    assert not set(batch["targets"].flatten().tolist()) & markers
    assert (batch["targets"] != IGNORE).sum() > 0


def test_training_batches_mix_the_three_objectives(tiny_tokens_v2):
    ds = load_token_dataset(tiny_tokens_v2)
    aug = AugmentConfig(p_infill_bars=0.3, p_infill_part=0.3)
    s = BatchSampler(ds, "train", 256, aug, seed=0)
    seen = {"plain": 0, "bars": 0, "part": 0}
    before, part = ds.tokenizer.token_id("Infill_before"), ds.tokenizer.token_id("Infill_part")
    for _ in range(6):
        idx = s.sample(8)["idx"]
        for row in idx.tolist():
            kind = "bars" if before in row else "part" if part in row else "plain"
            seen[kind] += 1
    assert all(v > 0 for v in seen.values()), seen

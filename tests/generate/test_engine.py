"""Grammar-constrained generation: never an invalid token, requested attributes enforced."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunesmith.conditioning.controls import Controls
from tunesmith.errors import BadInputError
from tunesmith.generate.engine import Engine
from tunesmith.generate.grammar import Grammar
from tunesmith.generate.sampling import (
    PRESETS,
    SamplingConfig,
    sample_row,
    sample_top_k_top_p,
)
from tunesmith.model.transformer import MusicTransformer
from tunesmith.render.piece import Piece
from tunesmith.tokens.tokenizer import TOKENIZATIONS, MusicTokenizer

GRAMMARS = {name: Grammar(MusicTokenizer(name)) for name in TOKENIZATIONS}


def _walk(name: str, controls: Controls, rng: np.random.Generator, max_steps: int = 4000):
    """Sample from random logits under the grammar; returns the token ids."""
    g = GRAMMARS[name]
    state = g.new_state(controls.meter, controls.instruments, controls.bars, controls.bars or 8)
    ids = []
    for step in range(max_steps):
        if max_steps - step <= 8:
            state.force_end = True
        allowed = state.allowed()
        logits = rng.normal(size=g.V) * 3
        logits[~allowed] = float("-inf")
        tid = int(np.argmax(logits))
        assert allowed[tid]
        state.update(tid)
        ids.append(tid)
        if state.done:
            break
    return g.tok, ids


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(TOKENIZATIONS),
    seed=st.integers(0, 2**31),
    bars=st.integers(1, 6),
    meter=st.sampled_from(["4/4", "3/4", "6/8", "2/2"]),
    voices=st.integers(1, 4),
)
def test_random_logits_never_produce_invalid_sequences(name, seed, bars, meter, voices):
    controls = Controls(meter=meter, bars=bars, instruments=[40] * voices)
    tok, ids = _walk(name, controls, np.random.default_rng(seed))
    assert ids[-1] == tok.eos_id, "generation ends with EOS"
    music = ids[:-1]
    assert tok.miditok.tokens_errors(music) == 0
    score = tok.decode(tok.prefix_ids(controls) + ids)
    assert sum(len(t.notes) for t in score.tracks) > 0, "never an empty piece"
    assert len(score.tracks) <= voices
    assert {f"{t.numerator}/{t.denominator}" for t in score.time_signatures} == {meter}
    if tok.bar_id is not None:
        assert music.count(tok.bar_id) == bars


def test_sampling_validation_and_presets():
    assert set(PRESETS) == {"default", "balanced", "creative", "conservative"}
    assert SamplingConfig.from_preset("conservative").temperature == 0.8
    # No preset means the "default" preset's values.
    default = SamplingConfig.from_preset("default")
    plain = SamplingConfig()
    assert (plain.temperature, plain.top_k, plain.top_p, plain.repetition_penalty) == (
        default.temperature, default.top_k, default.top_p, default.repetition_penalty
    )  # fmt: skip
    for bad in ({"temperature": 0}, {"top_p": 0}, {"top_p": 1.5}, {"top_k": -1}):
        with pytest.raises(BadInputError):
            SamplingConfig(**bad).validated()
    with pytest.raises(BadInputError, match="unknown preset"):
        SamplingConfig.from_preset("wild")


def test_top_k_top_p_sampling_draws_only_from_the_kept_set():
    logits = np.tile(np.array([[4.0, 3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 3.0, 3.5]]), (200, 1))
    g = np.random.default_rng(0)
    ids = sample_top_k_top_p(logits, 2, 1.0, g).reshape(200, 2)
    assert set(ids[:, 0].tolist()) == {0, 1} and set(ids[:, 1].tolist()) == {3, 4}
    # The top token alone holds > 50 % of the mass of the first row.
    ids = sample_top_k_top_p(logits[:2], 0, 0.5, g)
    assert ids[0] == 0
    masked = np.array([[float("-inf"), 0.0, float("-inf"), float("-inf"), float("-inf")]])
    assert sample_top_k_top_p(masked, 3, 0.9, g).tolist() == [1]


def test_top_k_top_p_sampling_follows_the_renormalised_distribution():
    # top-k 3 of [2, 1, 0, -1, ...]: probabilities softmax([2, 1, 0]) = .665 / .245 / .090
    logits = np.tile(np.array([[2.0, 1.0, 0.0, -1.0, -2.0]]), (20000, 1))
    ids = sample_top_k_top_p(logits, 3, 1.0, np.random.default_rng(1))
    freq = np.bincount(ids, minlength=5) / len(ids)
    expected = np.exp([2.0, 1.0, 0.0]) / np.exp([2.0, 1.0, 0.0]).sum()
    assert np.allclose(freq[:3], expected, atol=0.015)
    assert freq[3:].sum() == 0


def test_the_numpy_row_sampler_matches_the_batched_one():
    rng = np.random.default_rng(3)
    logits = np.array([2.0, 1.0, 0.5, 0.0, -1.0, 3.0], dtype=np.float32)
    allowed = np.array([True, True, True, True, True, False])
    counts = np.zeros(6)
    for _ in range(20000):
        tok, _ = sample_row(logits, logits, allowed, 3, 1.0, 1.0, rng.random())
        counts[tok] += 1
    expected = np.exp([2.0, 1.0, 0.5]) / np.exp([2.0, 1.0, 0.5]).sum()
    assert np.allclose(counts[:3] / counts.sum(), expected, atol=0.015)
    assert counts[3:].sum() == 0  # outside the top 3, or not allowed (the best logit)
    # top-p 0.5: the best allowed token alone holds more than half of the mass
    assert {sample_row(logits, logits, allowed, 0, 0.5, 1.0, u)[0] for u in (0, 0.5, 0.99)} == {0}
    # the log-probability is the unguided model's, over the allowed tokens only
    base = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 9.0], dtype=np.float32)
    tok, lp = sample_row(logits, base, allowed, 1, 1.0, 1.0, 0.3)
    ref = (base[:5] - np.log(np.exp(base[:5]).sum()))[tok]
    assert tok == 0 and abs(lp - float(ref)) < 1e-5


@pytest.fixture(scope="module")
def engine(tiny_run):
    model = MusicTransformer.load(tiny_run / "model")
    return Engine(model, MusicTokenizer.load(tiny_run / "model"))


def test_engine_respects_length_meter_and_instruments(engine):
    controls = Controls(key="D major", meter="3/4", tempo=96, bars=4, instruments=[40, 42])
    results = engine.generate(
        controls, "a waltz for violin and cello", 3, SamplingConfig(seed=3, cfg_scale=2.0)
    )
    assert len(results) == 3
    for r in results:
        piece = Piece.from_tokens(engine.tok, r.ids, controls)
        assert r.ids[-1] == engine.tok.eos_id
        assert engine.tok.tokens(r.ids).count("Bar_None") == 4
        assert {t.program for t in piece.score.tracks} <= {40, 42}
        assert piece.num_notes > 0


def test_engine_is_reproducible_with_a_seed(engine):
    c = Controls(bars=2)
    a = engine.generate(c, "", 1, SamplingConfig(seed=7))[0].ids
    b = engine.generate(c, "", 1, SamplingConfig(seed=7))[0].ids
    assert a == b


def test_long_piece_slides_the_window(engine):
    """More bars than the block holds: the context shifts and the length still holds."""
    c = Controls(meter="4/4", bars=40, instruments=[0, 0, 0])
    r = engine.generate(c, "", 1, SamplingConfig(seed=1))[0]
    assert len(r.ids) > engine.cfg.block_size
    assert engine.tok.tokens(r.ids).count("Bar_None") == 40


def test_continuation_keeps_prompt_tokens(engine):
    c = Controls(meter="4/4", bars=6, instruments=[0])
    first = engine.generate(
        Controls(meter="4/4", bars=2, instruments=[0]), "", 1, SamplingConfig(seed=2)
    )[0]
    music = first.ids[first.music_start : -1]
    cont = engine.generate(c, "", 1, SamplingConfig(seed=5), prompt_music=music)[0]
    start = len(engine.tok.prefix_ids(c))
    assert cont.ids[start : start + len(music)] == music
    assert engine.tok.tokens(cont.ids).count("Bar_None") == 6


@pytest.mark.parametrize("cfg_scale", [1.0, 2.0])
def test_speculative_drafts_do_not_change_the_output(engine, cfg_scale):
    """Drafts are verified by sampling each position as usual, so with one seed the piece
    is the same with or without them (this also checks the cache rollback on rejection)."""
    c = Controls(meter="4/4", bars=12, instruments=[0])
    for seed in (0, 1, 2):
        s = SamplingConfig(seed=seed, cfg_scale=cfg_scale)
        on = engine.generate(c, "a jig", 1, s)[0]
        off = engine.generate(c, "a jig", 1, s.with_(speculative=False))[0]
        assert on.ids == off.ids
        assert on.logprob == pytest.approx(off.logprob, abs=1e-3)


def test_every_requested_voice_plays(engine):
    """Even a voice the model never saw (drums) is heard before the piece may end."""
    c = Controls(meter="4/4", bars=3, instruments=[40, 42, 73, -1])
    for seed in (0, 1, 2):
        r = engine.generate(c, "a quartet", 1, SamplingConfig(seed=seed))[0]
        piece = Piece.from_tokens(engine.tok, r.ids, c)
        playing = {-1 if t.is_drum else t.program for t in piece.score.tracks if t.note_num()}
        assert playing == {40, 42, 73, -1}
        assert engine.tok.tokens(r.ids).count("Bar_None") == 3


def test_a_session_keeps_and_forks_rows_with_their_cache(tiny_run):
    """select_rows: a forked row carries its cache, grammar state and guides along."""

    from tunesmith import Composer
    from tunesmith.generate.sampling import SamplingConfig

    c = Composer.load(tiny_run)
    controls = c.controls_for("a chorale in G major", bars=4, instruments="choir,choir")
    session = c.engine.session(controls, 3, SamplingConfig(seed=4, cfg_scale=1.5), "a chorale")
    for _ in range(12):
        session.advance()
    assert session.logits is not None
    before = session.logits.copy()  # rows 0-2 with the text, 3-5 without (guidance)
    rows = [list(r) for r in session.rows]
    session.select_rows([2, 2])
    assert session.n == 2 and session.rows == [rows[2], rows[2]]
    assert np.array_equal(session.logits, before[[2, 2, 5, 5]])
    assert session.guide is not None and session.guide.hist.shape[0] == 2
    while not session.finished:
        session.advance()
    for row, state in zip(session.rows, session.states, strict=True):
        assert row[: len(rows[2])] == rows[2] and state.done
        assert sum(1 for t in row if t == c.tokenizer.bar_id) == 4


def _biased_walk(g: Grammar, state, bias: np.ndarray, max_steps: int = 3000) -> list[int]:
    """Greedy decoding under the grammar from fixed logits (`bias`) plus a little noise."""
    rng = np.random.default_rng(0)
    ids = []
    for step in range(max_steps):
        if max_steps - step <= 8:
            state.force_end = True
        allowed = state.allowed()
        logits = bias + rng.normal(size=g.V) * 0.1
        logits[~allowed] = float("-inf")
        tid = int(np.argmax(logits))
        state.update(tid)
        ids.append(tid)
        if state.done:
            break
    return ids


def _onsets_per_position(g: Grammar, ids: list[int]) -> list[list[tuple[int, int]]]:
    """The (slot, pitch) pairs begun at each position of a REMI sequence."""
    groups: list[list[tuple[int, int]]] = [[]]
    slot = None
    for t in ids:
        kind = g.type_of[t]
        if kind in ("Position", "Bar"):
            groups.append([])
        elif kind == "Program":
            slot = int(g.value_of[t])
        elif kind == "Pitch":
            groups[-1].append((slot, g.pitch_of[t]))
    return [grp for grp in groups if grp]


@pytest.mark.parametrize(("program", "most"), [(73, 1), (42, 4), (0, 10)])
def test_a_voice_never_piles_notes_onto_one_onset(program, most):
    """A model that keeps choosing another note at the same moment (the loop that once ran
    a part infill out of tokens) gets no further than the instrument allows."""
    g = GRAMMARS["REMI"]
    bias = np.zeros(g.V)
    bias[g.masks["Program"]] = 8.0  # always another voice entry rather than moving on
    bias[g.timesig_id["4/4"]] = 1.0
    bias[[i for i, p in g.pitch_of.items() if g.type_of[i] == "Pitch" and p == 67]] = 6.0
    state = g.new_state("4/4", [program], 2, 2)
    ids = _biased_walk(g, state, bias)
    assert ids[-1] == g.eos_id and state.bar == 2  # the piece still reaches its end
    groups = _onsets_per_position(g, ids)
    assert groups and max(len(grp) for grp in groups) == most
    assert all(len(set(grp)) == len(grp) for grp in groups), "the same note twice at once"


def test_an_unrequested_meter_is_one_a_request_can_name():
    g = GRAMMARS["REMI"]
    assert "1/4" in g.timesig_id  # in the vocabulary (a few Essen songs are in 1/4)
    bias = np.zeros(g.V)
    bias[g.timesig_id["1/4"]] = 50.0
    ids = _biased_walk(g, g.new_state(None, [73], 2, 2), bias)
    meters = [g.value_of[t] for t in ids if g.type_of[t] == "TimeSig"]
    assert meters and "1/4" not in meters


def test_a_kept_piece_gives_each_bar_its_own_meter():
    g = GRAMMARS["REMI"]
    state = g.new_state("4/4", [73], 4, 4)
    state.bar_meters = ("4/4", "3/4", "1/4")  # past the end: the last one
    ids = _biased_walk(g, state, np.zeros(g.V))
    assert [g.value_of[t] for t in ids if g.type_of[t] == "TimeSig"] == ["4/4", "3/4", "1/4", "1/4"]
    assert g.bar_meters(ids) == ["4/4", "3/4", "1/4", "1/4"]

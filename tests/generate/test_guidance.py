"""Classifier-free guidance switched on and off in a running decoding session (the live
stream's economy mode turns it off to halve the batch): the cache is rebuilt with or
without the unguided rows, and decoding goes on."""

from __future__ import annotations

import pytest

from tunesmith.api import Composer

PROMPT = "a reel for fiddle in D major"


@pytest.fixture(scope="module")
def composer(tiny_run):
    return Composer.load(tiny_run)


def _session(composer, cfg_scale):
    sampling = composer.sampling_for(seed=1).with_(cfg_scale=cfg_scale, speculative=False)
    return composer.engine.session(composer.controls_for(PROMPT, bars=4), 1, sampling, text=PROMPT)


def test_guidance_turns_off_and_on_and_the_batch_follows(composer):
    s = _session(composer, 2.0)
    assert s.can_guide and s.use_cfg
    s.advance()
    assert s.logits.shape[0] == 2  # the row with the text and the row without it
    assert s.set_guidance(False) is False and s.logits is None  # rebuilt before the next token
    s.advance()
    assert s.logits.shape[0] == 1
    assert s.set_guidance(True) is True
    s.advance()
    assert s.logits.shape[0] == 2
    n = sum(s.n_sampled)
    assert s.set_guidance(True) is True and s.logits is not None  # no change: no rebuild
    s.advance()
    assert sum(s.n_sampled) > n


def test_guidance_stays_off_where_it_does_not_apply(composer):
    s = _session(composer, 1.0)
    assert not s.can_guide
    assert s.set_guidance(True) is False
    s.advance()
    assert s.logits.shape[0] == 1

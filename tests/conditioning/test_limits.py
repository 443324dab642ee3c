"""The one table of limits: every surface reads its bounds and word lists from it."""

from __future__ import annotations

import re

import pytest

from tunesmith.conditioning import controls, limits, prompt
from tunesmith.conditioning.limits import (
    BARS,
    CANDIDATES,
    CFG,
    KEY_GUIDANCE,
    REPETITION_PENALTY,
    SECONDS,
    SEED,
    TEMPERATURE,
    TEMPO,
    TOP_K,
    TOP_P,
    Bound,
)
from tunesmith.errors import BadInputError


def test_a_bound_checks_and_says_what_is_wrong_in_plain_words():
    b = Bound("bars", 1, 256, integer=True)
    assert 1 in b and 256 in b and 0 not in b and 257 not in b and 2.5 not in b
    assert float("nan") not in b and "x" not in b
    with pytest.raises(BadInputError, match="^bars must be between 1 and 256$") as info:
        b.check(0, field="bars")
    assert info.value.field == "bars"
    t = Bound("temperature", 0, 2, low_open=True)
    assert 0 not in t and 2 in t
    assert t.message() == "temperature must be greater than 0 and at most 2"
    assert t.pydantic() == {"gt": 0, "le": 2} and b.pydantic() == {"ge": 1, "le": 256}


def test_the_vocabulary_agrees_with_the_table():
    assert controls.MAX_BARS == BARS.high == controls.BAR_BINS[-1]
    assert (controls.MIN_TEMPO, controls.MAX_TEMPO) == (TEMPO.low, TEMPO.high)
    assert controls.MAX_VOICES == limits.VOICES.high
    assert prompt.MAX_SECONDS == SECONDS.high and prompt.MAX_PROMPT_CHARS == limits.PROMPT_CHARS


def test_the_word_lists_are_shared_and_valid():
    # the parser uses the table's lists themselves, not copies
    assert prompt.TEMPO_WORDS is limits.TEMPO_WORDS and prompt.REGIONS is limits.REGIONS
    assert prompt.STYLE_SYNONYMS is limits.STYLE_SYNONYMS
    assert prompt.IMPLIED_METERS is limits.IMPLIED_METERS
    assert all(bpm in TEMPO for bpm in limits.TEMPO_WORDS.values())
    assert set(limits.STYLE_SYNONYMS.values()) <= set(controls.STYLES)
    assert set(limits.STREAM_STYLES) <= set(controls.STYLES)
    assert set(limits.IMPLIED_METERS.values()) | set(limits.METER_PHRASES.values()) <= set(
        controls.METERS
    )


def test_sampling_settings_are_checked_against_the_table():
    from tunesmith.generate.sampling import PRESETS, SamplingConfig

    for values in PRESETS.values():
        SamplingConfig(**values).validated()
    for bound, name in (
        (TEMPERATURE, "temperature"),
        (TOP_K, "top_k"),
        (TOP_P, "top_p"),
        (REPETITION_PENALTY, "repetition_penalty"),
        (CFG, "cfg_scale"),
        (KEY_GUIDANCE, "key_guidance"),
    ):
        SamplingConfig(**{name: bound.high}).validated()
        with pytest.raises(BadInputError, match=re.escape(bound.what)) as info:
            SamplingConfig(**{name: bound.high + 1}).validated()
        assert "--" not in str(info.value)
    with pytest.raises(BadInputError, match="seed"):
        SamplingConfig(seed=SEED.high + 1).validated()


def test_the_stream_uses_the_same_tempo_and_temperature_bounds():
    from tunesmith.stream.session import StreamSettings

    assert StreamSettings(tempo=TEMPO.low).validated().tempo == TEMPO.low
    assert StreamSettings(tempo=TEMPO.high).validated().tempo == TEMPO.high
    with pytest.raises(BadInputError, match="tempo"):
        StreamSettings(tempo=TEMPO.high + 1).validated()


def test_the_server_schemas_use_the_same_bounds():
    from tunesmith.serve.limits import ServeSettings
    from tunesmith.serve.schemas import Attributes, Sampling
    from tunesmith.serve.streams import StreamControl

    def le(model, field):
        return next(m.le for m in model.model_fields[field].metadata if hasattr(m, "le"))

    assert le(Sampling, "temperature") == TEMPERATURE.high == le(StreamControl, "temperature")
    assert le(Sampling, "candidates") == CANDIDATES.high
    assert le(Attributes, "bars") == BARS.high and le(StreamControl, "tempo") == TEMPO.high
    s = ServeSettings()
    assert s.max_bars in BARS and s.max_candidates in CANDIDATES and s.max_seconds in SECONDS
    with pytest.raises(BadInputError, match="max_candidates"):
        ServeSettings(max_candidates=int(CANDIDATES.high) + 1).validated()


def test_one_candidates_bound():
    from tunesmith import api
    from tunesmith.generate import longform

    assert api.MAX_CANDIDATES == longform.MAX_CANDIDATES == CANDIDATES.high

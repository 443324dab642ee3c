"""A model's own style words (a fine-tuned style): read first by the parser, accepted as the
style attribute, and checked when a fine-tune names one."""

from __future__ import annotations

import pytest

from tunesmith.conditioning.prompt import (
    apply_overrides,
    check_style_word,
    parse_prompt,
    parse_style,
)
from tunesmith.errors import BadInputError

STYLES = {"game tune": "world", "lo-fi": "hip hop"}


def test_the_models_word_selects_its_style_and_leaves_the_rest():
    parsed = parse_prompt("a fast game tune for flute in D major", STYLES)
    assert parsed.controls.style == "world"
    assert parsed.found["style"] == "game tune"
    assert parsed.controls.key == "D major"
    assert parsed.controls.instruments == [73]
    assert parsed.controls.tempo is not None
    assert parse_prompt("two game-tunes", STYLES).controls.style == "world"  # plural, hyphen
    assert parse_prompt("a game tune").controls.style is None  # not without the model


def test_the_style_attribute_takes_the_models_words():
    assert parse_style("Game Tune", STYLES) == "world"
    assert parse_style("reel", STYLES) == "reel"
    c = apply_overrides(parse_prompt("a reel", STYLES).controls, style="game tune", styles=STYLES)
    assert c.style == "world"
    with pytest.raises(BadInputError, match="this model's own styles: game tune, lo-fi"):
        parse_style("polkadot", STYLES)


@pytest.mark.parametrize(
    "word, expected",
    [
        ("game tune", ("game tune", None)),
        ("Jazz", ("jazz", "jazz")),
        ("lo-fi", ("lo-fi", "hip hop")),
    ],
)
def test_a_new_style_word_is_checked(word, expected):
    assert check_style_word(word) == expected


@pytest.mark.parametrize(
    "word, fragment",
    [
        ("slow", "read as tempo"),
        ("piano", "read as instruments"),
        ("16 bars", "cannot be a prompt word"),
        ("x", "cannot be a prompt word"),
    ],
)
def test_a_word_the_parser_reads_otherwise_is_refused(word, fragment):
    with pytest.raises(BadInputError, match=fragment) as info:
        check_style_word(word)
    assert info.value.field == "style_name"

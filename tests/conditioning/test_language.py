"""Prompts in another language are named, never silently misread (conditioning/language.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tunesmith.conditioning.language import detect_language
from tunesmith.conditioning.prompt import parse_prompt

PROMPTS = Path(__file__).resolve().parents[2] / "prompts" / "eval.jsonl"

# The same requests in six languages the parser does not read.
FOREIGN = {
    "French": [
        "une valse lente en ré majeur pour violon et violoncelle, 16 mesures",
        "une chanson joyeuse pour flûte et piano",
        "un choral à quatre voix en sol majeur",
    ],
    "German": [
        "ein langsamer Walzer in D-Dur für Geige und Cello, 16 Takte",
        "ein fröhliches Lied für Flöte und Klavier",
        "ein vierstimmiger Choral in G-Dur für Orgel",
    ],
    "Spanish": [
        "un vals lento en re mayor para violín y violonchelo, 16 compases",
        "una canción alegre para flauta y guitarra",
    ],
    "Italian": [
        "un valzer lento in re maggiore per violino e violoncello, 16 battute",
        "una canzone allegra per flauto e pianoforte",
    ],
    "Portuguese": [
        "uma valsa lenta em ré maior para violino e violoncelo, 16 compassos",
        "uma canção alegre para flauta e violão",
    ],
    "Dutch": [
        "een langzame wals in D majeur voor viool en cello, 16 maten",
        "een vrolijk lied voor fluit en piano",
    ],
}


def test_every_english_prompt_of_the_public_set_reads_as_english():
    prompts = [json.loads(line)["prompt"] for line in PROMPTS.read_text().splitlines() if line]
    assert len(prompts) >= 80
    assert [p for p in prompts if detect_language(p)] == []


@pytest.mark.parametrize("language", sorted(FOREIGN))
def test_prompts_in_other_languages_are_named(language):
    for prompt in FOREIGN[language]:
        assert detect_language(prompt) == language, prompt


def test_too_little_to_tell_is_english():
    for text in ("", "valse", "allegro piano", "a valse for piano", "Für Elise in A minor"):
        assert detect_language(text) is None, text


def test_the_parser_warns_once_and_explain_says_so(caplog):
    text = "une chanson triste pour violon, 8 mesures"
    with caplog.at_level(logging.WARNING):
        first, _again = parse_prompt(text), parse_prompt(text)
    assert first.language == "French" and "looks French" in (first.language_notice or "")
    assert sum("looks French" in r.message for r in caplog.records) == 1
    assert parse_prompt("a sad song for violin, 8 bars").language is None


def test_explain_names_the_language(tmp_path):
    from tests.conftest import run_ok

    res = run_ok("explain", "ein fröhliches Lied für Flöte und Klavier, 8 Takte", cwd=tmp_path)
    assert "looks German" in res.stdout

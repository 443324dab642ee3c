"""Which language a prompt is in, when it is not English.

The prompt parser (prompt.py) reads English words only: a French or German prompt loses
its key, instrument and length words and silently becomes a default piece. This module
does not translate; it notices. Each language is recognised by its own frequent function
words (articles, prepositions, conjunctions) and a few music words, which English prompts
do not use; a prompt is named as another language when at least two distinct words of
that language occur and they outnumber the English function words. Measured in
tests/conditioning/test_language.py: every English prompt of prompts/eval.jsonl reads as
English, and short musical prompts in six languages are named.
"""

from __future__ import annotations

import re

_WORDS: dict[str, frozenset[str]] = {
    "French": frozenset(
        "le la les un une des du de et pour avec dans sur en au aux est une lent lente "
        "rapide joyeux joyeuse triste mesures chanson valse violon violoncelle flûte "
        "majeur mineur piano pour".split()
    ),
    "German": frozenset(
        "der die das ein eine einen und für mit im in auf von zu ist langsam langsamer "
        "schnell fröhlich traurig takte takten lied walzer geige cello flöte dur moll "
        "stück".split()
    ),
    "Spanish": frozenset(
        "el la los las un una unos y para con en de del por es lento lenta rápido "
        "alegre triste compases canción vals violín violonchelo flauta mayor menor "
        "guitarra".split()
    ),
    "Italian": frozenset(
        "il lo la gli le un una uno e per con in di del della è lento lenta veloce "
        "allegro triste battute canzone valzer violino violoncello flauto maggiore "
        "minore".split()
    ),
    "Portuguese": frozenset(
        "o a os as um uma e para com em de do da no na é lento lenta rápido alegre "
        "triste compassos canção valsa violino violoncelo flauta maior menor".split()
    ),
    "Dutch": frozenset(
        "de het een en voor met in op van naar is langzaam snel vrolijk droevig maten "
        "lied wals viool cello fluit majeur mineur stuk".split()
    ),
}
# English function words: a prompt full of these is English whatever else it holds.
_ENGLISH = frozenset(
    "the a an and for with in on of to is by from at as piece song tune slow fast "
    "bars major minor".split()
)
# Words English music prompts share with the others (piano, cello, allegro, major...): they
# say nothing about the language.
_SHARED = frozenset("piano cello allegro lento triste majeur mineur".split())
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


def detect_language(text: str) -> str | None:
    """The language a prompt is written in when it is recognisably not English; None for
    English, for too few words to tell, and for anything unrecognised."""
    words = [w.lower() for w in _TOKEN.findall(text)]
    english = sum(1 for w in words if w in _ENGLISH)
    best, best_count = None, 0
    for language, vocabulary in _WORDS.items():
        hits = {w for w in words if w in vocabulary and w not in _SHARED and w not in _ENGLISH}
        if len(hits) > best_count:
            best, best_count = language, len(hits)
    if best is None or best_count < 2 or best_count <= english:
        return None
    return best

"""Chord progressions as a user writes them: symbols or Roman numerals, bars by '|'.

    "Am F C G"            one chord per bar
    "Am F | C G7"         bars separated by '|': two chords in each, splitting the bar
    "i VI III VII"        Roman numerals, read in the key (needed for numerals)
    "I-IV-V-I", "C, G, Am, F"   dashes, en dashes and commas separate like spaces

A progression shorter than the piece repeats (`chords_for_bars`).
"""

from __future__ import annotations

import re

from ..errors import BadInputError
from ..music.chords import Chord, parse_symbol
from ..music.keys import key_name, key_pitch_class

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)  # natural minor; V and vii° are raised below
NUMERALS = ("i", "ii", "iii", "iv", "v", "vi", "vii")
MAX_PROGRESSION_BARS = 256

_ROMAN = re.compile(
    r"^(b|#|♭|♯)?(vii|iii|ii|iv|vi|v|i)(°|o|ø|\+)?(maj7|M7|7)?(?:/(vii|iii|ii|iv|vi|v|i))?$",
    re.IGNORECASE,
)


def parse_numeral(text: str, key: str) -> Chord:
    """A Roman numeral in `key` ('V7' in C major -> G7; 'vii°' in A minor -> G#dim).

    Upper case is major, lower case minor, '°' diminished, 'ø' half-diminished, '+'
    augmented; '7' adds the seventh the quality implies; 'b'/'#' move the root; 'V/V'
    is a secondary chord (the numeral's chord in the key of the degree after the slash).
    """
    m = _ROMAN.match(text.strip())
    if m is None:
        raise ValueError(f"unknown Roman numeral {text!r}")
    acc, numeral, mark, seventh, applied = m.groups()
    tonic, mode = key_pitch_class(key)
    if applied:  # V/V: the chord V in the key of the applied degree (major)
        base = parse_numeral(applied.upper(), key)
        return parse_numeral(f"{acc or ''}{numeral}{mark or ''}{seventh or ''}", _major_of(base))
    degree = NUMERALS.index(numeral.lower())
    scale = MAJOR_SCALE if mode == "major" else MINOR_SCALE
    root = tonic + scale[degree]
    if mode == "minor" and numeral.lower() == "vii" and numeral.islower():
        root += 1  # vii° in minor is built on the raised leading tone
    root += {"b": -1, "♭": -1, "#": 1, "♯": 1}.get(acc or "", 0)
    upper = numeral.isupper()
    if mark in ("°", "o"):
        quality = "dim7" if seventh else "dim"
    elif mark == "ø":
        quality = "m7b5"
    elif mark == "+":
        quality = "aug"
    elif seventh in ("maj7", "M7"):
        quality = "maj7"
    elif seventh:
        quality = "7" if upper else "min7"
    else:
        quality = "maj" if upper else "min"
    return Chord(root % 12, quality)


def _major_of(chord: Chord) -> str:
    return key_name(chord.root, "major")


def looks_roman(word: str) -> bool:
    """Whether a word reads as a Roman numeral rather than a chord symbol."""
    return _ROMAN.match(word) is not None and not re.match(r"^[A-Ga-g]", word.strip("b#♭♯"))


def parse_progression(text: str, key: str | None = None) -> list[list[Chord]]:
    """Bars of chords from a progression string (see the module docstring).

    Raises BadInputError naming the first symbol or numeral that is not understood, and
    when numerals are given without a key."""
    text = text.strip()
    if not text:
        raise BadInputError("the chord progression is empty")
    bars_text = text.split("|") if "|" in text else None
    words_of = (
        [_words(b) for b in bars_text] if bars_text is not None else [[w] for w in _words(text)]
    )
    bars: list[list[Chord]] = []
    for words in words_of:
        if not words:
            continue
        bar = []
        for w in words:
            roman = looks_roman(w)
            if roman and key is None:
                raise BadInputError(f"Roman numeral {w!r} needs a key (give one, e.g. 'C major')")
            try:
                bar.append(parse_numeral(w, key) if roman and key else parse_symbol(w))
            except ValueError:
                raise BadInputError(
                    f"unknown chord {w!r}; write symbols (Am, F, G7, Bbmaj7, D/F#) or "
                    "Roman numerals (I IV V7 vi, ii7 V7 I)"
                ) from None
        bars.append(bar)
    if not bars:
        raise BadInputError("the chord progression is empty")
    if len(bars) > MAX_PROGRESSION_BARS:
        raise BadInputError(f"a progression may have at most {MAX_PROGRESSION_BARS} bars")
    return bars


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s,;–—]+|(?<=[^/\s])-(?=[IViv])", text) if w]


def chords_for_bars(progression: list[list[Chord]], bars: int) -> list[list[Chord]]:
    """The progression repeated (or cut) to `bars` bars."""
    return [progression[i % len(progression)] for i in range(bars)]


def progression_text(progression: list[list[Chord]]) -> str:
    """Back to a string: 'Am F | C G7' style, one bar per '|'."""
    return " | ".join(" ".join(c.symbol for c in bar) for bar in progression)

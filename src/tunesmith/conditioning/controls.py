"""The conditioning vocabulary: style/form, key, meter, tempo, bars, instruments, section.

`Controls` is the one structure that travels from the prompt parser and the corpus
metadata to the tokenizer. Each attribute becomes one control token placed right after
BOS (instruments: one token per voice slot); an attribute that is not given becomes that
slot's "any" token, which is also what training uses when it drops a condition, so the
model works with any subset of conditions and supports classifier-free guidance.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from ..errors import BadInputError
from ..music.keys import (  # re-exported: the key vocabulary is part of the controls
    KEYS,
    MODE_TO_MAJOR_MINOR,
    PITCH_CLASS_OF,
    key_name,
)
from .instruments import DRUMS, program_name
from .limits import BARS, TEMPO, VOICES

# -- style / form -----------------------------------------------------------------------
STYLES: tuple[str, ...] = (
    # dance and folk forms (music21 ABC collections)
    "reel", "jig", "slip jig", "hornpipe", "strathspey", "polka", "waltz", "march",
    "air", "folk song", "dance", "slide", "mazurka", "schottische", "country dance",
    # early and classical vocal / instrumental forms
    "chorale", "hymn", "madrigal", "mass movement", "motet", "chanson", "ballata",
    "lied", "aria", "quartet movement", "sonata", "trio sonata", "fugue", "invention",
    "piano piece", "rag", "exercise", "song",
    # broad genres for user corpora (MidiCaps-like captions)
    "classical", "baroque", "pop", "rock", "jazz", "blues", "latin", "electronic",
    "ambient", "soundtrack", "country", "funk", "hip hop", "world",
)  # fmt: skip

# -- meters -----------------------------------------------------------------------------
METERS: tuple[str, ...] = (
    "2/4", "3/4", "4/4", "5/4", "6/4", "2/2", "3/2", "4/2",
    "3/8", "6/8", "9/8", "12/8", "5/8", "7/8",
)  # fmt: skip

# -- tempo bins (bpm, quarter-note beats): representative values; edges are midpoints ----
TEMPO_BINS: tuple[int, ...] = (48, 60, 72, 84, 96, 108, 120, 132, 144, 160, 184, 216)
_TEMPO_EDGES = [(a + b) / 2 for a, b in zip(TEMPO_BINS, TEMPO_BINS[1:], strict=False)]
MIN_TEMPO, MAX_TEMPO = float(TEMPO.low), float(TEMPO.high)  # the bound of limits.py

# -- length in bars: a piece of n bars gets the smallest bin >= n -------------------------
BAR_BINS: tuple[int, ...] = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
MAX_BARS = int(BARS.high)  # the bound of limits.py; the last bin holds it
MAX_VOICES = int(VOICES.high)
assert BAR_BINS[-1] == MAX_BARS and BAR_BINS[0] >= BARS.low

# -- sections, for long-form generation ---------------------------------------------------
SECTIONS: tuple[str, ...] = (
    "A", "B", "C", "D", "intro", "coda", "exposition", "development", "recapitulation",
    "start", "middle", "end",
)  # fmt: skip

ANY = "any"  # the value of a dropped or unspecified condition


def token_safe(text: str) -> str:
    """Token-safe spelling of a vocabulary word ('slip jig' -> 'slip-jig')."""
    return re.sub(r"[^A-Za-z0-9#/+-]+", "-", text.strip()).strip("-")


# ---------------------------------------------------------------------------------------
def normalize_key(text: str) -> str:
    """Canonical key name ('F#m', 'B-flat major', 'd dorian' -> 'F# minor', 'Bb major', ...).

    Modes other than major/minor fold onto major or minor by their third.
    """
    t = re.sub(r"[\s_]+", " ", text.strip().lower())
    t = t.replace("♯", "#").replace("♭", "b")
    m = re.fullmatch(
        r"([a-g])\s*(#|b|-| ?-?sharp| ?-?flat)?\s*"
        r"(m|min|minor|maj|major|ionian|aeolian|dorian|phrygian|lydian|mixolydian|locrian)?",
        t,
    )
    if m is None:
        raise BadInputError(f"unknown key {text!r}; valid keys: {', '.join(KEYS)}")
    acc = (m.group(2) or "").strip(" -")
    acc = {"#": "#", "sharp": "#", "b": "B", "": "", "flat": "B"}.get(acc, "B")
    pc = PITCH_CLASS_OF[m.group(1).upper() + acc]
    mode = m.group(3) or "major"
    family = {"m": "minor", "min": "minor", "maj": "major"}.get(mode) or MODE_TO_MAJOR_MINOR[mode]
    return key_name(pc, family)


def meter_control(meters: Sequence[str]) -> str | None:
    """The Meter control for a piece whose bars have `meters` (as tokenized, first bar
    first): its first bar's meter where a request can name it, else none (a piece in 1/4
    is still kept; the grammar takes each bar's own meter from the piece). A tokenization
    without meters gives 4/4."""
    if not meters:
        return "4/4"
    return meters[0] if meters[0] in METERS else None


def normalize_meter(text: str) -> str:
    """Canonical meter ('6/8', 'C' -> '4/4', 'C|' or 'cut time' -> '2/2')."""
    t = text.strip().lower()
    aliases = {
        "c": "4/4",
        "common time": "4/4",
        "c|": "2/2",
        "cut time": "2/2",
        "alla breve": "2/2",
    }
    t = aliases.get(t, t.replace(" ", ""))
    if t not in METERS:
        raise BadInputError(f"unsupported meter {text!r}; valid meters: {', '.join(METERS)}")
    return t


def tempo_bin(bpm: float) -> int:
    """Representative bpm of the tempo bin that contains `bpm`."""
    if bpm not in TEMPO:
        raise BadInputError(f"tempo {bpm:g} bpm is outside {MIN_TEMPO:g}-{MAX_TEMPO:g} bpm")
    return TEMPO_BINS[bisect.bisect_left(_TEMPO_EDGES, bpm)]


def bars_bin(bars: int) -> int:
    """Smallest length bin that holds `bars` bars."""
    if bars not in BARS:
        raise BadInputError(f"a length of {bars} bars is outside 1-{MAX_BARS}")
    return BAR_BINS[bisect.bisect_left(BAR_BINS, bars)]


def normalize_style(text: str) -> str:
    """Canonical style/form word; raises listing valid styles when unknown."""
    t = re.sub(r"[\s_-]+", " ", text.strip().lower())
    if t in STYLES:
        return t
    raise BadInputError(f"unknown style {text!r}; valid styles: {', '.join(STYLES)}")


# ---------------------------------------------------------------------------------------
@dataclass
class Controls:
    """Explicit musical attributes. None means 'not specified' (the model chooses)."""

    style: str | None = None
    key: str | None = None  # canonical, e.g. "D major", "B minor"
    meter: str | None = None  # e.g. "6/8"
    tempo: float | None = None  # bpm (quarter notes per minute)
    bars: int | None = None
    instruments: list[int] | None = None  # one GM program per voice (-1 = drums)
    section: str | None = None
    extra: dict = field(default_factory=dict, repr=False)  # free metadata, not tokenized

    def validated(self) -> Controls:
        """A copy with every attribute normalised; raises BadInputError on bad values."""
        instruments = None
        if self.instruments is not None:
            if len(self.instruments) not in VOICES:
                raise BadInputError(f"between 1 and {MAX_VOICES} instruments are supported")
            for p in self.instruments:
                if p != DRUMS:
                    program_name(p)
            instruments = [int(p) for p in self.instruments]
        section = self.section
        if section is not None and section not in SECTIONS:
            raise BadInputError(f"unknown section {section!r}; valid: {', '.join(SECTIONS)}")
        return Controls(
            style=normalize_style(self.style) if self.style else None,
            key=normalize_key(self.key) if self.key else None,
            meter=normalize_meter(self.meter) if self.meter else None,
            tempo=float(self.tempo) if self.tempo is not None and tempo_bin(self.tempo) else None,
            bars=int(self.bars) if self.bars is not None and bars_bin(int(self.bars)) else None,
            instruments=instruments,
            section=section,
            extra=dict(self.extra),
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return d

    def merged(self, override: Controls) -> Controls:
        """These controls with every attribute `override` specifies replacing ours."""
        values = {k: v for k, v in override.to_dict().items() if v is not None}
        return Controls(**{**self.to_dict(), **values})


def control_token_names() -> list[str]:
    """Every control token, in a fixed order (their ids follow MidiTok's vocabulary)."""
    names = ["Style_any"] + [f"Style_{token_safe(s)}" for s in STYLES]
    names += ["Key_any"] + [f"Key_{key_token(k)}" for k in KEYS]
    names += ["Meter_any"] + [f"Meter_{m}" for m in METERS]
    names += ["Tempo_any"] + [f"Tempo_{t}" for t in TEMPO_BINS]
    names += ["Bars_any"] + [f"Bars_{b}" for b in BAR_BINS]
    names += ["Section_any"] + [f"Section_{s}" for s in SECTIONS]
    names += ["Instr_any", "Instr_drums"] + [f"Instr_{p}" for p in range(128)]
    names += ["Controls_end"]
    return names


def key_token(key: str) -> str:
    """'F# minor' -> 'F#m', 'Bb major' -> 'Bb' (token spelling)."""
    tonic, mode = key.split()
    return tonic + ("m" if mode == "minor" else "")


def controls_to_tokens(c: Controls) -> list[str]:
    """Control tokens in slot order: style, key, meter, tempo, bars, section, instruments, end."""
    toks = [
        f"Style_{token_safe(c.style)}" if c.style else "Style_any",
        f"Key_{key_token(c.key)}" if c.key else "Key_any",
        f"Meter_{c.meter}" if c.meter else "Meter_any",
        f"Tempo_{tempo_bin(c.tempo)}" if c.tempo is not None else "Tempo_any",
        f"Bars_{bars_bin(c.bars)}" if c.bars is not None else "Bars_any",
        f"Section_{c.section}" if c.section else "Section_any",
    ]
    if c.instruments:
        toks += ["Instr_drums" if p == DRUMS else f"Instr_{p}" for p in c.instruments]
    else:
        toks.append("Instr_any")
    toks.append("Controls_end")
    return toks

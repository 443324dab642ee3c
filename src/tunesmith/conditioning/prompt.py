"""Prompt understanding: pull explicit musical attributes out of free text.

`parse_prompt("a lively jig in D for fiddle, 32 bars")` returns the `Controls` the text
states plainly (style, key, meter, tempo, instruments, length) and, for each attribute,
the words it came from, so `tunesmith explain` can show what was understood. Anything the
text leaves open stays None: the model chooses it, and the whole prompt still reaches the
text encoder, so mood words that map to no control are not lost.

The parser is a set of small regex extractors run in a fixed order over one string. Each
extractor claims the characters it used, so one phrase feeds one attribute ("16 bars" is
a length, not a count of instruments; "English horn" is an instrument, not a region).
Keys need a clear cue because a bare letter is usually an article: "A reel for fiddle"
has no key, "a reel in A" has one (so has a tag list: "folk, G, fiddle").

Text written by others (dataset captions, tag lists, chatty requests) also names players
("a bassist", "the horn section"), negations ("no drums": `extra["exclude"]`), roles ("the
cello plays the melody": `extra["roles"]`), and moods. Of several tempo words the most
specific wins: an Italian mark over "fast", "fast" over a character word ("lively"), and a
number over all. Mood words give what the text leaves open: a mode when no key is named
("sad": minor), `extra["dynamics"]` and `extra["density"]`; "short"/"long" give a length
when no number does. Each of these is in `found`, so `explain` shows the words it used.

A model may bring style words of its own (a fine-tuned style, `styles`: word -> the style
control it was trained with); those are read first, so a model's "chiptune" wins over any
reading of its letters.

`apply_overrides` applies explicit attributes (key, meter, tempo, instruments, bars,
seconds, style: the CLI's options, the API's keywords, the server's `attributes`) on top
of the parsed controls, validating each value. The word tables (tempo words, style
synonyms, implied meters, region words) and the bounds live in `limits.py`.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..errors import BadInputError
from ..music.keys import MODE_TO_MAJOR_MINOR
from .controls import (
    MAX_VOICES,
    STYLES,
    Controls,
    bars_bin,
    normalize_key,
    normalize_meter,
    normalize_style,
    tempo_bin,
)
from .instruments import (
    BRASS_SECTION,
    DRUMS,
    GM_PROGRAM_NAMES,
    INSTRUMENT_WORDS,
    NYLON_GUITAR,
    PIANO,
    STRING_ENSEMBLE,
    parse_instrument,
    program_name,
)
from .language import detect_language
from .limits import (  # re-exported: the parser's vocabulary
    DENSITY_WORDS,
    DYNAMICS_WORDS,
    EIGHT_O_EIGHT_BASS_STYLES,
    HORN_SECTION_GENRES,
    HORN_SECTION_STYLES,
    IMPLIED_METERS,
    INSTRUMENT_ALIASES,
    LENGTH_WORDS,
    METER_PHRASES,
    MOOD_MODES,
    PROMPT_CHARS,
    REGIONS,
    RHYTHM_GUITAR_STYLES,
    ROLE_PREFIXES,
    ROLE_WORDS,
    SECONDS,
    STYLE_SYNONYMS,
    TEMPO_CHARACTER,
    TEMPO_MARKS,
    TEMPO_WORDS,
    VOICES,
)

logger = logging.getLogger(__name__)

MAX_PROMPT_CHARS = PROMPT_CHARS  # longer prompts are truncated (with a warning), never rejected
MAX_SECONDS = float(SECONDS.high)
PLURAL_VOICES = 2  # "violins" with no number means more than one: two voices

# -- numbers written as words ("thirty-two bars", "two violins") ------------------------
_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_UNIT_WORDS = "|".join(sorted(_UNITS[1:], key=len, reverse=True))
_NUMBER_WORDS = rf"(?:(?:{'|'.join(_TENS)})(?:[\s-]+(?:{'|'.join(_UNITS[1:10])}))?|{_UNIT_WORDS})"
_NUMBER = rf"(?:\d+(?:\.\d+)?|{_NUMBER_WORDS})"


def _number(text: str) -> float:
    """Value of a number written in digits or words ('32', '2.5', 'thirty-two')."""
    t = _norm(text)
    if t[0].isdigit():
        return float(t)
    parts = t.split()
    if parts[0] in _TENS:
        return float(_TENS[parts[0]] + (_UNITS.index(parts[1]) if len(parts) > 1 else 0))
    return float(_UNITS.index(parts[0]))


# -- vocabularies (the shared tables are in limits.py) ------------------------------------
# Bare style words too vague to count on their own ("a world of sound").
_VAGUE_STYLES = frozenset({"world"})

_COUNT_WORDS = {"a": 1, "an": 1, "one": 1, "solo": 1, "single": 1, "lone": 1,
                "a pair of": 2, "pair of": 2, "a couple of": 2, "duo of": 2}  # fmt: skip


_SPACES_RE = re.compile(r"[\s-]+")


def _words_pattern(phrases: Sequence[str]) -> str:
    """Regex alternation of phrases, longest first, with spaces matching spaces or hyphens."""
    ordered = sorted(set(phrases), key=len, reverse=True)
    return "|".join(r"[\s-]+".join(re.escape(w) for w in p.split()) for p in ordered)


def _norm(text: str) -> str:
    """Lower case with runs of spaces/hyphens folded to one space: the lookup spelling."""
    return _SPACES_RE.sub(" ", text.lower()).strip()


def _plural(word: str) -> str | None:
    """English plural of an instrument word, or None for words that are plural already."""
    if word.endswith(("ss", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("s") or not word[-1].isalpha():
        return None
    return word + "s"


# GM 120-127 are sound effects ("Seashore", "Applause"): in a prompt those words describe a
# mood, so only the explicit instruments attribute (a GM name or number) can ask for them.
_FIRST_SOUND_EFFECT = 120


def _instrument_vocabulary() -> dict[str, tuple[tuple[int, ...], bool]]:
    """Every instrument phrase -> (programs, is_plural), from everyday words and GM names."""
    vocab: dict[str, tuple[tuple[int, ...], bool]] = {}
    for name, programs in INSTRUMENT_WORDS.items():
        vocab[_norm(name)] = (tuple(programs), False)
    for program, name in enumerate(GM_PROGRAM_NAMES[:_FIRST_SOUND_EFFECT]):
        vocab.setdefault(_norm(name), ((program,), False))
    for name, programs in INSTRUMENT_WORDS.items():
        plural = _plural(_norm(name))
        if plural and plural not in vocab:
            vocab[plural] = (tuple(programs), True)
    for alias, words in INSTRUMENT_ALIASES.items():  # players, sections, other spellings
        programs = tuple(p for w in words for p in vocab[_norm(w)][0])
        vocab.setdefault(_norm(alias), (programs, False))
        plural = _plural(_norm(alias)) if len(programs) == 1 else None
        if plural and plural not in vocab:  # "two guitarists"
            vocab[plural] = (programs, True)
    return vocab


_INSTRUMENTS = _instrument_vocabulary()
_STYLE_WORDS: dict[str, str] = {
    **{_norm(s): s for s in STYLES if s not in _VAGUE_STYLES},
    **{_norm(k): v for k, v in STYLE_SYNONYMS.items()},
}

# -- regexes, compiled once ---------------------------------------------------------------
_I = re.IGNORECASE
_CLOCK_RE = re.compile(r"(?<![\d:.])(\d{1,2}):([0-5]\d)(?![\d:])")
_HALF = r"\s+and\s+a\s+half"
_MINUTES_RE = re.compile(
    rf"(?<![\w.])(?P<n>{_NUMBER}|an?|half\s+a)(?P<h1>{_HALF})?[\s-]*(?:minutes?|mins?)(?!\w)"
    rf"(?P<h2>{_HALF}(?!\w))?"
    rf"(?:,?\s*(?:and\s+)?(?P<s>{_NUMBER})[\s-]*(?:seconds?|secs?)(?!\w))?",
    _I,
)
_SECONDS_RE = re.compile(rf"(?<![\w./:])(?P<n>{_NUMBER})[\s-]*(?:seconds?|secs?)(?!\w)", _I)
_BARS_RE = re.compile(rf"(?<![\w./:])(?P<n>{_NUMBER})[\s-]*(?:bars?|measures?)(?!\w)", _I)
_BPM_UNIT = r"(?:bpm|b\.p\.m\.?|beats\s+per\s+minute|beats/min)"
_TEMPO_NUMBER_RE = re.compile(
    rf"(?<![\w./:])(?P<lo>\d+)\s*(?:-|–|to)\s*(?P<hi>\d+)\s*{_BPM_UNIT}(?!\w)"
    rf"|(?<![\w./:])(?P<a>\d+(?:\.\d+)?)\s*{_BPM_UNIT}(?!\w)"
    rf"|\b(?:tempo|bpm|metronome)\s*(?:of\s+|at\s+|[:=]\s*)?(?P<b>\d+(?:\.\d+)?)(?:\s*{_BPM_UNIT}(?!\w))?"
    r"|(?:♩|\bq|\bcrotchet)\s*=\s*(?P<c>\d+(?:\.\d+)?)",
    _I,
)
# "not too fast", "nothing too busy", "not sad": the word is not asked for
_WORD_NEGATION_RE = re.compile(
    r"\b(?:not|never|no|nothing)\s+(?:too\s+|very\s+|so\s+|overly\s+|particularly\s+)?$", _I
)
_TEMPO_WORD_RE = re.compile(rf"(?<!\w)(?:{_words_pattern(list(TEMPO_WORDS))})(?!\w)", _I)
_MOOD_RE = re.compile(
    rf"(?<!\w)(?:{_words_pattern([*MOOD_MODES, *DYNAMICS_WORDS, *DENSITY_WORDS])})(?!\w)", _I
)
_METER_NUMBER_RE = re.compile(r"(?<![\d/.])(\d{1,2})\s*/\s*(\d{1,2})(?![\d/])")
_METER_WORD_NUMS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                    "nine": 9, "twelve": 12}  # fmt: skip
_METER_PHRASE_RE = re.compile(
    rf"(?<!\w)(?:(?P<phrase>{_words_pattern(list(METER_PHRASES))})"
    rf"|(?P<num>{'|'.join(_METER_WORD_NUMS)})(?:[\s-]+(?P<den>two|four|eight)[\s-]+time"
    r"|-(?P<den2>two|four|eight)(?![\w-])))(?!\w)",
    _I,
)
_MODE_WORDS = "|".join(sorted([*MODE_TO_MAJOR_MINOR, "maj", "min"], key=len, reverse=True))
_KEY_RE = re.compile(
    r"(?P<cue>\b(?:(?:in\s+)?(?:the\s+)?key(?:\s+of\s+|\s*[:=]\s*|\s+)|in\s+))?"
    r"\b(?P<letter>[a-g])"
    r"(?P<acc>[#♯♭]|b|-\s?(?:sharp|flat)|\s(?:sharp|flat))?"
    rf"(?P<mode>[\s-]*(?:(?:harmonic|melodic|natural)[\s-]+minor|{_MODE_WORDS})|m)?"
    r"(?![\w#♯♭'])(?!\.\w)",
    _I,
)
_KEY_FOLLOWS_RE = re.compile(r"[\s-]*key\b", _I)
_MODE_NAMES = "|".join(MODE_TO_MAJOR_MINOR)
_MODE_ONLY_RE = re.compile(
    rf"(?<!\w)(?:in\s+(?:an?\s+|the\s+)?)?(?P<m1>{_MODE_NAMES})[\s-]+(?:key|mode|tonality)(?!\w)"
    rf"|(?<!\w)in\s+(?:the\s+)?(?P<m2>{_MODE_NAMES})(?!\w)",
    _I,
)
_TEXTURE_RE = re.compile(
    rf"(?<!\w)in\s+(?P<a>\d{{1,2}}|{_UNIT_WORDS})\s+(?:voices|parts)(?!\w)"
    rf"|(?<!\w)(?P<b>\d{{1,2}}|{_UNIT_WORDS})-(?:voice|part)(?!\w)",
    _I,
)
_INSTRUMENT_NAMES = _words_pattern(list(_INSTRUMENTS))
_INSTRUMENT_AFTER_RE = re.compile(rf"[\s-]+(?:{_INSTRUMENT_NAMES})(?!\w)", _I)
_COUNT = rf"(?:\d{{1,2}}|{_UNIT_WORDS}|{_words_pattern(list(_COUNT_WORDS))})"
_INSTRUMENT_RE = re.compile(
    rf"(?<![\w/:.-])(?:(?P<count>{_COUNT})[\s-]+)?(?P<name>{_INSTRUMENT_NAMES})"
    r"(?:[\s-]+(?P<solo>solo))?(?!\w)",
    _I,
)
_NEGATION_RE = re.compile(r"\b(?:no|without|minus|except|not)\s+(?:any\s+|a\s+|an\s+|the\s+)?$", _I)
# "no drums or bass": the negation reaches the next instrument of an "or" list
_NEGATION_GOES_ON_RE = re.compile(r"\s*,?\s*(?:or|nor)\s+(?:any\s+|a\s+|an\s+|the\s+)?", _I)
# a mention that names an instrument already there: "the cello plays ...", "a guitar solo"
_BACK_REFERENCE_RE = re.compile(r"\b(?:the|my|our|its|his|her|their|that|this)\s+$", _I)
_NOT_KEYS_BEFORE = re.compile(  # "keys" is a keyboard, except in "minor keys", "all keys"
    r"\b(?:major|minor|different|other|all|several|many|both|related|distant|changing|"
    r"black|white|two|three|four|twelve|\d+|new|various|remote|neighbou?ring|flat|sharp|"
    r"through|between|across|changes?|switch(?:es|ing)?|shift(?:s|ing)?)\s+$",
    _I,
)
_NOT_KEYS_AFTER = re.compile(r"\s+(?:of|to)\b", _I)  # "the keys of C and G"
# "beat" is the drums after a cue ("over a beat", "with a beat", "keys and a soft beat"),
# never a pulse ("a steady beat", "on every beat", "3 beats to the bar", "beats per minute")
_BEAT_WORDS_RE = re.compile(r"[\w'&+-]+|,")
_BEAT_CUES = frozenset({"over", "under", "underneath", "beneath", "with", "plus", "add", "adds",
                        "and", "&", "+", ","})  # fmt: skip
_BEAT_LIST_CUES = frozenset({"and", "&", "+", "plus", ","})  # need an instrument before
_BEAT_ARTICLES = frozenset({"a", "an", "some", "the"})
_BEAT_PULSE_WORDS = frozenset(
    "steady strong weak regular constant even same every each half down off up main first "
    "second third fourth last next one two three four five six seven eight nine ten twelve "
    "single double extra per on".split()
)
_BEAT_NOT_AFTER = re.compile(
    r"\s+(?:per|to\s+(?:the|a)|of|in\s+(?:a|each|every|the\s+(?:bar|measure))|a\s+bar|each|"
    r"every)\b",
    _I,
)
_BEAT_LIST_AFTER = re.compile(  # "a beat and a bass line", "a beat, piano and bass"
    rf"\s*(?:,|\band\b|&|\+)\s*(?:(?:a|an|the|some)\s+)?(?:{_INSTRUMENT_NAMES})(?!\w)", _I
)
# "an upright, stately march": the adjective, not the bass
_UPRIGHT_ADJECTIVE_BEFORE = re.compile(r"\ban?\s+$", _I)
_UPRIGHT_ADJECTIVE_AFTER = re.compile(
    rf"\s*(?:,|\band\b)\s*(?!(?:(?:a|an|the)\s+)?(?:{_INSTRUMENT_NAMES})(?!\w))\w", _I
)
_HORN_GENRE_RE = re.compile(rf"(?<!\w)(?:{_words_pattern(list(HORN_SECTION_GENRES))})(?!\w)", _I)
_ROLE_WORD_RE = re.compile(rf"(?<!\w)(?:{_words_pattern(list(ROLE_WORDS))})(?!\w)", _I)
_ROLE_PREFIX_RE = re.compile(rf"(?<!\w)(?P<w>{'|'.join(ROLE_PREFIXES)})[\s-]+$", _I)
_MELODY_ON_RE = re.compile(  # "the melody on the oboe", "a tune played by the fiddle"
    r"\b(?:the\s+(?:melody|tune|lead)\s+(?:is\s+)?on|(?:melody|tune|lead)\s+(?:is\s+)?"
    r"(?:played|carried|taken)\s+by|(?:melody|tune|lead)\s+(?:is\s+)?given\s+to)"
    r"\s+(?:the\s+|a\s+|an\s+)?$",  # not "a tune on the ukulele": that names no role
    _I,
)
_HELD_RE = re.compile(r"\b(?:hold\w*|held|sustain\w*|long)\s+(?:\w+\s+)?$", _I)
_CLAUSE_END_RE = re.compile(r"[,.;:!?()\n]| - ")
_ROLE_STOPS = ("key", "mode", "chords", "meter", "bars", "seconds", "style", "voices")
_NOT_INSTRUMENT_AFTER = re.compile(r"[\s-]+leading\b", _I)  # "voice leading" is not a voice
_STYLE_RE = re.compile(rf"(?<!\w)(?P<name>{_words_pattern(list(_STYLE_WORDS))})(?:e?s)?(?!\w)", _I)
# genres named by instruments: read before the instruments, so they add no bass and drums
_INSTRUMENT_GENRE_RE = re.compile(r"(?<!\w)drum[\s-]+(?:and|n|&|'n')[\s-]+bass(?!\w)", _I)
_THE_SONG_RE = re.compile(r"\b(?:the|this|that|our|my)\s+$", _I)  # "The song is in C": no style
# "short"/"long" describe the piece when a piece word or a style follows, or they stand alone
_LENGTH_WORD_RE = re.compile(rf"(?<!\w)(?:{'|'.join(LENGTH_WORDS)})(?!\w)", _I)
_PIECE_WORDS = (
    "piece pieces tune song track melody loop clip sketch beat number composition jingle "
    "fanfare intro outro interlude theme ringtone cue work thing one version"
).split()
_LENGTH_NOUN_RE = re.compile(
    r"[\s,-]+(?:(?:and\s+)?[\w'-]+[\s,]+){0,2}?"
    rf"(?:{_words_pattern([*_PIECE_WORDS, *_STYLE_WORDS])})(?:e?s)?(?!\w)",
    _I,
)
_LENGTH_CUE_BEFORE = re.compile(
    r"(?:\b(?:something|anything|keep\s+it|make\s+it)\s+|(?:^|[,;|])\s*)$", _I
)
_LENGTH_AFTER_OK = re.compile(r"\s+and\s+sweet\b|\s*(?:[,;|.!?]|$)", _I)
_DURATION_BEFORE = re.compile(r"\b(?:bars?|measures?|seconds?|secs?|minutes?|mins?)\s+$", _I)
# a key as one item of a tag list: "folk, G, fiddle"
_BARE_LETTER_RE = re.compile(r"(?<![\w#♯♭'])[A-G](?![\w#♯♭'])")  # "A, B and C sections"
_TAG_KEY_RE = re.compile(r"(?:^|[,;|])\s*(?P<key>[A-G](?:#|♯|♭|b)?)\s*(?=[,;|]|$)")
_GUITAR_AFTER_RE = re.compile(r"[\s-]+guitars?\b", _I)  # "slide guitar" is no Irish slide
_TEMPO_FLAG_RE = re.compile(rf"(\d+(?:\.\d+)?)\s*{_BPM_UNIT}?", _I)
_LIST_SPLIT_RE = re.compile(r"\s*(?:,|;|\+|\band\b)\s*", _I)
_FLAG_COUNT_RE = re.compile(r"(\d{1,2})\s*[x×*]?\s+(.+)|(\d{1,2})\s*[x×*]\s*(.+)")
# Chord progressions: a list after a cue ("the chords C, G, Am, F", "built on D/F#, G and A",
# "over a I-IV-V-I") or a dash-joined chain of Roman numerals ("a I-IV-V-I blues").
# Case matters for the chords themselves (A is a chord, a is the article; I and i differ).
_SYMBOL = r"[A-G](?:#|b|♯|♭)?(?:maj7|m7b5|dim7|min7|m7|maj|min|m|dim|aug|sus4|sus|7|°|ø|\+)?"
_SYMBOL += r"(?:/[A-G](?:#|b|♯|♭)?)?"
_NUMERAL = r"(?:b|#|♭|♯)?(?:VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)(?:°|ø|\+)?(?:maj7|7)?"
_CHORD = rf"(?:{_SYMBOL}|{_NUMERAL})(?![\w#♯♭/+°ø])"
_CHORD_SEP = r"(?:\s*,\s*(?:(?i:and|then)\s+)?|\s+(?i:and|then)\s+|\s*[-–—]\s*|\s+)"
_CHORD_LIST_RE = re.compile(
    r"(?i:\b(?:chords?|chord\s+(?:progression|sequence)|progression|sequence|changes|"
    r"built\s+(?:on|around)|revolves\s+around|based\s+on|cycl(?:es|ing)\s+through|"
    r"moves\s+through|alternat(?:es|ing)\s+between|over|harmon(?:y|ies)))"
    r"(?i:\s*(?:of|:|is|are|like|on|goes|runs))?\s*(?:(?i:the)\s+|a\s+|an\s+)?"
    rf"(?P<list>{_CHORD}(?:{_CHORD_SEP}{_CHORD}){{1,31}})"
)
_NUMERAL_CHAIN_RE = re.compile(
    rf"(?<![\w-])(?P<list>{_NUMERAL}(?:\s*[-–—]\s*{_NUMERAL}){{2,31}})(?![\w-])"
)
_STRINGS_AFTER_RE = re.compile(r"\s+strings?\b", _I)
_REGION_RE = re.compile(rf"(?<!\w)(?:{_words_pattern(list(REGIONS))})(?!\w)", _I)


# ---------------------------------------------------------------------------------------
@dataclass
class ParsedPrompt:
    """What a prompt says: the controls, and for each attribute the words it came from."""

    controls: Controls
    found: dict[str, str] = field(default_factory=dict)
    text: str = ""
    language: str | None = None  # a language the parser does not read (language.py)

    @property
    def language_notice(self) -> str | None:
        if self.language is None:
            return None
        return (
            f"the prompt looks {self.language}; the prompt parser reads English, so its key, "
            "instrument and length words were not understood (use English words, or the "
            "key, instruments and bars settings)"
        )


class _Parse:
    """One parse in progress: the text, the spans already claimed, and what was found."""

    def __init__(self, text: str, styles: Mapping[str, str] | None = None) -> None:
        self.text = text
        self.styles = {_norm(w): s for w, s in (styles or {}).items()}
        self.claimed: list[tuple[int, int, str]] = []  # (start, end, attribute)
        self.controls = Controls()
        self.found: dict[str, str] = {}
        # every instrument mention, negated ones too: (start, end, programs, negated)
        self.mentions: list[tuple[int, int, tuple[int, ...], bool]] = []

    def free(self, m: re.Match[str], share: tuple[str, ...] = ()) -> bool:
        """True when no earlier extractor used this match's characters (except for `share`)."""
        a, b = m.span()
        return all(b <= s or a >= e or attr in share for s, e, attr in self.claimed)

    def matches(
        self, regex: re.Pattern[str], share: tuple[str, ...] = ()
    ) -> Iterator[re.Match[str]]:
        """Matches of `regex` that overlap no span claimed by attributes outside `share`."""
        return (m for m in regex.finditer(self.text) if self.free(m, share))

    def claim(self, attribute: str, m: re.Match[str]) -> None:
        """Mark a match's characters as used by an attribute."""
        self.claimed.append((*m.span(), attribute))

    def take(self, attribute: str, m: re.Match[str]) -> None:
        """Claim a match for an attribute and remember its words for `explain`."""
        self.claim(attribute, m)
        self.note(attribute, m.group(0))

    def note(self, attribute: str, words: str) -> None:
        """Add words to what `explain` shows for an attribute."""
        span = words.strip()
        self.found[attribute] = (
            f"{self.found[attribute]}, {span}" if attribute in self.found else span
        )

    # -- extractors, in the order `parse_prompt` runs them -------------------------------
    def model_style(self) -> None:
        """A style word the model brought (a fine-tuned style's name): first, so no other
        extractor reads its letters."""
        if not self.styles:
            return
        for m in self.matches(_style_words_re(tuple(sorted(self.styles)))):
            self.controls.style = normalize_style(self.styles[_norm(m.group("name"))])
            self.take("style", m)
            return

    def length(self) -> None:
        """Seconds ('1:30', 'a 2-minute piece', '45 seconds') and bars ('16 bars')."""
        for m in self.matches(_CLOCK_RE):
            self._set_seconds(int(m.group(1)) * 60 + int(m.group(2)), m)
            break
        for m in self.matches(_MINUTES_RE):
            n = m.group("n").lower()
            minutes = 1.0 if n in ("a", "an") else 0.5 if n.startswith("half") else _number(n)
            minutes += 0.5 if m.group("h1") or m.group("h2") else 0.0  # "... and a half"
            extra = _number(m.group("s")) if m.group("s") else 0.0
            self._set_seconds(minutes * 60 + extra, m)
            break
        for m in self.matches(_SECONDS_RE):
            self._set_seconds(_number(m.group("n")), m)
            break
        for m in self.matches(_BARS_RE):
            bars = _number(m.group("n"))
            if bars != int(bars):
                raise BadInputError(f"a length of {bars:g} bars is not a whole number of bars")
            bars_bin(int(bars))  # raises a clear error for 0 or absurd lengths
            self.controls.bars = int(bars)
            self.take("bars", m)
            break

    def _set_seconds(self, seconds: float, m: re.Match[str]) -> None:
        """Keep the first stated duration; later ones are claimed so they set nothing else."""
        if "seconds" not in self.found:
            self.controls.extra["seconds"] = check_seconds(seconds)
            self.take("seconds", m)
        else:
            self.claim("seconds", m)

    def tempo_number(self) -> None:
        """An explicit tempo: '120 bpm', 'tempo 100', '♩ = 96', '120-126 bpm' (its middle)."""
        for m in self.matches(_TEMPO_NUMBER_RE):
            if m.group("lo"):
                bpm = (float(m.group("lo")) + float(m.group("hi"))) / 2
            else:
                bpm = float(m.group("a") or m.group("b") or m.group("c"))
            tempo_bin(bpm)  # raises for tempos outside the supported range
            self.controls.tempo = bpm
            self.take("tempo", m)
            return

    def meter(self) -> None:
        """An explicit meter: '6/8', 'cut time', 'six-eight time'. Unknown fractions are skipped."""
        for m in self.matches(_METER_NUMBER_RE):
            meter = f"{int(m.group(1))}/{int(m.group(2))}"
            try:
                self.controls.meter = normalize_meter(meter)
            except BadInputError:
                logger.debug("ignoring %r: not a supported meter", meter)
                continue
            self.take("meter", m)
            return
        for m in self.matches(_METER_PHRASE_RE):
            if m.group("phrase"):
                meter = METER_PHRASES[_norm(m.group("phrase"))]
            else:
                meter = f"{_METER_WORD_NUMS[m.group('num').lower()]}/"
                den = (m.group("den") or m.group("den2")).lower()
                meter += str({"two": 2, "four": 4, "eight": 8}[den])
            try:
                self.controls.meter = normalize_meter(meter)
            except BadInputError:
                continue
            self.take("meter", m)
            return

    def chords(self) -> None:
        """A chord progression ('the chords C, G, Am, F', 'over a I-IV-V-I'); its letters
        are then not read as a key."""
        for regex in (_CHORD_LIST_RE, _NUMERAL_CHAIN_RE):
            for m in self.matches(regex):
                words = [w for w in re.split(_CHORD_SEP, m.group("list")) if w]
                if len(words) < 2 or _STRINGS_AFTER_RE.match(self.text, m.end()):
                    continue  # "over the D and G strings" names strings, not chords
                self.controls.extra["chords"] = " ".join(words)
                self.take("chords", m)
                return

    def key(self) -> None:
        """A key with a clear cue ('in D', 'key of E flat', 'F#m', 'B-flat major')."""
        pos = 0
        while (m := _KEY_RE.search(self.text, pos)) is not None:
            pos = m.start() + 1
            if not self.free(m) or not self._is_key(m):
                continue
            letter, acc, mode = m.group("letter"), m.group("acc") or "", m.group("mode") or ""
            # "m" and "harmonic minor" are minor; church modes keep their name in extra
            words = _norm(mode).split() or ["major"]
            mode_word = "minor" if words[-1] == "m" else words[-1]
            mode_word = {"maj": "major", "min": "minor"}.get(mode_word, mode_word)
            sharp = "#" in acc or "♯" in acc or "sharp" in acc.lower()
            sign = "#" if sharp else "b" if acc else ""
            self.controls.key = normalize_key(f"{letter.upper()}{sign} {mode_word}")
            self.take("key", m)
            if mode_word not in ("major", "minor"):
                self.controls.extra["mode"] = mode_word
                self.found["mode"] = self.found["key"]
            return
        self._tag_key()

    def _tag_key(self) -> None:
        """A bare key letter as one item of a tag list ('folk, G, fiddle'); several bare
        letters are a list (sections, notes), not a key."""
        if (
            sum(self.text.count(c) for c in ",;|") < 2
            or len(_BARE_LETTER_RE.findall(self.text)) > 1
        ):
            return
        found = [m for m in _TAG_KEY_RE.finditer(self.text) if self.free(m)]
        if len(found) == 1:
            m = found[0]
            key = m.group("key").replace("♯", "#").replace("♭", "b")
            self.controls.key = normalize_key(key)
            self.claimed.append((*m.span("key"), "key"))
            self.note("key", m.group("key"))

    def _is_key(self, m: re.Match[str]) -> bool:
        """Whether a letter match really names a key, not an article or a transposing instrument."""
        cue = (m.group("cue") or "").lower()
        letter, acc = m.group("letter"), m.group("acc") or ""
        mode = (m.group("mode") or "").strip(" -").lower()
        article = letter == "a"  # lower-case 'a' is almost always the article
        if "key" in cue:
            return True
        if mode and mode != "m":
            # "in a minor" names A minor; "a minor-key tune", "in a minor key" name only a mode
            return not article or (bool(cue) and not _KEY_FOLLOWS_RE.match(self.text, m.end()))
        if mode == "m":  # "Am", "F#m", "bbm"; not "am" (the verb) or "AM" (the time)
            if m.group("mode") != "m":
                return False
            return letter.isupper() or acc in ("#", "♯", "♭") or acc == "b"
        if _INSTRUMENT_AFTER_RE.match(self.text, m.end()):
            return False  # "Bb clarinet", "D whistle": the instrument's pitch, not the key
        if cue:  # "in D", "in Bb", "in a-flat"; "in a slow tempo" is the article
            return not article or (bool(acc) and not acc.startswith(" "))
        if not acc:
            return False  # a bare letter ("A reel") needs a cue
        if acc in ("#", "♯", "♭") or acc.startswith("-"):
            return True
        if acc.lower() == "b":
            return letter.isupper()  # "Bb", "Eb"; not "db" (decibels) or "ab"
        return letter.isupper() and letter != "A"  # "E flat" yes; "A flat melody" no

    def mode_only(self) -> None:
        """A mode with no tonic ('in a minor key', 'in dorian') when no key was found."""
        if self.controls.key is not None:
            return
        for m in self.matches(_MODE_ONLY_RE):
            self.controls.extra["mode"] = (m.group("m1") or m.group("m2")).lower()
            self.take("mode", m)
            return

    def texture(self) -> None:
        """'in three voices', 'four-part': a number of parts, not voices singing."""
        for m in self.matches(_TEXTURE_RE):
            self.controls.extra["voices"] = int(_number(m.group("a") or m.group("b")))
            self.take("voices", m)
            return

    def genre_phrases(self) -> None:
        """Genres named by instruments ('drum and bass'): a style, not two instruments."""
        for m in self.matches(_INSTRUMENT_GENRE_RE):
            if self.controls.style is None:
                self.controls.style = normalize_style(_STYLE_WORDS[_norm(m.group(0))])
                self.take("style", m)
            else:
                self.claim("style", m)

    def instruments(self) -> None:
        """Instruments in the order written; counts and plurals give repeated voices.

        A negated one ('no drums', 'without piano or bass') goes to extra["exclude"] and out
        of the list; a mention of one already named ('the cello plays the melody', 'a guitar
        solo') adds no second voice; a rhythm section is a chord instrument, bass and drums.
        """
        programs: list[int] = []
        excluded: list[int] = []
        named: list[tuple[str, tuple[int, ...]]] = []
        negation_end = -1
        for m in self.matches(_INSTRUMENT_RE):
            name = _norm(m.group("name"))
            if name in ("voice", "voices") and _NOT_INSTRUMENT_AFTER.match(self.text, m.end()):
                continue
            if name == "keys" and (
                _NOT_KEYS_BEFORE.search(self.text, 0, m.start())
                or _NOT_KEYS_AFTER.match(self.text, m.end())
            ):
                continue
            if name in ("beat", "beats") and not self._beat_is_drums(m):
                continue
            if (
                name == "upright"
                and _UPRIGHT_ADJECTIVE_BEFORE.search(self.text, 0, m.start("name"))
                and _UPRIGHT_ADJECTIVE_AFTER.match(self.text, m.end())
            ):
                continue
            if name in ("pad", "pads") and self._pad_is_a_role(m, programs, named):
                continue  # "strings pad": the strings play the pad (roles reads it)
            voices, plural = _INSTRUMENTS[name]
            if name == "horns" and self._horn_section():
                voices, plural = (BRASS_SECTION,), False
            if name in ("808", "808s") and self._first_style() not in EIGHT_O_EIGHT_BASS_STYLES:
                voices = (DRUMS,)  # a drum machine; its kick is the bass in hip hop
            if name == "rhythm section" and self._guitar_style():
                voices = tuple(NYLON_GUITAR if p == PIANO else p for p in voices)
            negation = _NEGATION_RE.search(self.text, max(0, m.start() - 24), m.start())
            goes_on = negation_end >= 0 and _NEGATION_GOES_ON_RE.fullmatch(
                self.text, negation_end, m.start()
            )
            if negation or goes_on:
                negation_end = m.end()
                excluded.extend(p for p in voices if p not in excluded)
                self.claim("exclude", m)
                start = negation.start() if negation else m.start()
                self.note("exclude", self.text[start : m.end()])
                self.mentions.append((*m.span(), voices, True))
                continue
            count_word = _norm(m.group("count") or "")
            earlier = self._named_before(name, named, m, count_word)
            if earlier is not None:
                self.claim("instruments", m)
                self.mentions.append((*m.span(), earlier, False))
                continue
            if count_word:
                count = int(_COUNT_WORDS.get(count_word) or _number(count_word))
            else:
                count = PLURAL_VOICES if plural else 1
            programs.extend(list(voices) * max(count, 1))
            named.append((name, voices))
            self.mentions.append((*m.span(), voices, False))
            self.take("instruments", m)
        programs = [p for p in programs if p not in excluded]
        if excluded:
            self.controls.extra["exclude"] = excluded
        if len(programs) > MAX_VOICES:
            logger.warning("the prompt asks for %d voices; keeping the first %d",
                           len(programs), MAX_VOICES)  # fmt: skip
            programs = programs[:MAX_VOICES]
        if programs:
            self.controls.instruments = programs

    def _named_before(
        self,
        name: str,
        named: list[tuple[str, tuple[int, ...]]],
        m: re.Match[str],
        count_word: str,
    ) -> tuple[int, ...] | None:
        """The programs of an earlier mention this one refers back to, if it does: 'the
        guitar' after 'acoustic guitar', 'a violin solo' after 'violin'."""
        refers = _BACK_REFERENCE_RE.search(self.text, max(0, m.start() - 8), m.start())
        if not (refers or m.group("solo")) or count_word not in ("", "a", "an"):
            return None
        for earlier, voices in named:
            if earlier == name or earlier.endswith(" " + name):
                return voices
        return None

    def _guitar_style(self) -> bool:
        """Whether the text's first style word is one whose rhythm section has a guitar."""
        return self._first_style() in RHYTHM_GUITAR_STYLES

    def _first_style(self) -> str | None:
        """The style control of the text's first style word (the style step runs later)."""
        m = _STYLE_RE.search(self.text)
        return None if m is None else normalize_style(_STYLE_WORDS[_norm(m.group("name"))])

    def _horn_section(self) -> bool:
        """Whether "horns" are a horn section here (a funk, jazz, ska... text), not French
        horns."""
        return self._first_style() in HORN_SECTION_STYLES or bool(_HORN_GENRE_RE.search(self.text))

    def _beat_is_drums(self, m: re.Match[str]) -> bool:
        """Whether "beat(s)" names the drums here (see _BEAT_CUES): after a cue and at most
        two words that are no pulse words, or negated ("no beat")."""
        if _NEGATION_RE.search(self.text, max(0, m.start() - 24), m.start()):
            return True
        if _BEAT_NOT_AFTER.match(self.text, m.end()):
            return False
        if _BEAT_LIST_AFTER.match(self.text, m.end()):
            return True
        words = _BEAT_WORDS_RE.findall(self.text[max(0, m.start() - 60) : m.start()].lower())
        i, described = len(words) - 1, 0
        while i >= 0 and words[i] not in _BEAT_CUES and words[i] not in _BEAT_ARTICLES:
            if words[i] in _BEAT_PULSE_WORDS or words[i].isdigit() or described == 2:
                return False
            described, i = described + 1, i - 1
        article = words[i] if i >= 0 and words[i] in _BEAT_ARTICLES else None
        i -= article is not None
        if i < 0 or words[i] not in _BEAT_CUES:
            return False
        if words[i] in _BEAT_LIST_CUES:  # "keys and a soft beat": a list of instruments
            return any(not neg and end <= m.start() for _, end, _, neg in self.mentions)
        return article != "the" or words[i] in ("over", "under", "underneath", "beneath")

    def _pad_is_a_role(
        self, m: re.Match[str], programs: list[int], named: list[tuple[str, tuple[int, ...]]]
    ) -> bool:
        """Whether "pad(s)" right after an instrument is its role ("strings pad"), not a
        synth pad; "string pad" names the strings too."""
        gap = self.text[: m.start()]
        if self.mentions and not self.mentions[-1][3]:
            end = self.mentions[-1][1]
            if not gap[end:].strip(" -"):
                return True
        string = re.search(r"(?<![\w-])string[\s-]+$", gap, _I)
        if string is None:
            return False
        programs.append(STRING_ENSEMBLE)
        named.append(("strings", (STRING_ENSEMBLE,)))
        self.mentions.append((string.start(), string.start() + 6, (STRING_ENSEMBLE,), False))
        self.claimed.append((string.start(), string.start() + 6, "instruments"))
        self.note("instruments", "string")
        return True

    def style(self) -> None:
        """The first style/form word; dance words also imply a meter when none was given."""
        # a style may share words with instruments: "piano piece", "string quartet movement"
        for m in self.matches(_STYLE_RE, share=("instruments",)):
            word = _norm(m.group("name"))
            if word == "slide" and _GUITAR_AFTER_RE.match(self.text, m.end()):
                continue
            if word == "song" and _THE_SONG_RE.search(self.text, 0, m.start()):
                continue  # "The song is in C major": the piece being described
            if self.controls.style is None:
                self.controls.style = normalize_style(_STYLE_WORDS[word])
                self.take("style", m)
            if self.controls.meter is None and word in IMPLIED_METERS:
                self.controls.meter = IMPLIED_METERS[word]
                self.found["meter"] = m.group(0).strip()
            if self.controls.meter is not None:
                return

    def tempo_word(self) -> None:
        """The most specific tempo word, when no number was given: an Italian mark over a
        plain word ('fast'), a plain word over a character word ('lively'); the first of
        equals. `found` names a word that says otherwise ('slow' beside 'presto')."""
        words = [m for m in self.matches(_TEMPO_WORD_RE)
                 if not _WORD_NEGATION_RE.search(self.text[: m.start()])]  # fmt: skip
        for m in words:
            self.claim("tempo", m)
        if self.controls.tempo is not None:  # an explicit number wins over every word
            self._note_overruled(self.controls.tempo, words)
            return
        if not words:
            return
        best = max(words, key=lambda m: _tempo_rank(_norm(m.group(0))))  # first of the best
        self.controls.tempo = float(TEMPO_WORDS[_norm(best.group(0))])
        self.note("tempo", best.group(0))
        self._note_overruled(self.controls.tempo, [m for m in words if m is not best])

    def _note_overruled(self, bpm: float, words: list[re.Match[str]]) -> None:
        """Say in `found` which tempo words the chosen tempo overrules (20 % away or more)."""
        other = [m.group(0) for m in words
                 if abs(TEMPO_WORDS[_norm(m.group(0))] - bpm) >= 0.2 * bpm]  # fmt: skip
        if other:
            self.found["tempo"] += f" (over {', '.join(repr(w) for w in other)})"

    def length_word(self) -> None:
        """'short' or 'long' when no number gives the length: only where the word describes
        the piece ('a short jig', 'something short', a tag), never 'long notes'."""
        if self.controls.bars is not None or "seconds" in self.found:
            return
        for m in self.matches(_LENGTH_WORD_RE):
            before = self.text[: m.start()]
            if _WORD_NEGATION_RE.search(before) or _DURATION_BEFORE.search(before):
                continue
            if _LENGTH_NOUN_RE.match(self.text, m.end()) or (
                _LENGTH_CUE_BEFORE.search(before) and _LENGTH_AFTER_OK.match(self.text, m.end())
            ):
                self.controls.bars = LENGTH_WORDS[m.group(0).lower()]
                self.take("bars", m)
                return

    def character(self) -> None:
        """Mood words: a mode when no key or mode was named ('sad': minor), dynamics
        ('gentle': soft) and density ('sparse'). Words that disagree ('dark but
        uplifting', 'from quiet to loud') leave the attribute open."""
        heard: dict[str, dict[str, list[str]]] = {"mode": {}, "dynamics": {}, "density": {}}
        for m in self.matches(_MOOD_RE):
            if _WORD_NEGATION_RE.search(self.text[: m.start()]):
                continue  # "not sad", "nothing too busy"
            word = _norm(m.group(0))
            for attribute, table in (("mode", MOOD_MODES), ("dynamics", DYNAMICS_WORDS),
                                     ("density", DENSITY_WORDS)):  # fmt: skip
                if word in table:
                    heard[attribute].setdefault(table[word], []).append(m.group(0))
                    self.claim("mood", m)  # a mood word ends no role's clause
        if self.controls.key is not None or "mode" in self.controls.extra:
            heard["mode"] = {}
        for attribute, values in heard.items():
            if len(values) == 1:
                (value, words), = values.items()  # fmt: skip
                self.controls.extra[attribute] = value
                self.note(attribute, ", ".join(words))

    def roles(self) -> None:
        """What a named instrument does: 'the cello plays the melody', 'guitar chords',
        'lead guitar', 'the melody on the oboe' -> extra["roles"] {program: role}."""
        roles: dict[int, str] = {}
        starts = sorted(m[0] for m in self.mentions)
        stops = sorted(s for s, _, a in self.claimed if a in _ROLE_STOPS)
        for start, end, programs, negated in self.mentions:
            if negated or len(set(programs)) != 1 or programs[0] in roles:
                continue
            base = max(0, start - 40)
            role, words = None, ""
            if (pre := _ROLE_PREFIX_RE.search(self.text, base, start)) is not None:
                role, words = ROLE_PREFIXES[pre.group("w").lower()], self.text[pre.start() : end]
            elif (on := _MELODY_ON_RE.search(self.text, base, start)) is not None:
                role, words = "melody", self.text[on.start() : end]
            else:
                limit = min([s for s in starts if s > start] + [s for s in stops if s >= end]
                            + [len(self.text)])  # fmt: skip
                clause = _CLAUSE_END_RE.search(self.text, end, limit)
                word = _ROLE_WORD_RE.search(self.text, end, clause.start() if clause else limit)
                if word is not None:
                    role = ROLE_WORDS[_norm(word.group(0))]
                    if role == "comping" and _HELD_RE.search(self.text, end, word.start()):
                        role = "pad"  # "holds long chords"
                    words = self.text[start : word.end()]
            if role is not None:
                roles[programs[0]] = role
                self.note("roles", words)
        if roles:
            self.controls.extra["roles"] = roles

    def region(self) -> None:
        """A region or tradition ('Irish', 'Scottish'), kept as metadata, not a style."""
        for m in self.matches(_REGION_RE):
            self.controls.extra["region"] = REGIONS[_norm(m.group(0))]
            self.take("region", m)
            return


def parse_prompt(text: str, styles: Mapping[str, str] | None = None) -> ParsedPrompt:
    """Controls stated in a free-text prompt, and the words each one came from.

    An empty prompt gives empty Controls (unconditional generation). Prompts longer than
    MAX_PROMPT_CHARS are truncated with a warning. Explicit numbers outside the supported
    range ('1000 bpm', '500 bars') raise BadInputError rather than being silently dropped.
    `styles`: a model's own style words and the style control each stands for.
    """
    if len(text) > MAX_PROMPT_CHARS:
        logger.warning("prompt of %d characters truncated to %d", len(text), MAX_PROMPT_CHARS)
        text = text[:MAX_PROMPT_CHARS]
    if not text.strip():
        return ParsedPrompt(controls=Controls(), found={}, text=text)
    p = _Parse(text, styles)
    for step in (p.model_style, p.length, p.tempo_number, p.meter, p.chords, p.key, p.mode_only, p.texture,
                 p.genre_phrases, p.instruments, p.style, p.tempo_word, p.length_word,
                 p.character, p.roles, p.region):  # fmt: skip
        step()
    _spread_ensemble(p.controls)
    parsed = ParsedPrompt(
        controls=p.controls.validated(), found=p.found, text=text, language=detect_language(text)
    )
    if parsed.language_notice and text not in _WARNED_LANGUAGE:
        _WARNED_LANGUAGE.add(text)  # a request parses its prompt more than once: warn once
        logger.warning(parsed.language_notice)
    return parsed


_WARNED_LANGUAGE: set[str] = set()


# A choir or an organ plays several voices at once; the corpus gives each voice its own
# track with the same program (a chorale is four choir tracks), and so does the prompt.
ENSEMBLE_PROGRAMS = {52: 4, 53: 4, 54: 4, 19: 4, 48: 4, 49: 4}


def _spread_ensemble(controls: Controls) -> None:
    """One ensemble instrument becomes one voice per part ("four-part ... choir" -> 4)."""
    voices = controls.extra.get("voices")
    programs = controls.instruments
    if not programs or len(programs) != 1:
        return
    program = programs[0]
    if isinstance(voices, int) and 1 < voices <= MAX_VOICES:
        controls.instruments = [program] * voices
    elif program in ENSEMBLE_PROGRAMS and voices is None:
        controls.instruments = [program] * ENSEMBLE_PROGRAMS[program]


# -- explain ------------------------------------------------------------------------------
_EXPLAIN_ORDER = ("style", "key", "mode", "chords", "meter", "tempo", "bars", "seconds",
                  "instruments", "exclude", "roles", "voices", "dynamics", "density",
                  "region")  # fmt: skip


def _tempo_rank(word: str) -> int:
    """How specific a tempo word is: an Italian mark 3, a plain word 2, a character 1."""
    return 3 if word in TEMPO_MARKS else 1 if word in TEMPO_CHARACTER else 2


def _value_text(attribute: str, c: Controls) -> str:
    """An attribute's parsed value, written for a table."""
    if attribute == "tempo":
        return f"{c.tempo:g} bpm"
    if attribute == "instruments":
        return ", ".join(program_name(p) for p in c.instruments or [])
    if attribute == "exclude":
        return "no " + ", ".join(program_name(p) for p in c.extra["exclude"])
    if attribute == "roles":
        return ", ".join(f"{program_name(p)}: {r}" for p, r in c.extra["roles"].items())
    if attribute == "seconds":
        return f"{c.extra['seconds']:g} s"
    value = getattr(c, attribute, None)
    return str(value if value is not None else c.extra.get(attribute, ""))


def explain(
    parsed: ParsedPrompt,
    controls: Controls | None = None,
    flags: Mapping[str, str] | None = None,
) -> list[tuple[str, str, str]]:
    """(attribute, value, words it came from) for everything the parser understood.

    With `controls` (the parsed ones after `apply_overrides`) and `flags` (attribute ->
    the flag that gave it, e.g. {"tempo": "--tempo"}), a given attribute shows its final
    value, its flag, and the prompt's words it overrode."""
    flags = dict(flags or {})
    final = controls or parsed.controls
    rows = []
    for attribute in _EXPLAIN_ORDER:
        if attribute in flags:
            source = flags[attribute]
            if attribute in parsed.found:
                source += f" (over {parsed.found[attribute]!r})"
            rows.append((attribute, _value_text(attribute, final), source))
        elif attribute in parsed.found:
            rows.append((attribute, _value_text(attribute, final), parsed.found[attribute]))
    return rows


# -- explicit attributes -------------------------------------------------------------------
def check_seconds(seconds: float) -> float:
    """A requested duration in seconds, validated (0 < s <= MAX_SECONDS)."""
    if seconds not in SECONDS:
        raise BadInputError(
            f"a length of {seconds:g} s is not allowed: give more than 0 and at most "
            f"{MAX_SECONDS:g} s"
        )
    return float(seconds)


def parse_tempo(value: float | str) -> float:
    """A tempo attribute: a number of bpm ('96', '96 bpm') or a tempo word ('allegro')."""
    if isinstance(value, str):
        # A leading minus is a sign, not a hyphen to fold away: '-200' is -200 bpm (refused).
        sign = -1.0 if value.strip()[:1] in ("-", "\u2212") else 1.0
        t = _norm(value.strip()[1:] if sign < 0 else value)
        if sign < 0 and (m := _TEMPO_FLAG_RE.fullmatch(t)) is not None:
            value = -float(m.group(1))
        elif t in TEMPO_WORDS:
            return float(TEMPO_WORDS[t])
        else:
            m = _TEMPO_FLAG_RE.fullmatch(t)
            if m is None:
                raise BadInputError(
                    f"unknown tempo {value!r}; give bpm (e.g. 96) or one of: "
                    f"{', '.join(TEMPO_WORDS)}"
                )
            value = float(m.group(1))
    bpm = float(value)
    tempo_bin(bpm)  # raises for tempos outside the supported range
    return bpm


def parse_instruments(value: str | Sequence[str | int]) -> list[int]:
    """An instruments attribute: 'violin,cello', '2 violins, viola', 'string quartet', [40, 42].

    Each item is an everyday word, a GM name or a program number, optionally preceded by
    a count; unknown words raise BadInputError listing valid names.
    """
    programs: list[int] = []
    for entry in [value] if isinstance(value, str) else value:
        if isinstance(entry, int):
            programs.extend(parse_instrument(str(entry)))
            continue
        for item in _LIST_SPLIT_RE.split(entry.strip()):
            if item:
                programs.extend(_counted_instrument(item))
    if len(programs) not in VOICES:
        raise BadInputError(
            f"between 1 and {MAX_VOICES} instruments are supported, not {len(programs)}"
        )
    return programs


def _counted_instrument(item: str) -> list[int]:
    """Programs for one list item: '2 violins', '3x flute', 'violins' (plural: two), '40'."""
    m = _FLAG_COUNT_RE.fullmatch(item)
    count, word = (int(m.group(1) or m.group(3)), m.group(2) or m.group(4)) if m else (None, item)
    name = _norm(word)
    if name in _INSTRUMENTS:
        voices, plural = _INSTRUMENTS[name]
    else:
        voices, plural = parse_instrument(word), False  # numbers, GM names; raises if unknown
    if count is None:
        count = PLURAL_VOICES if plural else 1
    return list(voices) * count


def parse_style(value: str, styles: Mapping[str, str] | None = None) -> str:
    """A style attribute: a style/form word, a synonym ('fugal') or one of the model's own
    style words (`styles`); raises listing valid ones."""
    own = {_norm(w): s for w, s in (styles or {}).items()}
    word = _norm(value)
    if word in own:
        return normalize_style(own[word])
    try:
        return normalize_style(_STYLE_WORDS.get(word, value))
    except BadInputError:
        if not own:
            raise
        raise BadInputError(
            f"unknown style {value!r}; this model's own styles: {', '.join(sorted(styles or {}))}; "
            f"other valid styles: {', '.join(STYLES)}"
        ) from None


@functools.lru_cache(maxsize=32)
def _style_words_re(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)(?P<name>{_words_pattern(list(words))})(?:e?s)?(?!\w)", _I)


# A model's own style word must be a word: a letter first, then letters, digits, spaces,
# hyphens or apostrophes (2-40 characters).
_STYLE_WORD_RE = re.compile(r"[a-z][a-z0-9' -]{1,39}")


def check_style_word(text: str) -> tuple[str, str | None]:
    """A new style word for a model (a fine-tuned style's name), in its lookup spelling, and
    the known style it already names (None: a new word). Raises when the word cannot work as
    a prompt word: when the parser reads something else in it ('slow', 'piano', '16 bars')."""
    word = _norm(text)
    shown = " ".join(str(text).lower().split())  # hyphens kept: 'lo-fi', read as 'lo fi' too
    if not _STYLE_WORD_RE.fullmatch(word):
        raise BadInputError(
            f"style name {text!r} cannot be a prompt word: use 2-40 letters, digits, spaces, "
            "hyphens or apostrophes, starting with a letter",
            field="style_name",
        )
    if word in _STYLE_WORDS:
        return shown, normalize_style(_STYLE_WORDS[word])
    parsed = parse_prompt(word)
    other = sorted(a for a in parsed.found if a != "style")
    if other:
        raise BadInputError(
            f"style name {text!r} would be read as {', '.join(other)} in a prompt; choose a "
            "word the prompt parser does not already understand",
            field="style_name",
        )
    return shown, None


def apply_overrides(
    parsed_controls: Controls,
    key: str | None = None,
    meter: str | None = None,
    tempo: float | str | None = None,
    instruments: str | Sequence[str | int] | None = None,
    bars: int | str | None = None,
    seconds: float | str | None = None,
    style: str | None = None,
    styles: Mapping[str, str] | None = None,
) -> Controls:
    """The parsed controls with every given attribute replacing the prompt's value.

    Each attribute is validated (BadInputError names the valid values and carries the
    attribute's name as `field`). A length replaces the prompt's length of either kind:
    `bars` drops a duration read from the prompt and `seconds` drops its bar count; giving
    both is a contradiction and an error. `styles`: the model's own style words (a
    fine-tuned style), which the style attribute accepts too.
    """
    if bars is not None and seconds is not None:
        raise BadInputError("give either bars or seconds, not both", field="bars")
    c = replace(
        parsed_controls,
        instruments=list(parsed_controls.instruments) if parsed_controls.instruments else None,
        extra=dict(parsed_controls.extra),
    )
    if key is not None:
        c.key = _attribute("key", normalize_key, key)
    if meter is not None:
        c.meter = _attribute("meter", normalize_meter, meter)
    if tempo is not None:
        c.tempo = _attribute("tempo", parse_tempo, tempo)
    if instruments is not None:
        c.instruments = _attribute("instruments", parse_instruments, instruments)
    if bars is not None:
        c.bars = _attribute("bars", _parse_bars, bars)
        c.extra.pop("seconds", None)
    if seconds is not None:
        c.extra["seconds"] = _attribute(
            "seconds", lambda v: check_seconds(_to_float(v, "seconds")), seconds
        )
        c.bars = None
    if style is not None:
        c.style = _attribute("style", lambda v: parse_style(v, styles), style)
    return c


def _attribute(name: str, parse, value):
    """`parse(value)`, with the attribute's name on the error when it fails."""
    try:
        return parse(value)
    except BadInputError as e:
        if e.field is None:
            e.field = name
        raise


def _to_float(value: float | str, what: str) -> float:
    """A number, with a one-line error naming `what` when it is not one."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BadInputError(f"{what} needs a number, not {value!r}") from None


def _parse_bars(value: int | str) -> int:
    """A bars attribute, validated against the supported length range."""
    number = _to_float(value, "bars")
    if not math.isfinite(number) or number != int(number):
        raise BadInputError(f"bars needs a whole number, not {value!r}")
    bars_bin(int(number))  # raises for lengths outside 1..MAX_BARS
    return int(number)

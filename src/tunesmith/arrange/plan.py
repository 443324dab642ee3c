"""The arrangement plan: which style, which feel and tempo, and who plays what.

`plan_for(controls, prompt, style)` reads a request. With a style name it plans that style;
with `auto` (or None) it picks one only when the request asks for a band: a band word
("band", "combo", "rhythm section", "groove", "backing") or a genre that means one
("bossa nova", "swing", "funk", "pop ballad"; the styles with `band: true`). Forms that are
a texture of their own (a chorale, a hymn) and folk or dance forms without band words
("a reel for fiddle", "a waltz for piano") are left as the model writes them: None.

Roles: the model writes the melody (and any counter-melody); bass, comping, pad and drums
come from the groove library. Named instruments take roles in the order given: the first
melodic one is the melody, a bass instrument the bass, the drums the drums, a chord
instrument the comping (the next ones a pad), another melodic one a counter-melody. Roles
nobody took come from the style's defaults when the request asks for a band or names no
instruments; otherwise a named chord instrument plays the bass and the comping too ("a
waltz for piano" with the waltz style: piano alone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..conditioning.controls import Controls
from ..conditioning.instruments import DRUMS, program_name
from .library import Style, find_style, load_library

BAND_WORDS = re.compile(
    r"\b(?:band|combo|rhythm section|backing(?: track)?|groove|grooves|grooving)\b"
)
SOLO_WORDS = re.compile(r"\b(?:solo|unaccompanied|a cappella|alone)\b")
NOT_STYLE_WORDS = re.compile(r"\bcountry dance\b|\bsquare dance\b")  # folk forms, not genres
AUTO, NONE = "auto", "none"

BASS_PROGRAMS = set(range(32, 40)) | {43, 58}  # basses, contrabass, tuba
CHORD_PROGRAMS = (
    set(range(0, 8)) | set(range(16, 21)) | set(range(24, 32)) | {46, 21}
    | set(range(48, 52)) | set(range(88, 96))
)  # fmt: skip
PAD_PROGRAMS = set(range(48, 56)) | set(range(88, 96)) | {19}


@dataclass(frozen=True)
class RolePart:
    """One instrument of the arrangement: its role, GM program (-1: drums), who writes it."""

    role: str  # melody, counter-melody, bass, comping, pad, drums
    program: int
    source: str  # "model" (generated), "input" (a continued file), "library" (patterns)

    @property
    def instrument(self) -> str:
        return "drum kit" if self.program == DRUMS else program_name(self.program)


@dataclass
class ArrangementPlan:
    """What the arranger will add to a piece, and what the model is asked to write."""

    style: str
    feel: str
    tempo: float
    meter: str
    progression: str  # "requested" (a progression was given) or "analysed" (per bar)
    parts: list[RolePart] = field(default_factory=list)
    reason: str = ""

    @property
    def model_instruments(self) -> list[int]:
        """The programs the model writes: melody first, then counter-melodies."""
        return [p.program for p in self.parts if p.source == "model"]

    def library_roles(self) -> dict[str, list[int]]:
        """role -> programs for the arranger (the parts the groove library plays)."""
        roles: dict[str, list[int]] = {}
        for p in self.parts:
            if p.source == "library":
                roles.setdefault(p.role, []).append(p.program)
        return roles

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) lines for `tunesmith explain`."""
        rows = [
            ("arrangement", f"{self.style} ({self.reason})" if self.reason else self.style),
            ("feel", self.feel),
            ("meter / tempo", f"{self.meter}, {self.tempo:g} bpm"),
            ("chords", self.progression),
        ]
        for p in self.parts:
            who = {"model": "the model", "input": "the input", "library": "groove library"}
            rows.append((p.role, f"{p.instrument} ({who[p.source]})"))
        return rows


def _phrases(style: Style) -> list[str]:
    return [style.name.replace("-", " "), *style.aliases]


def _match(text: str, library: dict[str, Style]) -> tuple[Style, str] | None:
    """The style whose words the text uses: a word combination (match_all) first, then the
    longest alias."""
    best: tuple[int, Style, str] | None = None
    for style in library.values():
        for words in style.match_all:
            if all(re.search(rf"\b{re.escape(w)}\b", text) for w in words):
                score = 1000 + sum(len(w) for w in words)
                if best is None or score > best[0]:
                    best = (score, style, " + ".join(words))
        for phrase in _phrases(style):
            pattern = re.escape(phrase).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]*")
            if re.search(rf"\b{pattern}\b", text):
                if best is None or len(phrase) > best[0]:
                    best = (len(phrase), style, phrase)
    return None if best is None else (best[1], best[2])


def _auto_style(controls: Controls, text: str, band: bool) -> tuple[Style, str] | None:
    library = load_library()
    found = _match(NOT_STYLE_WORDS.sub(" ", text), library)
    if found is None and controls.style:
        found = _match(NOT_STYLE_WORDS.sub(" ", controls.style), library)
        if found is not None:
            found = (found[0], f"style {controls.style}")
    if found is None and band:
        fits = [s for s in library.values() if s.band and s.auto]
        if controls.meter:
            fits = [s for s in fits if controls.meter in s.meters]
        pop = library.get("pop")
        choice = pop if pop in fits else (fits[0] if fits else None)
        return None if choice is None else (choice, "band words")
    if found is None:
        return None
    style, words = found
    if not style.auto or not (style.band or band):
        return None
    if controls.meter and controls.meter not in style.meters:
        return None
    return style, f"the words '{words}'"


def _parts(style: Style, named: list[int] | None, full: bool, melody: list[int] | None):
    parts: list[RolePart] = []
    taken: dict[str, int] = {}
    if melody:
        parts += [RolePart("melody", p, "input") for p in melody]
        taken["melody"] = melody[0]
    for p in named or []:
        if p == DRUMS:
            role = "drums"
        elif p in BASS_PROGRAMS and "bass" not in taken and (taken or len(named or []) > 1):
            role = "bass"
        elif "melody" not in taken:
            role = "melody"
        elif p in CHORD_PROGRAMS:
            role = "comping" if "comping" not in taken else "pad"
        else:
            role = "counter-melody"
        if role == "drums" and "drums" in taken:
            continue
        source = "model" if role in ("melody", "counter-melody") else "library"
        parts.append(RolePart(role, p, source))
        taken.setdefault(role, p)
    if "melody" not in taken:
        parts.insert(0, RolePart("melody", style.instruments["melody"], "model"))
        taken["melody"] = style.instruments["melody"]
    chordal = [p for p in (named or []) if p in CHORD_PROGRAMS]
    if not full and not chordal:
        full = True  # nobody named can play the chords: the style's band does
    for role in ("bass", "comping", "pad", "drums"):
        if role in taken:
            continue
        if full and role in style.instruments:
            parts.append(RolePart(role, style.instruments[role], "library"))
        elif not full and role in ("bass", "comping"):
            parts.append(RolePart(role, chordal[0], "library"))
    return parts


def plan_for(
    controls: Controls,
    prompt: str = "",
    style: str | None = None,
    *,
    melody: list[int] | None = None,
    requested_chords: bool = False,
) -> ArrangementPlan | None:
    """The arrangement a request asks for, or None (the piece stays as the model writes it).

    `style`: a library style (or alias), "auto"/None (choose from the controls' style and
    the prompt's words; None when no band is asked for), "none". `melody`: the programs of
    a given melody (a continued file): they keep the melody role, and the band is the
    style's. `requested_chords`: a progression was requested (else chords are analysed)."""
    text = " ".join((prompt or "").lower().split())
    if style is not None and style.strip().lower() == NONE:
        return None
    band = bool(BAND_WORDS.search(text))
    if style is None or style.strip().lower() == AUTO:
        if SOLO_WORDS.search(text) and not band:
            return None
        found = _auto_style(controls, text, band)
        if found is None:
            return None
        chosen, reason = found
    else:
        chosen, reason = find_style(style), "asked for by name"
    named = None if melody else controls.instruments
    full = band or not named or bool(melody)
    parts = _parts(chosen, named, full, melody)
    tempo = controls.tempo if controls.tempo is not None else chosen.tempo[1]
    requested = requested_chords or bool(controls.extra.get("chords"))
    return ArrangementPlan(
        style=chosen.name,
        feel=chosen.feel_text,
        tempo=float(tempo),
        meter=controls.meter or chosen.meters[0],
        progression="requested" if requested else "analysed (one chord per bar)",
        parts=parts,
        reason=reason,
    )

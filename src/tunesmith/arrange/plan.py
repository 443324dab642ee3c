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
instruments, or a beat in the style ("a hip hop beat with electric piano": a beat is the
drums, bass and keys); otherwise a named chord instrument plays the bass and the comping
too ("a waltz for piano" with the waltz style: piano alone).

The prompt parser's readings come first. A role the prompt names ("the piano plays the
lead", "guitar chords", `controls.extra["roles"]`) is taken before the order above is
applied, unless the instrument cannot play it (a drum kit has no melody, a flute neither
chords nor a bass line below C3): then it takes the role the order gives it and the plan
says why. An excluded instrument ("no drums", `controls.extra["exclude"]`) and its kin
("no piano": no electric piano either) get no part from the style; the plan lists what it
left out. Instruments the request names explicitly are always kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..conditioning.controls import Controls
from ..conditioning.instruments import DRUMS, PIANO, program_name
from .arranger import instrument_range
from .library import Style, find_style, load_library, nearest_styles

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
HELD_CHORD_PROGRAMS = CHORD_PROGRAMS | PAD_PROGRAMS | {61, 62, 63}  # + brass sections
LINE_ROLES = ("melody", "counter-melody")  # the model writes these
SINGLE_ROLES = ("melody", "bass", "drums")  # one instrument each
BASS_CEILING = 48  # C3: a bass line lies below it, so a bass player must reach under it
# Instruments that stand for each other when one is left out: "no piano" means no electric
# piano comping either, "no bass" no contrabass; "no organ" still allows a harmonica.
KIN: tuple[frozenset[int], ...] = tuple(
    frozenset(r) for r in (
        range(0, 8), range(16, 21), range(24, 32), [*range(32, 40), 43], range(48, 52),
        range(52, 55), range(56, 64), range(64, 72), range(72, 80), range(80, 88),
        range(88, 96),
    )
)  # fmt: skip
MELODY_FALLBACKS = (PIANO, 73, 40, 24)  # piano, flute, violin, guitar: when the style's is out


@dataclass(frozen=True)
class RolePart:
    """One instrument of the arrangement: its role, GM program (-1: drums), who writes it."""

    role: str  # melody, counter-melody, bass, comping, pad, drums
    program: int
    source: str  # "model" (generated), "input" (a continued file), "library" (patterns)
    note: str = ""  # why it plays this role when the request asked otherwise

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
    left_out: list[RolePart] = field(default_factory=list)  # the style's, excluded by the prompt

    @property
    def model_instruments(self) -> list[int]:
        """The programs the model writes: melody first, then counter-melodies."""
        written = [p for p in self.parts if p.source == "model"]
        return [p.program for p in sorted(written, key=lambda p: p.role != "melody")]

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
            note = f"; {p.note}" if p.note else ""
            rows.append((p.role, f"{p.instrument} ({who[p.source]}{note})"))
        for p in self.left_out:
            rows.append(("left out", f"{p.role}: {p.instrument} (the prompt excludes it)"))
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


def _style_beat(text: str, style: Style) -> bool:
    """Whether the text asks for a beat in the style ("a hip hop beat", "a reggae beat"):
    a producer's word for a track of drums, bass and keys, so the style's band plays."""
    for phrase in _phrases(style):
        pattern = re.escape(phrase).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]*")
        if re.search(rf"\b{pattern}[\s-]+beats?\b", text):
            return True
    return False


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
        return None if choice is None else (choice, "band words" + _lacking(controls, library))
    if found is None:
        return None
    style, words = found
    if not style.auto or not (style.band or band):
        return None
    if controls.meter and controls.meter not in style.meters:
        return None
    generic = BAND_WORDS.fullmatch(words) is not None  # "a tango with a band": only 'band'
    return style, f"the words '{words}'" + (_lacking(controls, library) if generic else "")


def _lacking(controls: Controls, library: dict[str, Style]) -> str:
    """When the request's style has no groove in the library: the note that says so and
    names the nearest styles (the band then plays the generic style chosen)."""
    if not controls.style or _match(controls.style, library) is not None:
        return ""
    near = ", ".join(nearest_styles(controls.style))
    return f"; the library has no {controls.style} style" + (f", nearest: {near}" if near else "")


def _name(program: int) -> str:
    return "the drum kit" if program == DRUMS else f"the {program_name(program).lower()}"


def _misfit(program: int, role: str) -> str | None:
    """Why `program` cannot play `role` (None: it can)."""
    if program == DRUMS:
        return None if role == "drums" else f"a drum kit plays no {role}"
    if role == "drums":
        return f"{_name(program)} is no drum kit"
    if role == "bass" and instrument_range(program)[0] >= BASS_CEILING:
        return f"{_name(program)} does not reach below C3"
    if role in ("comping", "pad") and program not in HELD_CHORD_PROGRAMS:
        return f"{_name(program)} plays no chords"
    return None


def _default_role(program: int, taken: dict[str, int], many: bool) -> str:
    """The role the order of naming gives an instrument (see the module's docstring)."""
    if program == DRUMS:
        return "drums"
    if program in BASS_PROGRAMS and "bass" not in taken and (taken or many):
        return "bass"
    if "melody" not in taken:
        return "melody"
    if program in CHORD_PROGRAMS:
        return "comping" if "comping" not in taken else "pad"
    return "counter-melody"


def _part(role: str, program: int, note: str = "") -> RolePart:
    return RolePart(role, program, "model" if role in LINE_ROLES else "library", note)


def _kin(programs: list[int]) -> set[int]:
    """The programs an exclusion covers: each excluded one and its kin."""
    out: set[int] = set()
    for p in programs:
        out |= next((set(k) for k in KIN if p in k), {p})
    return out


def _named_parts(
    named: list[int], roles: dict[int, str], taken: dict[str, int], band: bool = False
) -> list[RolePart]:
    """Roles for the named instruments (filling `taken`): first those the prompt gives,
    where the instrument can play them, then the others in the order named. In a band
    (`band`: the style's players fill the roles nobody took) a second bass instrument
    doubles the bass line rather than playing the tune, and the plan says so."""
    slots: list[RolePart | None] = [None] * len(named)
    notes: dict[int, str] = {}
    asked: set[int] = set()  # only an instrument's first mention takes the role asked for
    given: set[int] = set()  # took a library role: its other voices add no part
    for i, p in enumerate(named):
        role = roles.get(p)
        if role is None or p in asked:
            continue
        asked.add(p)
        why = _misfit(p, role)
        if why is None and role in SINGLE_ROLES and role in taken:
            why = f"the {role} is {_name(taken[role])}'s"
        if why is not None:
            notes[i] = f"asked for the {role}, but {why}"
            continue
        slots[i] = _part(role, p)
        taken.setdefault(role, p)
        if role not in LINE_ROLES:
            given.add(p)
    for i, p in enumerate(named):
        if slots[i] is not None or p in given:
            continue
        role = _default_role(p, taken, len(named) > 1)
        if role == "drums" and "drums" in taken:
            continue
        if band and p in BASS_PROGRAMS and "bass" in taken and role in LINE_ROLES:
            role = "bass"
            notes[i] = notes.get(i) or f"the bass is {_name(taken['bass'])}'s: it doubles it"
        slots[i] = _part(role, p, notes.get(i, ""))
        taken.setdefault(role, p)
    return [s for s in slots if s is not None]


def _parts(
    style: Style,
    named: list[int] | None,
    full: bool,
    melody: list[int] | None,
    roles: dict[int, str],
    excluded: set[int],
) -> tuple[list[RolePart], list[RolePart]]:
    """(parts, the style's parts left out): the input's melody, the named instruments, then
    the style's band for the roles nobody took (see the module's docstring)."""
    named = named or []
    taken: dict[str, int] = {"melody": melody[0]} if melody else {}
    parts = [RolePart("melody", p, "input") for p in melody or []]
    parts += _named_parts(named, roles, taken, full)
    if "melody" not in taken:
        program, note = style.instruments["melody"], ""
        if program in excluded:
            note = f"instead of {_name(program)}, which the prompt excludes"
            program = next((p for p in MELODY_FALLBACKS if p not in excluded), PIANO)
        parts.insert(0, _part("melody", program, note))
    chordal = [p for p in named if p in CHORD_PROGRAMS]
    if not full and not chordal:
        full = True  # nobody named can play the chords: the style's band does
    left_out: list[RolePart] = []
    for role in ("bass", "comping", "pad", "drums"):
        if role in taken:
            continue
        if full and role in style.instruments:
            part = _part(role, style.instruments[role])
            (left_out if part.program in excluded else parts).append(part)
        elif not full and (role == "bass" or (role == "comping" and "pad" not in taken)):
            parts.append(_part(role, chordal[0]))  # a held pad already gives the chords
    return parts, left_out


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
    band = band or (chosen.drums is not None and _style_beat(text, chosen))
    full = band or not named or bool(melody)
    roles = {int(p): str(r) for p, r in (controls.extra.get("roles") or {}).items()}
    excluded = _kin([int(p) for p in controls.extra.get("exclude") or []])
    parts, left_out = _parts(chosen, named, full, melody, roles, excluded)
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
        left_out=left_out,
    )

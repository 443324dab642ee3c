"""The groove library: one YAML file per style in `grooves/`, loaded and validated here.

A style file says which meters it fits, its feel (straight, swing or shuffle, with a
swing ratio), its tempo range, the General MIDI instrument each role plays by default,
and step grids for the drums (one row per drum sound), the bass (chord-relative degrees)
and the comping (block chords, arpeggios, strums; see docs/ARRANGE.md for the symbols).
Every step grid has a main bar, optional variations (played on alternate bars) and an
optional fill (the last bar of each phrase).

A broken file is one BadInputError line naming the file and the field.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ..conditioning.controls import normalize_meter
from ..errors import BadInputError

GROOVES = Path(__file__).with_name("grooves")
DRUMS_PROGRAM = -1  # the drum kit, as in conditioning.instruments.DRUMS

# General MIDI percussion (channel 10) under the names a style file uses.
DRUM_NOTES: dict[str, int] = {
    "kick": 36, "kick2": 35, "side-stick": 37, "snare": 38, "clap": 39, "snare2": 40,
    "floor-tom": 41, "closed-hat": 42, "low-tom": 45, "pedal-hat": 44, "mid-tom": 47,
    "open-hat": 46, "high-tom": 50, "crash": 49, "ride": 51, "china": 52, "ride-bell": 53,
    "tambourine": 54, "splash": 55, "cowbell": 56, "crash2": 57, "vibraslap": 58,
    "ride2": 59, "high-bongo": 60, "low-bongo": 61, "mute-conga": 62, "open-conga": 63,
    "low-conga": 64, "high-timbale": 65, "low-timbale": 66, "high-agogo": 67,
    "low-agogo": 68, "cabasa": 69, "shaker": 70, "guiro": 73, "claves": 75,
    "high-woodblock": 76, "low-woodblock": 77, "mute-triangle": 80, "triangle": 81,
}  # fmt: skip

# Velocity of a hit by its symbol: accent, normal, soft, ghost.
VELOCITY = {"X": 112, "x": 92, "o": 70, "g": 44}
REST, HOLD = ".", "-"
BASS_SYMBOLS = set("R3578246ABL")  # degrees: see docs/ARRANGE.md
COMP_SYMBOLS = set("Xxog1234HLdDuU")
FEELS = ("straight", "swing", "shuffle")
ROLES = ("melody", "bass", "comping", "pad", "drums")
KINDS = (
    "block", "arpeggio", "alberti", "oom-pah", "strum", "montuno", "bossa", "stride",
    "skank", "chop", "pad", "chorale", "shell",
)  # fmt: skip
MIN_TEMPO, MAX_TEMPO = 20.0, 400.0


@dataclass(frozen=True)
class Line:
    """One bar of a pitched part: symbols per step and optional accents (X x o g)."""

    pattern: str
    accents: str | None = None

    def velocity(self, step: int, default: str = "x") -> int:
        a = self.accents[step] if self.accents else default
        return VELOCITY.get(a, VELOCITY[default])


DrumBar = dict[int, str]  # GM note -> velocity symbols per step


@dataclass(frozen=True)
class Part:
    """A role's patterns: the main bar, variations, a fill, on a grid of `steps` a bar."""

    steps: int
    main: Any  # Line or DrumBar
    variations: tuple = ()
    fill: Any = None
    kind: str = "block"  # comping and pad: how the chord is played
    voices: int = 3  # comping and pad: notes in a chord
    range: tuple[int, int] = (52, 76)  # comping and pad: where the voicing lies

    def for_bar(self, kind: str, index: int):
        """The pattern for a bar of this kind ("main", "variation", "fill")."""
        if kind == "fill" and self.fill is not None:
            return self.fill
        if kind == "variation" and self.variations:
            return self.variations[index % len(self.variations)]
        return self.main


@dataclass(frozen=True)
class Style:
    """One style of the library (a file in grooves/)."""

    name: str
    title: str
    description: str
    meters: tuple[str, ...]
    feel: str
    swing: float
    swing_unit: int
    tempo: tuple[float, float, float]  # min, default, max (bpm)
    instruments: dict[str, int]  # role -> GM program (drums: -1)
    drums: Part | None
    bass: Part | None
    comping: Part | None
    pad: Part | None
    aliases: tuple[str, ...] = ()
    match_all: tuple[tuple[str, ...], ...] = ()
    band: bool = True  # a genre word for it asks for a band
    auto: bool = True  # may `auto` pick it at all
    fill_every: int = 4
    crash: bool = True
    path: Path = field(default=GROOVES, compare=False)

    @property
    def feel_text(self) -> str:
        if self.feel == "straight":
            return "straight"
        return f"{self.feel} {self.swing:.2f} ({self.swing_unit}ths)"


# -- validation -----------------------------------------------------------------------------
class _Checker:
    """Reads one style file; every problem is one line naming the file and the field."""

    def __init__(self, path: Path, data: Any) -> None:
        self.path = path
        self.data = data

    def fail(self, where: str, problem: str) -> BadInputError:
        return BadInputError(f"groove file {self.path.name}: {where}: {problem}")

    def get(self, d: Any, key: str, where: str, default: Any = ...) -> Any:
        if not isinstance(d, dict):
            raise self.fail(where, "must be a mapping")
        if key not in d:
            if default is ...:
                raise self.fail(f"{where}.{key}" if where else key, "is missing")
            return default
        return d[key]

    def number(self, value: Any, where: str, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"must be a number, not {value!r}")
        if not low <= value <= high:
            raise self.fail(where, f"{value:g} is outside {low:g}-{high:g}")
        return float(value)

    def words(self, value: Any, where: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
            raise self.fail(where, "must be a list of words")
        return tuple(w.lower() for w in value)

    def grid(self, value: Any, steps: int, symbols: set[str], where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"must be a string of steps, not {type(value).__name__}")
        g = re.sub(r"[\s|]+", "", value)
        if len(g) != steps:
            raise self.fail(where, f"has {len(g)} steps, expected {steps}")
        bad = sorted(set(g) - symbols - {REST, HOLD})
        if bad:
            raise self.fail(where, f"unknown symbol {bad[0]!r}")
        return g

    def line(self, value: Any, steps: int, symbols: set[str], where: str) -> Line:
        if isinstance(value, str):
            return Line(self.grid(value, steps, symbols, where))
        pattern = self.grid(self.get(value, "pattern", where), steps, symbols, f"{where}.pattern")
        accents = self.get(value, "accents", where, None)
        if accents is not None:
            accents = self.grid(accents, steps, set(VELOCITY), f"{where}.accents")
        if not any(c not in (REST, HOLD) for c in pattern):
            raise self.fail(where, "plays nothing")
        return Line(pattern, accents)

    def drum_bar(self, value: Any, steps: int, where: str) -> DrumBar:
        if not isinstance(value, dict) or not value:
            raise self.fail(where, "must map drum names to step strings")
        bar: DrumBar = {}
        for name, grid in value.items():
            note = DRUM_NOTES.get(str(name))
            if note is None:
                raise self.fail(
                    f"{where}.{name}", f"unknown drum; known: {', '.join(sorted(DRUM_NOTES))}"
                )
            bar[note] = self.grid(grid, steps, set(VELOCITY), f"{where}.{name}")
        return bar

    def part(self, key: str, read) -> Part | None:
        d = self.get(self.data, key, "", None)
        if d is None:
            return None
        steps = int(self.number(self.get(d, "steps", key), f"{key}.steps", 1, 96))
        main = read(self.get(d, "main", key), steps, f"{key}.main")
        variations = self.get(d, "variations", key, []) or []
        if not isinstance(variations, list):
            raise self.fail(f"{key}.variations", "must be a list")
        vs = tuple(read(v, steps, f"{key}.variations[{i}]") for i, v in enumerate(variations))
        fill = self.get(d, "fill", key, None)
        extra: dict[str, Any] = {}
        if key in ("comping", "pad"):
            kind = self.get(d, "kind", key, "block")
            if kind not in KINDS:
                raise self.fail(f"{key}.kind", f"{kind!r} is not one of {', '.join(KINDS)}")
            voices = int(self.number(self.get(d, "voices", key, 3), f"{key}.voices", 3, 5))
            rng = self.get(d, "range", key, [52, 76])
            if not (isinstance(rng, list) and len(rng) == 2):
                raise self.fail(f"{key}.range", "must be [lowest, highest] MIDI pitches")
            low = int(self.number(rng[0], f"{key}.range", 21, 108))
            high = int(self.number(rng[1], f"{key}.range", 21, 108))
            if high - low < 12:
                raise self.fail(f"{key}.range", "must span at least an octave")
            extra = {"kind": kind, "voices": voices, "range": (low, high)}
        fill_part = None if fill is None else read(fill, steps, f"{key}.fill")
        return Part(steps, main, vs, fill_part, **extra)

    def style(self) -> Style:
        d = self.data
        if not isinstance(d, dict):
            raise self.fail("top level", "must be a mapping")
        name = self.get(d, "name", "")
        if name != self.path.stem:
            raise self.fail("name", f"{name!r} must match the file name {self.path.stem!r}")
        meters = self.get(d, "meters", "")
        if not isinstance(meters, list) or not meters:
            raise self.fail("meters", "must be a non-empty list such as ['4/4']")
        try:
            meters = tuple(normalize_meter(str(m)) for m in meters)
        except BadInputError as e:
            raise self.fail("meters", str(e)) from None
        feel = self.get(d, "feel", "", "straight")
        if feel not in FEELS:
            raise self.fail("feel", f"{feel!r} is not one of {', '.join(FEELS)}")
        swing = self.number(self.get(d, "swing", "", 0.5), "swing", 0.5, 0.8)
        unit = self.get(d, "swing_unit", "", 8)
        if unit not in (8, 16):
            raise self.fail("swing_unit", "must be 8 (eighths) or 16 (sixteenths)")
        t = self.get(d, "tempo", "")
        lo = self.number(self.get(t, "min", "tempo"), "tempo.min", MIN_TEMPO, MAX_TEMPO)
        hi = self.number(self.get(t, "max", "tempo"), "tempo.max", lo, MAX_TEMPO)
        default = self.number(self.get(t, "default", "tempo"), "tempo.default", lo, hi)
        instruments = self.get(d, "instruments", "")
        if not isinstance(instruments, dict):
            raise self.fail("instruments", "must map roles to GM programs")
        programs: dict[str, int] = {}
        for role, program in instruments.items():
            if role not in ROLES:
                raise self.fail(f"instruments.{role}", f"unknown role; roles: {', '.join(ROLES)}")
            if program is None or program is False:
                continue
            if role == "drums":
                programs[role] = DRUMS_PROGRAM
                continue
            programs[role] = int(self.number(program, f"instruments.{role}", 0, 127))
        if "melody" not in programs:
            raise self.fail("instruments.melody", "is missing")
        style = Style(
            name=name,
            title=str(self.get(d, "title", "", name)),
            description=str(self.get(d, "description", "", "")),
            meters=meters,
            feel=feel,
            swing=swing,
            swing_unit=int(unit),
            tempo=(lo, default, hi),
            instruments=programs,
            drums=self.part("drums", self.drum_bar),
            bass=self.part("bass", lambda v, s, w: self.line(v, s, BASS_SYMBOLS, w)),
            comping=self.part("comping", lambda v, s, w: self.line(v, s, COMP_SYMBOLS, w)),
            pad=self.part("pad", lambda v, s, w: self.line(v, s, COMP_SYMBOLS, w)),
            aliases=self.words(self.get(d, "aliases", "", None), "aliases"),
            match_all=tuple(
                self.words(w, f"match_all[{i}]")
                for i, w in enumerate(self.get(d, "match_all", "", None) or [])
            ),
            band=bool(self.get(d, "band", "", True)),
            auto=bool(self.get(d, "auto", "", True)),
            fill_every=int(self.number(self.get(d, "fill_every", "", 4), "fill_every", 2, 16)),
            crash=bool(self.get(d, "crash", "", True)),
            path=self.path,
        )
        for role in ("bass", "comping", "pad", "drums"):
            if role in programs and getattr(style, role) is None:
                raise self.fail(role, f"is missing (instruments gives a {role} instrument)")
        return style


def load_style(path: str | Path) -> Style:
    """Read and validate one style file; BadInputError names the file and field at fault."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as e:
        raise BadInputError(f"groove file {p.name}: cannot read ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"line {mark.line + 1}" if mark is not None else "top level"
        problem = getattr(e, "problem", None) or "not valid YAML"
        raise BadInputError(f"groove file {p.name}: {at}: {problem}") from None
    return _Checker(p, data).style()


@lru_cache(maxsize=4)
def _load_folder(folder: Path) -> dict[str, Style]:
    styles = {}
    for path in sorted(folder.glob("*.yaml")):
        style = load_style(path)
        styles[style.name] = style
    return styles


def load_library(folder: str | Path | None = None) -> dict[str, Style]:
    """Every style in the library (default: the shipped grooves/), by name."""
    return dict(_load_folder(Path(folder) if folder is not None else GROOVES))


def style_names(folder: str | Path | None = None) -> list[str]:
    return sorted(load_library(folder))


def _key(text: str) -> str:
    return re.sub(r"[\s_]+", "-", text.strip().lower())


def nearest_styles(name: str, n: int = 3, folder: str | Path | None = None) -> list[str]:
    """The library's styles whose names (or aliases) are closest to `name`."""
    lib = load_library(folder)
    names = {s: s for s in lib}
    for style in lib.values():
        for alias in style.aliases:
            names.setdefault(_key(alias), style.name)
    found: list[str] = []
    for match in difflib.get_close_matches(_key(name), list(names), n=3 * n, cutoff=0.4):
        if names[match] not in found:
            found.append(names[match])
    return found[:n]


def find_style(name: str, folder: str | Path | None = None) -> Style:
    """The style named `name` (or one of its aliases); an unknown name is one error line
    that names the nearest styles."""
    lib = load_library(folder)
    key = _key(name)
    if key in lib:
        return lib[key]
    for style in lib.values():
        if key in (_key(a) for a in style.aliases):
            return style
    near = nearest_styles(name, folder=folder)
    hint = f"nearest: {', '.join(near)}" if near else f"styles: {', '.join(sorted(lib))}"
    raise BadInputError(
        f"no arrangement style {name!r} in the groove library; {hint} (tunesmith styles lists all)",
        field="arrangement",
    )

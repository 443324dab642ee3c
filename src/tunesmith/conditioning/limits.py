"""The one table of limits and the shared word lists.

Every bound a user can run into (tempo, length, voices, sampling settings, long-form
chunks, stream duration, ...) is defined here once, with the reason for its values, and
the CLI, the Python API, the HTTP server's schemas and the live stream all read it. The
server may cap further for its own capacity (`serve/limits.py`: `max_bars`,
`max_candidates`, ...), but never beyond these bounds.

Messages name the attribute in plain words ("bars must be between 1 and 256"); a
front end adds its own spelling (the CLI appends the flag it was given).

Every front end applies the same bound, the one the docs promise:

- tempo 20-400 bpm (the range the tempo control tokens cover);
- temperature in (0, 2] (the presets stay well inside it);
- candidates 1-64;
- voices 1-16 (the instrument slots of the tokenizer);
- seeds 0 to 2**63 - 1 (torch cannot take larger ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import BadInputError


@dataclass(frozen=True)
class Bound:
    """A closed (or, with `low_open`, left-open) range of valid values for one setting."""

    what: str  # the setting in plain words, as messages name it
    low: float
    high: float
    unit: str = ""  # appended to the high end in messages: " bpm", " s"
    low_open: bool = False  # the low end itself is not allowed (temperature 0)
    integer: bool = False

    def __contains__(self, value: object) -> bool:
        try:
            v = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        if not math.isfinite(v):
            return False
        if self.integer and v != int(v):
            return False
        above = v > self.low if self.low_open else v >= self.low
        return above and v <= self.high

    def message(self) -> str:
        low, high = _fmt(self.low), _fmt(self.high)
        if self.low_open:
            return f"{self.what} must be greater than {low} and at most {high}{self.unit}"
        return f"{self.what} must be between {low} and {high}{self.unit}"

    def check(self, value, field: str | None = None):
        """`value` unchanged when it is inside the bound; BadInputError otherwise."""
        if value not in self:
            raise BadInputError(self.message(), field=field)
        return value

    def pydantic(self) -> dict:
        """The bound as pydantic `Field` keywords (gt/ge, le)."""
        low = int(self.low) if self.integer else self.low
        high = int(self.high) if self.integer else self.high
        return {("gt" if self.low_open else "ge"): low, "le": high}

    def to_dict(self) -> dict:
        """The bound for clients (`/v1/info`)."""
        low = int(self.low) if self.integer else self.low
        high = int(self.high) if self.integer else self.high
        return {("min_exclusive" if self.low_open else "min"): low, "max": high}


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# -- musical attributes --------------------------------------------------------------------
# The tempo control tokens bin 20-400 bpm (quarter notes); beyond that a number is a typo.
TEMPO = Bound("tempo", 20, 400, " bpm")
# The length control tokens go up to 256 bars (conditioning/controls.py BAR_BINS).
BARS = Bound("bars", 1, 256, integer=True)
# A requested duration: one hour; beyond it a request is a typo, not a piece.
SECONDS = Bound("seconds", 0, 3600, " s", low_open=True)
# One instrument slot per voice in the tokenizer.
VOICES = Bound("the number of instruments", 1, 16, integer=True)
# General MIDI programs (drums are -1, outside this range on purpose).
PROGRAM = Bound("MIDI program", 0, 127, integer=True)
# Longer prompts are truncated (with a warning), never refused; servers cap lower.
PROMPT_CHARS = 1000
DEFAULT_TEMPO = 120.0  # bpm, when neither the prompt nor an attribute gives one
DEFAULT_METER = "4/4"

# -- sampling -------------------------------------------------------------------------------
TEMPERATURE = Bound("temperature", 0, 2, low_open=True)
TOP_K = Bound("top-k", 0, 1000, integer=True)  # 0 turns it off
TOP_P = Bound("top-p", 0, 1, low_open=True)
REPETITION_PENALTY = Bound("repetition penalty", 1, 5)  # 1 turns it off
CFG = Bound("guidance scale (cfg)", 0, 20)  # 1 turns it off
KEY_GUIDANCE = Bound("key guidance", 0, 5)  # 0 turns it off
SEED = Bound("seed", 0, 2**63 - 1, integer=True)
# Candidates generated to keep the best one (per piece, or per chunk of a long piece).
CANDIDATES = Bound("candidates", 1, 64, integer=True)

# -- long-form ------------------------------------------------------------------------------
CHUNKS = Bound("chunks", 1, 64, integer=True)
# New bars per chunk: at most half the longest length a control token names.
CHUNK_BARS = Bound("chunk bars", 1, 128, integer=True)
FORM_SECTIONS = 16  # letters of a form such as AABA

# -- batch ----------------------------------------------------------------------------------
NUM_CLIPS = Bound("the number of clips", 1, 100_000, integer=True)

# -- live stream ----------------------------------------------------------------------------
STREAM_DURATION = Bound("duration", 0, 24 * 3600, " s (24 hours)", low_open=True)
LOOKAHEAD_BARS = Bound("look-ahead", 0.25, 16, " bars")

# -- names of the settings every surface offers ----------------------------------------------
# The sampling options, under the same names on the CLI (--top-k ...), the Python API
# (Composer.generate / continue_midi / generate_long keywords), the server's request
# schemas and the stream. `candidates` goes with them wherever whole pieces are made.
SAMPLING_OPTIONS: tuple[str, ...] = (
    "preset", "temperature", "top_k", "top_p", "repetition_penalty", "cfg", "seed",
    "key_guidance",
)  # fmt: skip
# The musical attributes that override what the prompt says.
ATTRIBUTES: tuple[str, ...] = ("key", "meter", "tempo", "instruments", "bars", "seconds", "style")

# -- word lists -----------------------------------------------------------------------------
# Tempo words -> bpm. Italian terms take the middle of their usual range.
TEMPO_WORDS: dict[str, float] = {
    "grave": 40, "largo": 50, "lento": 56, "larghetto": 62, "adagio": 70, "adagietto": 74,
    "andante": 88, "andantino": 96, "moderato": 108, "allegretto": 116, "allegro": 132,
    "allegro moderato": 120, "allegro vivace": 150, "vivace": 160, "presto": 184,
    "prestissimo": 210,
    "very slow": 50, "slow": 64, "slowly": 64, "moderately slow": 76, "relaxed": 80,
    "laid back": 80, "moderate": 100, "moderately fast": 120, "upbeat": 128,
    "brisk": 132, "lively": 140, "fast": 144, "quick": 144, "up tempo": 150, "uptempo": 150,
    "energetic": 150, "very fast": 184, "medium tempo": 108, "mid tempo": 108,
    "mid-tempo": 108, "midtempo": 108, "stately": 80, "maestoso": 84, "walking pace": 96,
    "meditative": 60, "contemplative": 66, "serene": 66, "tranquil": 66, "peaceful": 70,
    "sleepy": 56, "languid": 60, "relaxing": 80, "chill": 84, "chilled": 84,
    "frantic": 184, "frenetic": 184,
}  # fmt: skip

# Italian tempo marks -> their usual metronome range in bpm (the TEMPO_WORDS value lies
# inside). A mark is the most specific tempo word: "fast ... allegretto" is an allegretto.
TEMPO_MARKS: dict[str, tuple[int, int]] = {
    "grave": (25, 45), "largo": (40, 60), "lento": (45, 60), "larghetto": (60, 66),
    "adagio": (66, 76), "adagietto": (70, 80), "andante": (76, 108), "andantino": (80, 108),
    "moderato": (108, 120), "allegretto": (100, 128), "allegro moderato": (112, 124),
    "allegro": (120, 156), "allegro vivace": (140, 170), "vivace": (156, 176),
    "presto": (168, 200), "prestissimo": (200, 240),
}  # fmt: skip

# Tempo words that describe a character more than a speed: the weakest, used only when
# the text has no mark and no plain tempo word ("lively ... slow" is slow).
TEMPO_CHARACTER: frozenset[str] = frozenset({
    "relaxed", "laid back", "upbeat", "lively", "energetic", "stately", "maestoso",
    "meditative", "contemplative", "serene", "tranquil", "peaceful", "sleepy", "languid",
    "relaxing", "chill", "chilled", "frantic", "frenetic",
})  # fmt: skip

# Mood words -> the mode they imply when the text names no key ("a sad waltz": minor).
# Words that could go either way ("wistful", "bittersweet", "playful") are left out.
MOOD_MODES: dict[str, str] = {
    **dict.fromkeys((
        "sad", "dark", "melancholy", "melancholic", "sombre", "somber", "gloomy", "mournful",
        "sorrowful", "tragic", "brooding", "ominous", "sinister", "menacing", "bleak",
        "grim", "spooky", "eerie", "moody", "doleful",
    ), "minor"),
    **dict.fromkeys((
        "happy", "uplifting", "joyful", "joyous", "cheerful", "sunny", "jubilant",
        "optimistic", "celebratory", "triumphant", "festive", "carefree",
    ), "major"),
}  # fmt: skip

# Words for how loud the music is, and how busy its texture.
DYNAMICS_WORDS: dict[str, str] = {
    **dict.fromkeys(("soft", "softly", "gentle", "gently", "quiet", "quietly", "delicate",
                     "tender", "hushed", "whispered", "pianissimo"), "soft"),
    **dict.fromkeys(("loud", "loudly", "powerful", "aggressive", "intense", "bombastic",
                     "thunderous", "forceful", "fierce", "fortissimo"), "loud"),
}  # fmt: skip
DENSITY_WORDS: dict[str, str] = {
    **dict.fromkeys(("sparse", "minimal", "minimalist", "spacious", "bare"), "sparse"),
    **dict.fromkeys(("busy", "dense", "intricate", "thick"), "dense"),
}  # fmt: skip

# Length words -> bars (a piece with no length gets 16): only where they describe the
# piece ("a short jig", "keep it short"), not "long notes" or "a long day".
LENGTH_WORDS: dict[str, int] = {"short": 8, "brief": 8, "long": 64, "lengthy": 64}

# Other words for instruments -> the instrument words they mean: players, sections, and
# names GM spells differently. A rhythm section is piano, bass and drums (a guitar
# instead of the piano in the styles of RHYTHM_GUITAR_STYLES).
INSTRUMENT_ALIASES: dict[str, tuple[str, ...]] = {
    "bassist": ("bass",), "drummer": ("drums",), "percussionist": ("percussion",),
    "pianist": ("piano",), "keyboardist": ("keyboard",), "guitarist": ("guitar",),
    "violinist": ("violin",), "fiddler": ("fiddle",), "violist": ("viola",),
    "cellist": ("cello",), "harpist": ("harp",), "organist": ("organ",),
    "flautist": ("flute",), "flutist": ("flute",), "saxophonist": ("sax",),
    "trumpeter": ("trumpet",), "trombonist": ("trombone",), "clarinettist": ("clarinet",),
    "clarinetist": ("clarinet",), "oboist": ("oboe",), "bassoonist": ("bassoon",),
    "accordionist": ("accordion",), "vocalist": ("voice",), "sax player": ("sax",),
    "string section": ("strings",), "horn section": ("brass",),
    "woodwind section": ("woodwinds",), "rhythm section": ("piano", "bass", "drums"),
    "hammond organ": ("hammond",), "slap bass": ("slap bass 1",),
    "bandoneon": ("tango accordion",), "distorted guitar": ("distortion guitar",),
    "808 bass": ("synth bass",), "square lead": ("lead 1 (square)",),
    "vibes": ("vibraphone",), "keys": ("keyboard",), "brushes": ("drums",),
    "congas": ("percussion",), "bongos": ("percussion",), "tabla": ("percussion",),
    "tambourine": ("percussion",), "shaker": ("percussion",), "hi hats": ("drums",),
    "hi hat": ("drums",), "hihat": ("drums",), "hihats": ("drums",), "cymbals": ("drums",),
    # slang: a drum machine's name is its kit, and in hip hop its kick is the bass too
    # (EIGHT_O_EIGHT_BASS_STYLES); "beat" is the drums only where a prompt's words say so
    # (prompt.py: "over a beat", "keys and a soft beat"; not "a steady beat", "3 beats")
    "808": ("drums", "synth bass"), "808s": ("drums", "synth bass"),
    "808 drums": ("drums",), "808 kit": ("drums",), "808 kick": ("drums",),
    "808 beat": ("drums",), "kits": ("drums",), "kit": ("drums",), "beats": ("drums",),
    "beat": ("drums",), "reese bass": ("synth bass",), "reese": ("synth bass",),
    "shred guitar": ("distortion guitar",), "shredding guitar": ("distortion guitar",),
    "wurlitzer": ("electric piano",), "wurli": ("electric piano",),
    "wurly": ("electric piano",), "wurlitzer piano": ("electric piano",),
    "rhodes piano": ("electric piano",), "fender rhodes": ("electric piano",),
    "b3": ("hammond",), "hammond b3": ("hammond",), "b3 organ": ("hammond",),
    "hammond b3 organ": ("hammond",), "upright": ("upright bass",),
    "upright piano": ("piano",),
}  # fmt: skip
RHYTHM_GUITAR_STYLES: frozenset[str] = frozenset({"rock", "pop", "funk", "country", "blues"})
# Styles where "808s" are the kick-and-bass of trap and drill, not only a drum machine.
EIGHT_O_EIGHT_BASS_STYLES: frozenset[str] = frozenset({"hip hop"})
# Where "horns" means a horn section (trumpets, saxes, trombones) and not French horns: the
# styles, and genre words the style controls do not have.
HORN_SECTION_STYLES: frozenset[str] = frozenset(
    {"pop", "rock", "jazz", "blues", "latin", "funk", "hip hop", "country"}
)
HORN_SECTION_GENRES: tuple[str, ...] = (
    "ska", "soul", "motown", "r&b", "rnb", "big band", "salsa", "mambo", "mariachi",
    "reggae", "disco", "swing", "funky", "jazzy", "brass band",
)  # fmt: skip

# Role words: what an instrument does in the texture ("the piano plays the lead",
# "guitar chords", "walking bass"), in the arrangement's role names. Chords that are held
# ("holds long chords", "sustained chords") are a pad.
ROLE_WORDS: dict[str, str] = {
    "lead": "melody", "leads": "melody", "melody": "melody", "the tune": "melody", "on top": "melody",
    "counter melody": "counter-melody", "countermelody": "counter-melody",
    "chords": "comping", "comping": "comping", "comps": "comping", "strumming": "comping",
    "pad": "pad", "pads": "pad", "in the background": "pad", "bass line": "bass",
    "bassline": "bass",
}  # fmt: skip
# A role word right before the instrument: "lead guitar", "rhythm guitar", "walking bass".
ROLE_PREFIXES: dict[str, str] = {"lead": "melody", "rhythm": "comping", "walking": "bass"}

# Words that name a style/form in other words ("fugal" -> fugue).
STYLE_SYNONYMS: dict[str, str] = {
    "fugal": "fugue", "fugato": "fugue", "hymn tune": "hymn", "lullaby": "song",
    "ballad": "song", "art song": "lied", "lieder": "lied", "ragtime": "rag",
    "etude": "exercise", "étude": "exercise", "sonatina": "sonata",
    "two part invention": "invention", "chorale prelude": "chorale", "folk": "folk song",
    "folk tune": "folk song", "folk melody": "folk song",
    "mass": "mass movement", "hip-hop": "hip hop", "hiphop": "hip hop",
    "world music": "world", "film score": "soundtrack", "film music": "soundtrack",
    "movie": "soundtrack", "cinematic": "soundtrack", "jazzy": "jazz", "bluesy": "blues",
    "funky": "funk", "swing": "jazz", "bebop": "jazz", "bossa nova": "latin",
    "samba": "latin", "salsa": "latin", "tango": "latin", "techno": "electronic",
    "synthwave": "electronic", "edm": "electronic", "rock and roll": "rock",
    "minuet": "dance", "menuet": "dance", "sarabande": "dance", "gigue": "dance",
    "gavotte": "dance", "bourree": "dance", "bourrée": "dance", "polonaise": "dance",
    "tarantella": "dance", "siciliano": "dance", "siciliana": "dance", "allemande": "dance",
    "courante": "dance", "landler": "dance", "ländler": "dance", "barcarolle": "song",
    "lofi": "hip hop", "lo fi": "hip hop", "trap": "hip hop", "trip hop": "hip hop",
    "boom bap": "hip hop", "metal": "rock", "heavy metal": "rock", "punk": "rock",
    "bluegrass": "country", "big band": "jazz", "chiptune": "electronic", "trance": "electronic",
    "dubstep": "electronic", "drum and bass": "electronic", "drum n bass": "electronic",
    "dnb": "electronic", "deep house": "electronic", "house music": "electronic",
}  # fmt: skip

# Dance and form words imply a meter when the prompt gives none.
IMPLIED_METERS: dict[str, str] = {
    "waltz": "3/4", "jig": "6/8", "slip jig": "9/8", "reel": "4/4", "march": "2/4",
    "hornpipe": "4/4", "polka": "2/4", "strathspey": "4/4", "mazurka": "3/4",
    "schottische": "4/4", "slide": "12/8", "minuet": "3/4", "menuet": "3/4",
    "sarabande": "3/4", "gigue": "6/8", "gavotte": "4/4", "bourree": "2/2", "bourrée": "2/2",
    "polonaise": "3/4", "tarantella": "6/8", "siciliano": "6/8", "siciliana": "6/8",
    "allemande": "4/4", "courante": "3/4", "landler": "3/4", "ländler": "3/4",
    "barcarolle": "6/8",
}  # fmt: skip

# Meter phrases written in words.
METER_PHRASES: dict[str, str] = {
    "cut time": "2/2", "alla breve": "2/2", "common time": "4/4", "duple time": "2/4",
    "duple meter": "2/4", "triple time": "3/4", "triple meter": "3/4",
    "quadruple time": "4/4", "quadruple meter": "4/4", "compound duple": "6/8",
    "compound triple": "9/8", "compound quadruple": "12/8", "waltz time": "3/4",
    "march time": "2/4", "jig time": "6/8",
}  # fmt: skip

# Region words -> the place name, spelled like PieceRecord.region.
REGIONS: dict[str, str] = {
    "irish": "Ireland", "celtic": "Celtic", "scottish": "Scotland", "scots": "Scotland",
    "welsh": "Wales", "english": "England", "breton": "Brittany", "cape breton": "Cape Breton",
    "shetland": "Shetland", "northumbrian": "Northumbria", "appalachian": "Appalachia",
    "american": "USA", "latin american": "Latin America", "french": "France",
    "german": "Germany", "italian": "Italy", "spanish": "Spain",
}  # fmt: skip

# The styles a live stream cycles through (the `s` key); each is one of controls.STYLES.
STREAM_STYLES: tuple[str, ...] = (
    "chorale", "hymn", "reel", "jig", "waltz", "march", "air", "hornpipe", "madrigal", "fugue",
)  # fmt: skip

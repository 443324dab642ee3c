"""Musical form, tempo and region from the words that scores and tune books use.

ABC tune books name the dance in the R: (rhythm) field or in the title ("Reel",
"Double Jig", "Highland Fling"), Essen folk songs give genre and origin in German, and
printed collections mark tempo with words ("Very slow", "With spirit", "Allegro"). These
helpers map such words onto the control vocabulary (`controls.STYLES`) and onto plain
numbers, so every corpus source labels pieces the same way.
"""

from __future__ import annotations

import re

from ..conditioning.limits import REGIONS, TEMPO

# (pattern, form): the first pattern that matches wins, so specific words come first.
_FORM_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"slip\s*-?\s*jig|hop\s*jig", "slip jig"),
    (r"\bslides?\b", "slide"),
    (r"\bjigg?s?\b|\bgigue\b|\bgiga\b", "jig"),
    (r"\breels?\b", "reel"),
    (r"\bhornpipes?\b|\bclogs?\b", "hornpipe"),
    (r"\bstrathspeys?\b|\bflings?\b", "strathspey"),
    (r"\bpolkas?\b", "polka"),
    (r"\bwaltz(es)?\b|\bwalzer\b|\bvalse\b", "waltz"),
    (r"\bmazurkas?\b", "mazurka"),
    (r"\bschottis(ch|che)?\b|\bbarn\s*dances?\b", "schottische"),
    (r"\bmarch(es)?\b|\bmarsch\b|\bquick\s*-?\s*steps?\b", "march"),
    (r"\bcountry\s*dances?\b|\bcontra\s*dances?\b", "country dance"),
    (r"\bhymns?\b|\bpsalm\b|\bkirchenlied\b", "hymn"),
    (r"\bplanxty\b|\blament(ation)?\b|\bslow airs?\b|\bairs?\b", "air"),
    (
        r"\bminuet\b|\bmenuett?\b|\bgavott?e\b|\bset\s*dances?\b|\blong\s*dances?\b|"
        r"\bquadrille\b|\bcotillion\b|\brants?\b|\bwalk\s*-?\s*around\b|\bdances?\b|\btanz\b|\breigen\b|"
        r"\bl(ae|ä)ndler\b|\bpolonaise\b|\ballemande\b|\bbourr(e|é)e\b|\bsarabande\b",
        "dance",
    ),
    (r"\blied(er)?\b|\bsongs?\b|\bballade?\b|\bromanze\b|\bxiaodiao\b|\bshange\b", "folk song"),
)

# Dance tunes are notated in fixed note values whatever the meter, so their typical tempo
# is a quarter-note rate; other forms give a rate of the meter's beat (see typical_tempo).
_DANCE_QUARTER_BPM: dict[str, float] = {
    "reel": 200, "jig": 180, "slip jig": 180, "slide": 200, "hornpipe": 160,
    "strathspey": 130, "polka": 140, "waltz": 150, "mazurka": 140, "schottische": 140,
    "march": 116, "country dance": 130, "dance": 130,
}  # fmt: skip
_BEAT_BPM: dict[str, float] = {
    "air": 66, "folk song": 92, "chorale": 72, "hymn": 76, "madrigal": 76,
    "mass movement": 66, "motet": 66, "chanson": 72, "ballata": 66, "lied": 72,
    "aria": 60, "quartet movement": 100, "sonata": 100, "trio sonata": 66, "fugue": 80,
    "invention": 84, "piano piece": 88, "rag": 84, "exercise": 96, "song": 88,
}  # fmt: skip
DEFAULT_BEAT_BPM = 96.0
DANCE_FORMS = frozenset(_DANCE_QUARTER_BPM)
_PULSE_DANCES = frozenset({"march", "dance", "country dance"})

# Tempo words (English, Italian, German as found in the corpora), most specific first.
# Not limits.TEMPO_WORDS: that gives a prompt's word its own bpm, while a tune book's marking
# ("Slowly", "With spirit", "Lebhaft") is read as one typical bpm for a band of words, and the
# corpus has words prompts do not use. These values are corpus attributes (training data).
_TEMPO_WORDS: tuple[tuple[str, float], ...] = (
    (r"very slow|sehr langsam|\blargo\b|\bgrave\b|\blento\b", 50),
    (r"very (quick|fast|lively)|\bpresto\b|\bprestissimo\b|\bvivacissimo\b", 176),
    (
        r"\bslow(ly)?\b|\badagio\b|\blarghetto\b|\blangsam\b|plaintive|mournful|"
        r"with (much )?(feeling|expression)|tender",
        63,
    ),
    (r"\ballegretto\b|with spirit|\bspirited\b|\bgai?ly\b|\bcheerful|\blively\b|\blustig\b", 116),
    (r"\ballegro\b|\bbrisk(ly)?\b|\bquick(ly)?\b|\bfast\b|\brasch\b|\bschnell\b|\bvivace\b", 138),
    (r"\bandante\b|\bmoderat(e|ely|o)\b|\bm(ae|ä)ssig\b|\bsteady\b|\bgently\b|\bgracefully\b", 88),
)

# Origin words -> region: the single words of limits.REGIONS, as a corpus labels them, and the
# German place names of the Essen collection with more English names and adjectives.
# An origin field says where a tune was collected, and the corpus labels by country: Shetland
# tunes are Scottish, Northumbrian ones English (limits.REGIONS keeps them apart for prompts).
# Traditions that are no country (Celtic, Breton, Appalachian) name no region here. The words
# decide corpus attributes (and which C: credits are not composers), so none is added lightly.
_REGION_BY_COUNTRY = {"shetland": "Scotland", "northumbrian": "England"}
_NOT_ORIGINS = frozenset({"celtic", "breton", "appalachian"})
_REGION_WORDS: dict[str, str] = {
    **{
        word: _REGION_BY_COUNTRY.get(word, place)
        for word, place in REGIONS.items()
        if " " not in word and word not in _NOT_ORIGINS  # origins are read word by word
    },
    "deutschland": "Germany", "germany": "Germany",
    "lothringen": "Lorraine", "lorraine": "Lorraine", "elsass": "Alsace",
    "luxemburg": "Luxembourg", "luxembourg": "Luxembourg",
    "jugoslawien": "Yugoslavia", "oesterreich": "Austria", "österreich": "Austria",
    "tirol": "Austria", "steiermark": "Austria", "kaernten": "Austria", "austria": "Austria",
    "irland": "Ireland", "ireland": "Ireland",
    "schweiz": "Switzerland", "switzerland": "Switzerland", "swiss": "Switzerland",
    "niederlande": "Netherlands", "holland": "Netherlands", "dutch": "Netherlands",
    "belgien": "Belgium", "flandern": "Belgium",
    "polen": "Poland", "polish": "Poland", "ungarn": "Hungary", "hungarian": "Hungary",
    "china": "China", "chinese": "China", "taiwan": "Taiwan",
    "rumaenien": "Romania", "russland": "Russia", "ukraine": "Ukraine", "udssr": "Russia",
    "tschechoslowakei": "Czechoslovakia", "boehmen": "Bohemia", "maehren": "Moravia",
    "schweden": "Sweden", "swedish": "Sweden", "norwegen": "Norway", "norwegian": "Norway",
    "daenemark": "Denmark", "danish": "Denmark", "finnland": "Finland", "island": "Iceland",
    "frankreich": "France", "france": "France",
    "italien": "Italy", "italy": "Italy",
    "spanien": "Spain", "spain": "Spain",
    "england": "England",
    "schottland": "Scotland", "scotland": "Scotland", "scotch": "Scotland",
    "wales": "Wales", "welch": "Wales",
    "america": "USA", "usa": "USA", "canada": "Canada", "canadian": "Canada",
}  # fmt: skip
# Broad words that say nothing specific; a more specific word may follow them.
_REGION_WEAK = frozenset({"udssr", "jugoslawien", "tschechoslowakei"})


def form_from_text(text: str | None) -> str | None:
    """The form (a `controls.STYLES` value) named in an R: field or a title, if any."""
    if not text:
        return None
    t = text.lower()
    for pattern, form in _FORM_PATTERNS:
        if re.search(pattern, t):
            return form
    return None


def typical_tempo(form: str | None, meter: str | None) -> float:
    """A typical quarter-note bpm for a form, for pieces whose score gives no tempo.

    Dance forms have a fixed quarter-note rate; others have a rate for the meter's beat
    (a half note in 4/2, a dotted quarter in 6/8), which is converted to quarter notes.
    """
    if form in _DANCE_QUARTER_BPM:
        bpm = _DANCE_QUARTER_BPM[form]
        if form in _PULSE_DANCES and beat_quarters(meter) == 1.5:
            bpm *= 1.4  # a 6/8 march steps on dotted quarters, not on quarters
        return float(bpm)
    beat_bpm = _BEAT_BPM.get(form or "", DEFAULT_BEAT_BPM)
    return clamp_tempo(beat_bpm * beat_quarters(meter))


def beat_quarters(meter: str | None) -> float:
    """Length of the meter's beat in quarter notes (2/2 -> 2, 6/8 -> 1.5, 3/8 -> 0.5)."""
    if not meter:
        return 1.0
    num, den = (int(x) for x in meter.split("/"))
    if den == 8 and num % 3 == 0 and num > 3:
        return 1.5
    return 4.0 / den


def tempo_from_words(text: str | None) -> float | None:
    """A quarter-note bpm for a tempo word ('Very slow', 'With spirit', 'Allegro')."""
    if not text:
        return None
    t = text.lower()
    for pattern, bpm in _TEMPO_WORDS:
        if re.search(pattern, t):
            return bpm
    return None


def clamp_tempo(bpm: float) -> float:
    """A tempo inside the range the control vocabulary accepts."""
    return float(min(max(bpm, TEMPO.low), TEMPO.high))


def region_from_origin(text: str | None) -> str:
    """Region from an origin field ('Europa, Mitteleuropa, Deutschland' -> 'Germany').

    Scans the words in order and returns the first region found; a broad word such as
    'UdSSR' only wins when nothing more specific follows. '' when nothing is known.
    """
    if not text:
        return ""
    weak = ""
    for word in re.findall(r"[a-zäöüß]+", text.lower()):
        region = _REGION_WORDS.get(word)
        if region is None:
            continue
        if word not in _REGION_WEAK:
            return region
        weak = weak or region
    return weak

"""What each corpus collection is, and a piece's metadata: title, composer, form, region,
tune id (the split unit), era and the church modes its repertoire may use."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import music21
from music21 import stream

from ...forms import form_from_text, region_from_origin
from .jobs import VOICES_AS_TUNES, Music21Job, slug


# -- what each collection is ----------------------------------------------------------------
@dataclass(frozen=True)
class Collection:
    """Defaults for one corpus folder; `kind` decides instruments ('folk', 'chorale',
    'choir', 'quartet', 'work')."""

    form: str | None
    region: str
    composer: str
    era: str
    kind: str


COLLECTIONS: dict[str, Collection] = {
    "airdsAirs": Collection("air", "Scotland", "", "traditional", "folk"),
    "essenFolksong": Collection("folk song", "Germany", "", "traditional", "folk"),
    "oneills1850": Collection("air", "Ireland", "", "traditional", "folk"),
    "ryansMammoth": Collection("dance", "USA", "", "traditional", "folk"),
    "nottingham-dataset": Collection("reel", "England", "", "traditional", "folk"),
    "miscFolk": Collection("folk song", "England", "", "traditional", "folk"),
    "bach": Collection("chorale", "Germany", "Johann Sebastian Bach", "baroque", "chorale"),
    "palestrina": Collection(
        "mass movement", "Italy", "Giovanni Pierluigi da Palestrina", "Renaissance", "choir"
    ),
    "monteverdi": Collection("madrigal", "Italy", "Claudio Monteverdi", "Renaissance", "choir"),
    "josquin": Collection("chanson", "France", "Josquin des Prez", "Renaissance", "choir"),
    "trecento": Collection(None, "Italy", "", "medieval", "choir"),
    "ciconia": Collection("motet", "Italy", "Johannes Ciconia", "medieval", "choir"),
    "luca": Collection("mass movement", "Italy", "", "medieval", "choir"),
    "lusitano": Collection("madrigal", "Portugal", "Vicente Lusitano", "Renaissance", "choir"),
    "beethoven": Collection(
        "quartet movement", "Germany", "Ludwig van Beethoven", "classical", "quartet"
    ),
    "mozart": Collection(
        "quartet movement", "Austria", "Wolfgang Amadeus Mozart", "classical", "quartet"
    ),
    "haydn": Collection("quartet movement", "Austria", "Joseph Haydn", "classical", "quartet"),
    "schumann_robert": Collection("lied", "Germany", "Robert Schumann", "romantic", "work"),
    "schumann_clara": Collection("piano piece", "Germany", "Clara Schumann", "romantic", "work"),
    "beach": Collection("song", "USA", "Amy Beach", "romantic", "work"),
    "chopin": Collection("mazurka", "Poland", "Frédéric Chopin", "romantic", "work"),
    "corelli": Collection("trio sonata", "Italy", "Arcangelo Corelli", "baroque", "work"),
    "cpebach": Collection("sonata", "Germany", "Carl Philipp Emanuel Bach", "classical", "work"),
    "handel": Collection("aria", "Germany", "George Frideric Handel", "baroque", "work"),
    "johnson_j_r": Collection("hymn", "USA", "J. Rosamond Johnson", "", "work"),
    "joplin": Collection("rag", "USA", "Scott Joplin", "", "work"),
    "leadSheet": Collection("song", "USA", "", "", "work"),
    "liliuokalani": Collection("song", "Hawaii", "Liliuokalani", "", "work"),
    "schoenberg": Collection("piano piece", "Austria", "Arnold Schoenberg", "modern", "work"),
    "schubert": Collection("lied", "Austria", "Franz Schubert", "romantic", "work"),
    "verdi": Collection("aria", "Italy", "Giuseppe Verdi", "romantic", "work"),
    "weber": Collection("classical", "Germany", "Carl Maria von Weber", "romantic", "work"),
    "webern": Collection("song", "Austria", "Anton Webern", "modern", "work"),
}
# Works whose folder default does not fit: path prefix -> (form, kind).
_WORK_OVERRIDES: dict[str, tuple[str | None, str]] = {
    "mozart/k545": ("sonata", "work"),
    "schumann_robert/opus41no1": ("quartet movement", "quartet"),
    "schumann_clara/opus17": ("classical", "work"),
    "josquin/4vPerIlludAveProlatum": ("motet", "choir"),
    "miscFolk/americanfifeopus": ("march", "folk"),
}
_REGION_OVERRIDES = {"miscFolk/americanfifeopus": "USA", "miscFolk/northumbrian": "Northumbria"}


@dataclass
class Meta:
    """A piece's metadata, from its ABC header or score file and its collection."""

    title: str
    composer: str
    form: str | None
    region: str
    tune_id: str
    era: str
    kind: str
    modes: frozenset[str]  # church modes a final other than tonic / relative minor may mean
    form_is_default: bool = False  # the collection's form, not named by the tune itself
    tempo_words: str = ""
    extra: dict = field(default_factory=dict)


_EARLY_MODES = frozenset({"dorian", "phrygian", "lydian", "mixolydian"})
_ESSEN_MODES = frozenset({"dorian", "mixolydian"})  # Essen K: fields give only the signature
_NO_MODES: frozenset[str] = frozenset()  # ABC books state their modes (K:Ador) themselves


# -- a piece's metadata ------------------------------------------------------------------------
def abc_meta(job: Music21Job) -> Meta:
    fields = abc_fields(job.text)
    coll = COLLECTIONS.get(job.source, Collection(None, "", "", "", "folk"))
    form, kind = _override(job.path, coll)
    title = clean_title(_first(fields, "T"))
    if job.source == "essenFolksong":  # drop the printed source's references
        title = clean_title(
            re.sub(r",?\s*S\.\s*\d+\w*$|\s*\((Band \d+|[\w-]*\d[\w-]*)\)", "", title)
        )
    rhythm = _first(fields, "R")
    form_is_default = False
    if job.source == "essenFolksong":
        found = form_from_text(rhythm)
        form = found if found in ("waltz", "polka", "mazurka", "march", "schottische") else form
    elif job.source in VOICES_AS_TUNES:
        pass
    else:
        named = form_from_text(rhythm) or form_from_text(title) or _oneill_form(job)
        form_is_default = named is None
        form = named or form
    region = coll.region
    for prefix, value in _REGION_OVERRIDES.items():
        if job.path.startswith(prefix):
            region = value
    credit = _first(fields, "C")
    origin = _first(fields, "O") or _first(fields, "A") or credit
    region = region_from_origin(origin) or region
    composer = coll.composer or _abc_composer(credit, job.source)
    stem = job.path.rsplit(".", 1)[0]
    if job.source == "oneills1850":
        tune_id = f"oneills1850/{job.number}"
    elif job.number is None:
        tune_id = stem
    else:
        tune_id = f"{stem}/{job.number}"
    return Meta(
        title=title,
        composer=composer,
        form=form,
        region=region,
        tune_id=tune_id,
        era=coll.era,
        kind=kind,
        modes=_abc_modes(job.source, kind),
        form_is_default=form_is_default,
        tempo_words=" ".join(fields.get("N", []) + fields.get("Q", [])),
        extra={k: v for k, v in (("origin", _first(fields, "O")), ("rhythm", rhythm)) if v},
    )


def abc_fields(text: str) -> dict[str, list[str]]:
    """Header fields of one ABC tune (up to and including its first K: line)."""
    fields: dict[str, list[str]] = defaultdict(list)
    for line in text.splitlines():
        m = re.match(r"([A-Za-z]):\s*(.*?)\s*$", line)
        if not m:
            continue
        fields[m.group(1)].append(m.group(2).strip("\"' ]"))
        if m.group(1) == "K":
            break
    return dict(fields)


def _first(fields: dict[str, list[str]], name: str) -> str:
    return next((v for v in fields.get(name, []) if v), "")


def _abc_composer(credit: str, source: str) -> str:
    """A composer from a C: field, which tune books also use for collectors, origins and
    remarks ('Irish.', 'collected by F. O'Neill', 'A Welch Tune', 'New Set, by T. Ebdon')."""
    if not credit or re.search(r"trad|anon|unknown|collect|\?", credit, re.IGNORECASE):
        return ""
    if source == "oneills1850":  # C: names the collector, except for O'Carolan's tunes
        return "Turlough O'Carolan" if "carolan" in credit.lower() else ""
    by = re.search(r"\bby\s+(.+)$", credit, re.IGNORECASE)
    name = re.sub(r"\s*\(\d{4}\)$", "", (by.group(1) if by else credit)).strip(" .,")
    words = [w.lower() for w in re.findall(r"[A-Za-z]+(?!\.)\b", name)]  # not initials
    if (
        not _PERSON.fullmatch(name)
        or len(name) < 4
        or len(words) > 4
        or _NOT_PERSON.intersection(words)
        or region_from_origin(name)
    ):
        return ""
    return name.title() if name.isupper() else name


_PERSON = re.compile(r"[A-Z][A-Za-z.'\- ]+")
_NOT_PERSON = frozenset(
    "tune air song set march reel jig dance regt regiment india highland new old the a of".split()
)


def _abc_modes(source: str, kind: str) -> frozenset[str]:
    if source == "essenFolksong":
        return _ESSEN_MODES
    return _EARLY_MODES if kind == "choir" else _NO_MODES


_ONEILL_SECTIONS = ((700, "air"), (1115, "jig"), (1175, "slip jig"), (1555, "reel"),
                    (1780, "hornpipe"), (1800, "dance"), (1850, "march"))  # fmt: skip


def _oneill_form(job: Music21Job) -> str | None:
    """O'Neill's 1850 is ordered by form: airs, jigs, slip jigs, reels, hornpipes, ..."""
    if job.source != "oneills1850" or job.number is None:
        return None
    return next((form for last, form in _ONEILL_SECTIONS if job.number <= last), None)


def file_meta(job: Music21Job, parsed: stream.Score) -> Meta:
    coll = COLLECTIONS.get(job.source, Collection(None, "", "", "", "work"))
    form, kind = _override(job.path, coll)
    md = parsed.metadata
    stem = job.path.rsplit(".", 1)[0]
    title = _score_title(md, job.source) or _title_from_path(stem)
    tune_id = stem
    parent = str(Path(stem).parent)
    if parent != job.source and re.match(r"(movement|\d)", Path(stem).name):
        tune_id = parent  # movements of one work share a split
        title = _work_title(job, form) or title
    extra: dict = {}
    if job.source == "bach":
        tune_id = "bach/" + Path(stem).name.split("-")[0]
        title = _chorale_title(Path(stem).name)
    elif job.source == "palestrina":
        mass = clean_title(getattr(md, "parentTitle", None) or "") if md else ""
        section = clean_title(getattr(md, "title", None) or "") if md else ""
        title = f"{section} from {mass}" if mass and section else title
        tune_id = f"palestrina/{slug(mass)}" if mass else stem
        extra["mass"] = mass
    elif job.source == "trecento":
        tune_id = re.sub(r"(\d+)[a-c]-", r"\1-", stem)
        form = _trecento_form(Path(stem).name, title)
    elif job.source in ("beethoven", "mozart", "haydn") and parent == job.source:
        title = _work_title(job, form) or title
    composer = coll.composer or _person(getattr(md, "composer", None) if md else None)
    return Meta(
        title=title,
        composer=composer,
        form=form,
        region=coll.region,
        tune_id=tune_id,
        era=coll.era,
        kind=kind,
        modes=_EARLY_MODES if kind == "choir" else _NO_MODES,
        extra=extra,
    )


def _override(path: str, coll: Collection) -> tuple[str | None, str]:
    for prefix, (form, kind) in _WORK_OVERRIDES.items():
        if path.startswith(prefix):
            return form, kind
    return coll.form, coll.kind


_MASS_WORDS = re.compile(r"kyrie|gloria|credo|sanctus|agnus|benedicamus|\bmissa\b", re.I)


def _trecento_form(name: str, title: str) -> str:
    """Trecento files: mass sections, motets (PMFC 1, Ciconia's), ballate, madrigals."""
    if _MASS_WORDS.search(name) or _MASS_WORDS.search(title):
        return "mass movement"
    if name.startswith("PMFC_04"):
        return "ballata"
    if name.startswith("PMFC_06"):
        return "madrigal"
    return "motet"


def _work_title(job: Music21Job, form: str | None) -> str:
    """'String Quartet Op. 18 No. 1, movement 2' from the corpus path."""
    parts = Path(job.path.rsplit(".", 1)[0]).parts
    work = parts[1] if len(parts) > 1 else ""
    label = re.sub(r"opus(\d+)", r"Op. \1", work)
    label = re.sub(r"no(\d+)", r" No. \1", label)
    label = re.sub(r"^k(\d+)", r"K. \1", label).strip()
    if not label:
        return ""
    noun = "String Quartet" if form == "quartet movement" else ""
    movement = re.match(r"movement(\d+)", parts[-1]) if len(parts) > 2 else None
    text = f"{noun} {label}".strip()
    return f"{text}, movement {movement.group(1)}" if movement else text


_CHORALE_TITLES: dict[int, str] | None = None


def _chorale_title(name: str) -> str:
    """'Was Gott tut, das ist wohlgetan (BWV 250)' from music21's chorale list."""
    global _CHORALE_TITLES
    if _CHORALE_TITLES is None:
        from music21.corpus import chorales

        _CHORALE_TITLES = {
            int(k): v["title"] for k, v in chorales.ChoraleList().byBWV.items() if v.get("title")
        }
    bwv = name.removeprefix("bwv").split("-")[0]
    known = _CHORALE_TITLES.get(int(bwv)) if bwv.isdigit() else None
    return f"{known} (BWV {bwv})" if known else f"Chorale BWV {bwv}"


_NOT_TITLES = re.compile(
    r"\.(mxl|xml|musicxml|krn|abc)$|^(canto|cantus|soprano|alto|tenor|basso?|quinto|score)$", re.I
)


def _score_title(md: music21.metadata.Metadata | None, source: str) -> str:
    if md is None:
        return ""
    candidates = [md.title, md.movementName]
    if source == "monteverdi":  # these files carry the madrigal's title as the composer
        candidates.insert(0, md.composer)
    for candidate in candidates:
        text = clean_title(str(candidate or ""))
        if text and not _NOT_TITLES.search(text):
            return text
    return ""


def clean_title(text: str) -> str:
    """Tidy a title: 'Enchanted Valley., The' -> 'The Enchanted Valley', ALL CAPS -> Title."""
    t = re.sub(r"\s+", " ", text.replace("_", " ").replace(" -- ", " ")).strip(" .,;")
    t = re.sub(r"^\d+\.\s*", "", t)
    if t.isupper() and len(t) > 3:
        t = re.sub(r"'S\b", "'s", t.title())
    m = re.match(r"(.*?)[.,]?\s*,\s*(the|a|an)$", t, re.IGNORECASE)
    if m:
        t = f"{m.group(2).capitalize()} {m.group(1)}"
    return t.strip(" .")


def _title_from_path(stem: str) -> str:
    name = Path(stem).name
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ")
    return clean_title(name[:1].upper() + name[1:])


def _person(text: str | None) -> str:
    """'Beethoven, Ludwig van' -> 'Ludwig van Beethoven'; first line only."""
    if not text:
        return ""
    t = str(text).splitlines()[0].strip()
    if t.count(",") == 1:
        last, first = (s.strip() for s in t.split(","))
        t = f"{first} {last}"
    return t

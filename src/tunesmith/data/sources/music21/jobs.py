"""Which files of music21's bundled corpus are pieces, and one job per piece.

Listing runs in the parent process and must be fast: multi-tune ABC books are split on
their `X:` headers here, so each tune becomes its own job (parsed on its own by a worker,
and resumable on its own).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import music21

# -- files that are not pieces ----------------------------------------------------------------
_NOT_PIECES = {
    "demos": "not a piece: demo or test score",
    "theoryExercises": "not a piece: theory exercise",
}
_DUPLICATES = {  # same music under another name
    "schumann_robert/dichterliebe_no2.xml": "schumann_robert/opus48no2.mxl",
}
_FORMAT_PREFERENCE = (".mxl", ".musicxml", ".xml", ".krn", ".abc")
_SCORE_SUFFIXES = frozenset(_FORMAT_PREFERENCE)
VOICES_AS_TUNES = frozenset({"josquin"})  # each X: is one voice of the same piece


@dataclass(frozen=True)
class Music21Job:
    """One piece to convert: a score file, or one tune (or voice set) of an ABC file."""

    id: str
    source: str  # the collection folder, e.g. "oneills1850"
    path: str  # relative to the music21 corpus folder
    text: str = ""  # ABC text of this tune (or of all voices); empty for score files
    number: int | None = None  # ABC X: number


def corpus_root() -> Path:
    """The folder of music21's bundled corpus."""
    return Path(music21.__file__).parent / "corpus"


# -- listing jobs (runs in the parent; must be fast) -------------------------------------------
def list_jobs(limit: int | None = None) -> tuple[list[Music21Job], Counter[str]]:
    """Every convertible piece of the core corpus, plus skip counts (reason -> files).

    With `limit`, a deterministic sample spread round-robin over the collections.
    """
    root = corpus_root()
    rels = sorted(str(Path(p).relative_to(root)) for p in music21.corpus.getCorePaths())
    available = set(rels)
    jobs: list[Music21Job] = []
    skipped: Counter[str] = Counter()
    for rel in rels:
        reason = skip_reason(rel, available)
        if reason:
            skipped[reason] += 1
            continue
        if rel.endswith(".abc"):
            jobs.extend(abc_jobs(rel, _read_text(root / rel)))
        else:
            jobs.append(Music21Job(id=slug(rel.rsplit(".", 1)[0]), source=_source(rel), path=rel))
    jobs = _unique_ids(jobs)
    return (sample_jobs(jobs, limit) if limit is not None else jobs), skipped


def skip_reason(rel: str, available: set[str]) -> str:
    """Why a corpus file is not converted ('' when it is a usable score)."""
    source, stem, suffix = _source(rel), rel.rsplit(".", 1)[0], Path(rel).suffix.lower()
    if suffix == ".rntxt":
        return "not a score: roman-numeral analysis (.rntxt)"
    if suffix not in _SCORE_SUFFIXES:
        return f"not a score: unsupported format ({suffix})"
    if source in _NOT_PIECES:
        return _NOT_PIECES[source]
    if source == "essenFolksong" and Path(rel).stem.startswith("test"):
        return "not a piece: test file of the Essen collection"
    if rel in _DUPLICATES or stem.endswith("_bak"):
        return "duplicate: the same work is in another file"
    better = _FORMAT_PREFERENCE[: _FORMAT_PREFERENCE.index(suffix)]
    if any(stem + s in available for s in better):
        return "duplicate: the same work in a preferred format"
    return ""


def abc_jobs(rel: str, text: str) -> list[Music21Job]:
    """One job per tune of an ABC file (one job for files whose tunes are voices)."""
    source = _source(rel)
    base = slug(rel.rsplit(".", 1)[0])
    if source in VOICES_AS_TUNES:
        return [Music21Job(id=base, source=source, path=rel, text=text)]
    tunes = split_abc(text)
    counts = Counter(n for n, _ in tunes)
    jobs: list[Music21Job] = []
    seen: Counter[int] = Counter()
    for number, tune in tunes:
        seen[number] += 1
        suffix = f"_{seen[number]}" if counts[number] > 1 else ""
        job_id = f"{base}_x{number}{suffix}"
        jobs.append(Music21Job(id=job_id, source=source, path=rel, text=tune, number=number))
    return jobs


def split_abc(text: str) -> list[tuple[int, str]]:
    """(X number, tune text) for every tune of an ABC book that has a K: line."""
    tunes = []
    for chunk in re.split(r"(?m)^(?=X:)", text)[1:]:
        m = re.match(r"X:\s*(\d+)", chunk)
        if m and re.search(r"(?m)^K:", chunk):
            tunes.append((int(m.group(1)), chunk.strip() + "\n"))
    return tunes


def sample_jobs(jobs: list[Music21Job], limit: int) -> list[Music21Job]:
    """A small deterministic sample: round-robin over collections, evenly spaced in each."""
    groups: dict[str, list[Music21Job]] = defaultdict(list)
    sizes = Counter(j.source for j in jobs)
    for j in jobs:
        groups[j.source if sizes[j.source] >= 5 else "other works"].append(j)
    names = sorted(groups)
    rounds = max(1, math.ceil(limit / max(1, len(names))))
    picks = {g: _spread(groups[g], rounds) for g in names}
    sample: list[Music21Job] = []
    for r in range(rounds):
        sample += [picks[g][r] for g in names if r < len(picks[g])]
    if len(sample) < limit:  # small collections ran out: top up in corpus order
        chosen = {j.id for j in sample}
        sample += [j for j in jobs if j.id not in chosen][: limit - len(sample)]
    return sample[:limit]


def _spread(items: list, k: int) -> list:
    k = min(k, len(items))
    return [items[(2 * i + 1) * len(items) // (2 * k)] for i in range(k)]


def _unique_ids(jobs: list[Music21Job]) -> list[Music21Job]:
    """Make ids unique even where slugging maps two names to one."""
    seen: Counter[str] = Counter()
    out = []
    for j in jobs:
        seen[j.id] += 1
        if seen[j.id] > 1:
            j = Music21Job(f"{j.id}_{seen[j.id]}", j.source, j.path, j.text, j.number)
        out.append(j)
    return out


# -- helpers ------------------------------------------------------------------------------------
def stable_int(text: str) -> int:
    """A hash that is the same in every process and every run (unlike hash())."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:12], 16)


def _source(rel: str) -> str:
    return rel.split("/", 1)[0]


def slug(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9.-]+", "_", text)).strip("_.")


def _read_text(path: Path) -> str:
    """File text; repairs DOS code page 850 text once mis-read as Latin-1 (Essen books),
    which shows as C1 control characters ('Fr\\x81hling' -> 'Frühling')."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if re.search("[\x80-\x9f]", text):
        try:
            return text.encode("latin-1").decode("cp850")
        except UnicodeError:
            return text
    return text

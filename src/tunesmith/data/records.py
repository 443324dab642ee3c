"""The prepared-corpus format shared by every corpus source.

A prepared corpus folder holds:
  midi/<id>.mid        one MIDI file per piece, one track per voice, GM programs set
  records/<id>.json    one `PieceRecord` per piece, written atomically (resume = skip ids
                       that already have a record)
  pieces.jsonl         all records, one per line, sorted by id (written at the end of a run)
  report.json          counts of converted / skipped pieces by reason, wall time
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import BadInputError

SPLITS = ("train", "val", "test")


@dataclass
class PieceRecord:
    """Metadata of one prepared piece; becomes captions and control tokens in training."""

    id: str  # filesystem-safe, unique in the corpus
    tune_id: str  # pieces (and augmentations) of one tune share it; the split is by tune
    source: str  # collection, e.g. "bach", "essenFolksong", "oneills1850", "midi"
    title: str = ""
    composer: str = ""
    form: str | None = None  # a value of tunesmith.controls.STYLES, or None if unknown
    region: str = ""  # region / tradition, e.g. "Ireland", "Germany", "Italy"
    key: str | None = None  # canonical "D major" / "B minor" (controls.KEYS)
    mode: str = ""  # the mode as written when richer than major/minor, e.g. "dorian"
    meter: str | None = None  # controls.METERS value
    tempo: float | None = None  # bpm
    tempo_estimated: bool = True  # True when the tempo is a typical value for the form
    programs: list[int] = field(default_factory=list)  # one GM program per voice/track
    voices: int = 0
    bars: int = 0
    duration_s: float = 0.0
    captions: list[str] = field(default_factory=list)
    split: str = "train"
    extra: dict = field(default_factory=dict)

    @property
    def midi_path(self) -> str:
        return f"midi/{self.id}.mid"

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict) -> PieceRecord:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def split_for(tune_id: str, val_pct: int = 5, test_pct: int = 5) -> str:
    """Deterministic 90/5/5 split by tune id (a stable hash, independent of run order)."""
    bucket = int(hashlib.sha1(tune_id.encode("utf-8")).hexdigest()[:8], 16) % 100
    if bucket < test_pct:
        return "test"
    if bucket < test_pct + val_pct:
        return "val"
    return "train"


def load_records(corpus_dir: str | Path) -> list[PieceRecord]:
    """All records of a prepared corpus (pieces.jsonl, else the records/ folder)."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise BadInputError(f"corpus folder {str(corpus_dir)!r} does not exist")
    index = corpus_dir / "pieces.jsonl"
    if index.is_file():
        lines = index.read_text(encoding="utf-8").splitlines()
        records = [PieceRecord.from_dict(json.loads(line)) for line in lines if line.strip()]
    else:
        records = [
            PieceRecord.from_dict(json.loads(p.read_text(encoding="utf-8")))
            for p in sorted((corpus_dir / "records").glob("*.json"))
        ]
    if not records:
        raise BadInputError(f"corpus folder {str(corpus_dir)!r} holds no prepared pieces")
    return records


def write_index(corpus_dir: str | Path) -> int:
    """Merge records/*.json into pieces.jsonl (atomically); returns the piece count."""
    from ..fileio import atomic_write_text

    corpus_dir = Path(corpus_dir)
    paths = sorted((corpus_dir / "records").glob("*.json"))
    lines = [
        json.dumps(json.loads(p.read_text(encoding="utf-8")), ensure_ascii=False) for p in paths
    ]
    atomic_write_text(corpus_dir / "pieces.jsonl", "\n".join(lines) + ("\n" if lines else ""))
    return len(lines)

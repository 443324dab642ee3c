"""A user's folder of MIDI files as a fine-tune corpus for one style.

The folder goes through `prepare midi` (midi_folder.py: analysed attributes, captions from
a captions file when given), then:
  - pieces that are drums only, or the same notes as a piece kept already (a copy, a
    re-saved file), are dropped and counted, like the unreadable files `prepare` counted;
  - every piece gets the style control the fine-tune trains (`style`) and captions that
    name the style by the user's word (`style_name`), synthesised from the analysed
    attributes (a captions file's own caption is kept first);
  - a validation part is held out (about a tenth, at least one piece, at most 20),
    chosen by a stable hash of the piece id, so a rerun holds out the same pieces.
`style.json` in the corpus folder records what was done; its presence marks the corpus
finished (a resumed fine-tune reuses it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import symusic

from ..conditioning.instruments import DRUMS
from ..errors import BadInputError
from ..fileio import atomic_write_json
from .captions import make_captions
from .midi_folder import prepare_midi_folder
from .prepare import ProgressFn
from .records import PieceRecord, load_records, write_index

log = logging.getLogger(__name__)

REPORT = "style.json"
VAL_FRACTION = 0.1
MAX_VAL_PIECES = 20
MIN_PIECES = 2  # one to learn from, one to validate on
CAPTIONS = 4
DUPLICATE = "duplicate of another file"
DRUMS_ONLY = "drums only"
UNREADABLE = "unreadable"


@dataclass
class StyleCorpusReport:
    """What became of a style folder's files."""

    folder: str
    style: str  # the style control the corpus trains
    style_name: str  # the user's word for it
    midi_files: int = 0
    pieces: int = 0  # usable pieces, train + val
    train: int = 0
    val: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> files
    captions_matched: int = 0

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        """One line: files, pieces used, and what was skipped and why."""
        skipped = ", ".join(f"{n} {reason}" for reason, n in self.skipped.items())
        return (
            f"{self.midi_files} MIDI files: {self.pieces} used ({self.train} to learn from, "
            f"{self.val} held out for validation)" + (f"; skipped {skipped}" if skipped else "")
        )


def note_fingerprint(path: Path) -> str:
    """A hash of a prepared MIDI file's notes (track programs, onsets, lengths, pitches):
    the same music saved twice, under other names or with other metadata, hashes alike."""
    score = symusic.Score(str(path))
    h = hashlib.sha1()
    tracks = []
    for t in score.tracks:
        notes = t.notes.numpy()
        order = np.lexsort((notes["pitch"], notes["time"]))
        arr = np.stack([notes["time"][order], notes["duration"][order], notes["pitch"][order]])
        tracks.append((bool(t.is_drum), int(t.program), arr.astype(np.int64).tobytes()))
    for drum, program, data in sorted(tracks):
        h.update(f"{drum}:{program}:".encode())
        h.update(data)
    return h.hexdigest()


def _skip_reasons(report) -> dict[str, int]:
    """`prepare`'s skipped and failed counts in plain words (unreadable files together)."""
    reasons: dict[str, int] = {}
    for reason, n in report.skipped.items():
        key = UNREADABLE if reason.startswith("empty file") else reason
        reasons[key] = reasons.get(key, 0) + n
    failed = sum(report.failed.values())
    if failed:
        reasons[UNREADABLE] = reasons.get(UNREADABLE, 0) + failed
    return reasons


def _drop(corpus: Path, rec: PieceRecord) -> None:
    (corpus / "records" / f"{rec.id}.json").unlink(missing_ok=True)
    (corpus / rec.midi_path).unlink(missing_ok=True)


def _val_ids(ids: list[str]) -> set[str]:
    """The held-out pieces: about a tenth, at least one, at most MAX_VAL_PIECES, by hash."""
    n = min(MAX_VAL_PIECES, max(1, math.floor(len(ids) * VAL_FRACTION + 0.5)))
    ranked = sorted(ids, key=lambda i: hashlib.sha1(f"val:{i}".encode()).hexdigest())
    return set(ranked[:n])


def _style_captions(rec: PieceRecord, style_name: str) -> list[str]:
    """Captions naming the style by the user's word; a captions file's own caption first."""
    rng = random.Random(int(hashlib.sha1(rec.id.encode()).hexdigest()[:8], 16))
    made = make_captions(replace(rec, form=style_name), rng, CAPTIONS)
    given = rec.captions[0] if rec.extra.get("caption_source") == "captions file" else ""
    return [given, *made[: CAPTIONS - 1]] if given else made


def prepare_style_corpus(
    folder: str | Path,
    out_dir: str | Path,
    style: str,
    style_name: str,
    captions: str | Path | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> StyleCorpusReport:
    """Prepare `folder` (MIDI files) into `out_dir` as a corpus of one style (module doc).

    Raises BadInputError when fewer than MIN_PIECES usable pieces remain, naming why the
    others were skipped.
    """
    folder, out_dir = Path(folder), Path(out_dir)
    prepared = prepare_midi_folder(folder, out_dir, captions, workers, progress)
    report = StyleCorpusReport(
        folder=str(folder),
        style=style,
        style_name=style_name,
        midi_files=prepared.midi_files,
        captions_matched=prepared.captions_matched,
    )
    skipped = _skip_reasons(prepared)
    kept: list[PieceRecord] = []
    seen: set[str] = set()
    records = load_records(out_dir) if prepared.pieces_in_index else []
    for rec in sorted(records, key=lambda r: r.id):
        if rec.programs and all(p == DRUMS for p in rec.programs):
            reason = DRUMS_ONLY
        else:
            print_ = note_fingerprint(out_dir / rec.midi_path)
            reason = DUPLICATE if print_ in seen else ""
            seen.add(print_)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
            _drop(out_dir, rec)
            log.info("skipped %s: %s", rec.extra.get("path", rec.id), reason)
        else:
            kept.append(rec)
    report.skipped = dict(sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0])))
    if len(kept) < MIN_PIECES:
        need = (
            f"a fine-tune needs at least {MIN_PIECES} different pieces (one to learn from, "
            "one to validate on)"
        )
        if report.midi_files == 1 and kept:
            raise BadInputError(f"{str(folder)!r} holds a single MIDI file; {need}")
        why = ", ".join(f"{n} {r}" for r, n in report.skipped.items())
        found = "none" if not kept else "only one"
        raise BadInputError(
            f"{found} of the {report.midi_files} MIDI files in {str(folder)!r} can be used "
            f"(skipped {why}); {need}"
        )
    val = _val_ids([r.id for r in kept])
    for rec in kept:
        rec.form = style
        rec.split = "val" if rec.id in val else "train"
        rec.extra["style_name"] = style_name
        rec.captions = _style_captions(rec, style_name)
        atomic_write_json(out_dir / "records" / f"{rec.id}.json", asdict(rec))
    write_index(out_dir)
    report.pieces = len(kept)
    report.val = len(val)
    report.train = len(kept) - len(val)
    atomic_write_json(out_dir / REPORT, asdict(report))
    return report


def load_style_report(out_dir: str | Path) -> StyleCorpusReport | None:
    """The report of a finished style corpus (None: not finished)."""
    path = Path(out_dir) / REPORT
    if not path.is_file():
        return None
    try:
        return StyleCorpusReport(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def remove_corpus(out_dir: str | Path) -> None:
    """A corpus folder gone (a fresh fine-tune prepares again)."""
    shutil.rmtree(out_dir, ignore_errors=True)

"""The corpus bundled with music21 as a prepared corpus (`tunesmith prepare music21`).

Every usable score of `music21.corpus.getCorePaths()` becomes one MIDI file (one track per
voice, GM programs set) and one `PieceRecord` with metadata and captions. Multi-tune ABC
books are split on their `X:` headers in the parent process and each tune is parsed on its
own: one tune is a fraction of a second of music21 parsing, the whole book minutes, and a
per-tune job makes per-tune resume possible. MIDI is built with symusic directly from
music21's notes, which is much faster than music21's MIDI writer.

Modules, by job:
- `jobs`: which corpus files are pieces, one `Music21Job` per piece or ABC tune, sampling.
- `metadata`: what each collection is; titles, composers, forms, regions, tune ids, modes.
- `convert`: music21 score -> per-voice note lists -> instruments, tempo, meter, key ->
  symusic Score and `PieceRecord` (runs in worker processes).
- `prepare`: the entry point, `prepare_music21`, which runs the jobs in workers.
"""

from .convert import build_score, convert_job, corpus_key, extract_music, parse_job
from .jobs import (
    Music21Job,
    abc_jobs,
    corpus_root,
    list_jobs,
    sample_jobs,
    skip_reason,
    split_abc,
)
from .metadata import COLLECTIONS, Collection, abc_fields, clean_title
from .prepare import prepare_music21

__all__ = [
    "COLLECTIONS",
    "Collection",
    "Music21Job",
    "abc_fields",
    "abc_jobs",
    "build_score",
    "clean_title",
    "convert_job",
    "corpus_key",
    "corpus_root",
    "extract_music",
    "list_jobs",
    "parse_job",
    "prepare_music21",
    "sample_jobs",
    "skip_reason",
    "split_abc",
]

"""Token arrays for training: a prepared corpus tokenized once, plus caption embeddings.

Layout of `<corpus>/tokens/<tokenization>/` (each file written atomically):
  tokens.npy        uint16, every piece's music tokens concatenated
  offsets.npy       int64 [n+1], piece i is tokens[offsets[i]:offsets[i+1]]
  bars.npy          int32, bar start indexes (relative to the piece), concatenated
  bar_offsets.npy   int64 [n+1]
  index.json        per piece: id, split, controls, pitch range, caption rows per transposition
  text/             the caption embedding cache (tunesmith.text.encode_texts_cached)

Transposition is done on the fly at token level (pitch tokens shift), so each piece keeps a
few transpositions whose captions are re-synthesised with the new key and embedded here.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import BadInputError
from ..fileio import atomic_write_bytes, atomic_write_json
from ..music.chords import bar_harmony
from ..music.keys import transpose_key
from ..tokens.layouts import insert_harmony
from ..tokens.tokenizer import MusicTokenizer
from .records import PieceRecord, load_records

log = logging.getLogger(__name__)

CAPTIONS_PER_PIECE = 3
TRANSPOSITIONS_PER_PIECE = 2  # besides the original key
MAX_TRANSPOSE = 5
FORMAT = "tunesmith-tokens/1"


@dataclass
class TokenDataset:
    """Tokenized corpus in memory (numpy arrays, a few MB for the bundled corpus)."""

    tokenizer: MusicTokenizer
    tokens: np.ndarray
    offsets: np.ndarray
    bars: np.ndarray
    bar_offsets: np.ndarray
    pieces: list[dict]
    text_emb: np.ndarray  # float16 [rows, 384]

    def piece_ids(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i] : self.offsets[i + 1]]

    def piece_bars(self, i: int) -> np.ndarray:
        return self.bars[self.bar_offsets[i] : self.bar_offsets[i + 1]]

    def split_indexes(self, split: str) -> np.ndarray:
        return np.array(
            [i for i, p in enumerate(self.pieces) if p["split"] == split], dtype=np.int64
        )

    def num_tokens(self, split: str | None = None) -> int:
        idx = range(len(self.pieces)) if split is None else self.split_indexes(split)
        return int(sum(self.offsets[i + 1] - self.offsets[i] for i in idx))


# -- building ----------------------------------------------------------------------------
_worker_tokenizer: MusicTokenizer | None = None


def _init_worker(name: str, extensions: tuple[str, ...] = ()) -> None:
    global _worker_tokenizer
    _worker_tokenizer = MusicTokenizer(name, extensions)


def _tokenize_one(path: str) -> tuple[np.ndarray, np.ndarray] | str:
    """Music ids + bar starts of one MIDI file, or an error message."""
    import symusic

    try:
        score = symusic.Score(path)
        tok = _worker_tokenizer
        assert tok is not None  # set by the pool initializer
        piece = tok.encode_music(score)
        ids, bar_starts = piece.ids, piece.bar_starts
        if tok.has_harmony:  # model v2: each bar states its chord (tokens/layouts.py)
            ids = insert_harmony(tok, ids, bar_harmony(score))
            bar_starts = np.flatnonzero(ids == tok.bar_id).astype(np.int32)
    except Exception as e:  # a bad file is reported and skipped, never fatal
        return f"{type(e).__name__}: {e}"
    if len(ids) == 0:
        return "no tokens"
    return ids, bar_starts


def tokenize_files(
    paths: list[str],
    tokenization: str,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    extensions: tuple[str, ...] = (),
) -> list[tuple[np.ndarray, np.ndarray] | str]:
    """Tokenize MIDI files in parallel; each result is (ids, bar_starts) or an error."""
    workers = max(1, workers or os.cpu_count() or 1)
    results: list = []
    if workers == 1:
        _init_worker(tokenization, extensions)
        for i, p in enumerate(paths):
            results.append(_tokenize_one(p))
            if progress:
                progress(i + 1, len(paths))
        return results
    chunk = max(1, min(64, len(paths) // (workers * 8) or 1))
    with ProcessPoolExecutor(
        workers, initializer=_init_worker, initargs=(tokenization, extensions)
    ) as ex:
        for i, r in enumerate(ex.map(_tokenize_one, paths, chunksize=chunk)):
            results.append(r)
            if progress:
                progress(i + 1, len(paths))
    return results


def _record_controls(rec: PieceRecord) -> dict:
    return {
        "style": rec.form,
        "key": rec.key,
        "meter": rec.meter,
        "tempo": rec.tempo,
        "instruments": list(rec.programs),
    }


def _transpositions(rec_id: str, lo: int, hi: int) -> list[int]:
    """A few transpositions (semitones) for one piece, chosen deterministically."""
    choices = [
        k for k in range(-MAX_TRANSPOSE, MAX_TRANSPOSE + 1) if k and lo + k >= 21 and hi + k <= 108
    ]
    random.Random(f"transpose:{rec_id}").shuffle(choices)
    return sorted(choices[:TRANSPOSITIONS_PER_PIECE])


def _captions_for(rec: PieceRecord, k: int) -> list[str]:
    """Captions of the piece transposed by k semitones (k=0: the record's own)."""
    if k == 0 or not rec.key:
        return list(rec.captions[:CAPTIONS_PER_PIECE])
    from .captions import make_captions

    # a fine-tune corpus names its style by the user's word (style_corpus.py), not the
    # style control it trains
    form = rec.extra.get("style_name") or rec.form
    moved = replace(rec, key=transpose_key(rec.key, k), form=form)
    return make_captions(moved, random.Random(f"caption:{rec.id}:{k}"), 1)


def build_token_dataset(
    corpus_dir: str | Path,
    tokenization: str = "REMI",
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    embed_text: bool = True,
    extensions: tuple[str, ...] = (),
) -> Path:
    """Tokenize a prepared corpus and embed its captions; returns the tokens folder
    (`tokens/<tokenization>[-<extension>...]`).

    `progress(stage, done, total)` is called for 'tokenize' and 'embed'.
    """
    corpus_dir = Path(corpus_dir)
    records = load_records(corpus_dir)
    tokenizer = MusicTokenizer(tokenization, extensions)
    out = corpus_dir / "tokens" / tokenizer.dir_name
    paths = [str(corpus_dir / r.midi_path) for r in records]
    results = tokenize_files(
        paths,
        tokenization,
        workers,
        (lambda d, t: progress("tokenize", d, t)) if progress else None,
        tokenizer.extensions,
    )
    pitch_of = _pitch_table(tokenizer)
    tokens, bars, pieces = [], [], []
    failures: dict[str, int] = {}
    captions: list[str] = []
    for rec, res in zip(records, results, strict=True):
        if isinstance(res, str):
            failures[res.split(":")[0]] = failures.get(res.split(":")[0], 0) + 1
            continue
        ids, bar_starts = res
        pitches = pitch_of[ids]
        pitches = pitches[pitches >= 0]
        lo, hi = (int(pitches.min()), int(pitches.max())) if len(pitches) else (60, 60)
        rows: dict[str, list[int]] = {}
        for k in [0, *(_transpositions(rec.id, lo, hi) if rec.key else [])]:
            texts = _captions_for(rec, k)
            rows[str(k)] = list(range(len(captions), len(captions) + len(texts)))
            captions.extend(texts)
        pieces.append(
            {
                "id": rec.id,
                "split": rec.split,
                "controls": _record_controls(rec),
                "bars": rec.bars,
                "pitch_range": [lo, hi],
                "caption_rows": rows,
            }
        )
        tokens.append(ids.astype(np.uint16))
        bars.append(bar_starts.astype(np.int32))
    if not pieces:
        raise BadInputError(f"no piece of {str(corpus_dir)!r} could be tokenized")
    emb = np.zeros((len(captions), 384), dtype=np.float16)
    if embed_text and captions:
        from ..conditioning.text import encode_texts_cached

        if progress:
            progress("embed", 0, len(captions))
        emb = encode_texts_cached(captions, out / "text").astype(np.float16)
        if progress:
            progress("embed", len(captions), len(captions))
    _save_arrays(out, tokens, bars, emb)
    atomic_write_json(
        out / "index.json",
        {
            "format": FORMAT,
            "tokenization": tokenization,
            "text_embedded": bool(embed_text),
            "failures": failures,
            "pieces": pieces,
        },
    )
    tokenizer.save(out)
    log.info("tokenized %d pieces (%d failed) into %s", len(pieces), sum(failures.values()), out)
    return out


def _pitch_table(tokenizer: MusicTokenizer) -> np.ndarray:
    """Token id -> MIDI pitch for pitched note tokens, -1 for everything else."""
    table = np.full(tokenizer.vocab_size, -1, dtype=np.int32)
    for prefix in ("Pitch_", "NoteOn_"):
        for i in tokenizer.ids_with_prefix(prefix):
            table[i] = int(tokenizer.token(i).split("_")[1])
    return table


def transpose_table(tokenizer: MusicTokenizer, semitones: int) -> np.ndarray:
    """Token id -> id after transposing pitched note tokens (drum tokens are untouched)."""
    table = np.arange(tokenizer.vocab_size, dtype=np.int64)
    if semitones == 0:
        return table
    for prefix in ("Pitch_", "NoteOn_", "NoteOff_"):
        for i in tokenizer.ids_with_prefix(prefix):
            pitch = int(tokenizer.token(i).split("_")[1]) + semitones
            name = f"{prefix}{pitch}"
            table[i] = tokenizer.token_id(name) if name in tokenizer._vocab else -1
    for i in tokenizer.ids_with_prefix("Harmony_"):
        root, sep, quality = tokenizer.token(i)[len("Harmony_") :].partition(":")
        if sep:  # a chord moves with the notes; Harmony_none stays
            table[i] = tokenizer.token_id(f"Harmony_{(int(root) + semitones) % 12}:{quality}")
    return table


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _save_arrays(out: Path, tokens: list, bars: list, emb: np.ndarray) -> None:
    offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(t) for t in tokens])
    bar_offsets = np.zeros(len(bars) + 1, dtype=np.int64)
    bar_offsets[1:] = np.cumsum([len(b) for b in bars])
    atomic_write_bytes(out / "tokens.npy", _npy_bytes(np.concatenate(tokens)))
    atomic_write_bytes(out / "offsets.npy", _npy_bytes(offsets))
    atomic_write_bytes(out / "bars.npy", _npy_bytes(np.concatenate(bars)))
    atomic_write_bytes(out / "bar_offsets.npy", _npy_bytes(bar_offsets))
    atomic_write_bytes(out / "text_emb.npy", _npy_bytes(emb))


def load_token_dataset(tokens_dir: str | Path) -> TokenDataset:
    """Load what `build_token_dataset` wrote."""
    tokens_dir = Path(tokens_dir)
    index_path = tokens_dir / "index.json"
    if not index_path.is_file():
        raise BadInputError(f"{str(tokens_dir)!r} holds no tokenized dataset (index.json missing)")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    if index.get("format") != FORMAT:
        raise BadInputError(f"{str(index_path)!r} is not a tunesmith token index")
    arrays = {
        name: np.load(tokens_dir / f"{name}.npy")
        for name in ("tokens", "offsets", "bars", "bar_offsets", "text_emb")
    }
    return TokenDataset(
        tokenizer=MusicTokenizer.load(tokens_dir),
        pieces=index["pieces"],
        **arrays,
    )

"""`tunesmith data stats`: what a prepared corpus holds, and how long it is in tokens.

Counts by source, form, key, meter, instrument, voices and split, a histogram of lengths
in bars, total duration, and per tokenization the mean tokens per piece and per bar on a
deterministic sample (so a context length and a token budget can be chosen before
tokenizing everything), plus exact totals where `<corpus>/tokens/<name>/` already exists.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import symusic
from rich.console import Console
from rich.table import Table

from ..conditioning.controls import BAR_BINS
from ..conditioning.instruments import program_name
from ..errors import BadInputError
from ..tokens.tokenizer import TOKENIZATIONS, MusicTokenizer
from .records import SPLITS, PieceRecord, load_records

log = logging.getLogger(__name__)

TOKEN_SAMPLE = 200  # pieces tokenized per tokenization for the means
UNKNOWN = "unknown"
_TABLE_ROWS = 15  # rows shown per count table; the JSON keeps every value


def corpus_stats(corpus_dir: str | Path, token_sample: int = TOKEN_SAMPLE) -> dict[str, Any]:
    """A JSON-ready summary of a prepared corpus (see the module docstring).

    `token_sample` bounds the pieces tokenized per tokenization (0 skips tokenizing).
    Raises BadInputError for a missing folder or one without prepared pieces.
    """
    corpus = Path(corpus_dir)
    records = load_records(corpus)
    durations = [r.duration_s for r in records]
    return {
        "corpus": str(corpus),
        "pieces": len(records),
        "duration_s": round(float(sum(durations)), 1),
        "duration_h": round(float(sum(durations)) / 3600, 2),
        "bars": int(sum(r.bars for r in records)),
        "counts": category_counts(records),
        "bars_histogram": bars_histogram(r.bars for r in records),
        "tokens": {
            name: token_stats(corpus, records, name, token_sample) for name in TOKENIZATIONS
        },
    }


# -- counts --------------------------------------------------------------------------------
def category_counts(records: list[PieceRecord]) -> dict[str, dict[str, int]]:
    """Pieces per source, form, key, meter, instrument (pieces using it), voices, split."""
    counts = {
        "source": _count(r.source or UNKNOWN for r in records),
        "form": _count(r.form or UNKNOWN for r in records),
        "key": _count(r.key or UNKNOWN for r in records),
        "meter": _count(r.meter or UNKNOWN for r in records),
        "instrument": _count(
            name for r in records for name in dict.fromkeys(_instrument_name(p) for p in r.programs)
        ),
        "voices": _count(str(r.voices) for r in records),
    }
    split = Counter(r.split for r in records)
    counts["split"] = {s: split.get(s, 0) for s in (*SPLITS, *sorted(set(split) - set(SPLITS)))}
    return counts


def _count(values: Iterable[str]) -> dict[str, int]:
    """Counts, most common first, ties by name (stable output for tests and diffs)."""
    counter = Counter(values)
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _instrument_name(program: int) -> str:
    try:
        return program_name(int(program))
    except BadInputError:
        return f"program {program}"


def bars_histogram(bars: Iterable[int]) -> dict[str, int]:
    """Pieces per length bin; the bins are the control vocabulary's length bins."""
    edges = [0, *BAR_BINS]
    labels = [f"{lo + 1}-{hi}" for lo, hi in zip(edges, edges[1:], strict=False)]
    labels.append(f">{BAR_BINS[-1]}")
    hist = dict.fromkeys(labels, 0)
    for n in bars:
        index = int(np.searchsorted(BAR_BINS, max(int(n), 1)))
        hist[labels[index]] += 1
    return hist


# -- tokens --------------------------------------------------------------------------------
def sample_records(records: list[PieceRecord], n: int) -> list[PieceRecord]:
    """At most `n` records chosen by a stable hash of their id: the same every run and
    spread over every source, whatever order the records are in."""
    ranked = sorted(records, key=lambda r: hashlib.sha1(r.id.encode("utf-8")).hexdigest())
    return ranked[: max(n, 0)]


def token_stats(
    corpus: Path, records: list[PieceRecord], name: str, sample_size: int = TOKEN_SAMPLE
) -> dict[str, Any]:
    """Mean tokens per piece and per bar on a sample, plus exact totals when tokenized."""
    stats: dict[str, Any] = {"sample_pieces": 0, "sample_failed": 0}
    sample = sample_records(records, sample_size)
    if sample:
        stats.update(_sample_token_counts(corpus, sample, name))
        if stats["mean_per_piece"] is not None:
            stats["estimated_total"] = round(stats["mean_per_piece"] * len(records))
    stats["dataset"] = dataset_token_totals(corpus / "tokens" / name)
    return stats


def _sample_token_counts(corpus: Path, sample: list[PieceRecord], name: str) -> dict[str, Any]:
    tokenizer = MusicTokenizer(name)
    tokens: list[int] = []
    bars: list[int] = []
    failed: Counter[str] = Counter()
    for rec in sample:
        try:
            piece = tokenizer.encode_music(symusic.Score(str(corpus / rec.midi_path)))
        except Exception as e:  # a broken piece is counted, never fatal
            failed[type(e).__name__] += 1
            log.debug("%s: cannot tokenize %s with %s", corpus, rec.id, name, exc_info=True)
            continue
        tokens.append(len(piece.ids))
        bars.append(rec.bars or len(piece.bar_starts))
    n = len(tokens)
    return {
        "sample_pieces": n,
        "sample_failed": sum(failed.values()),
        "mean_per_piece": round(sum(tokens) / n, 1) if n else None,
        "mean_per_bar": round(sum(tokens) / sum(bars), 2) if n and sum(bars) else None,
        "max_per_piece": max(tokens) if n else None,
    }


def dataset_token_totals(tokens_dir: Path) -> dict[str, Any] | None:
    """Exact token totals of a tokenized dataset (index.json + offsets.npy), if present."""
    index_path, offsets_path = tokens_dir / "index.json", tokens_dir / "offsets.npy"
    if not (index_path.is_file() and offsets_path.is_file()):
        return None
    try:
        pieces = json.loads(index_path.read_text(encoding="utf-8"))["pieces"]
        offsets = np.load(offsets_path, allow_pickle=False)
    except (OSError, ValueError, KeyError) as e:
        log.warning("ignoring unreadable token dataset %s: %s", tokens_dir, e)
        return None
    if len(offsets) != len(pieces) + 1:
        log.warning("ignoring token dataset %s: offsets and index disagree", tokens_dir)
        return None
    lengths = np.diff(offsets)
    by_split: Counter[str] = Counter()
    for piece, length in zip(pieces, lengths, strict=True):
        by_split[piece.get("split", UNKNOWN)] += int(length)
    return {
        "pieces": len(pieces),
        "total": int(offsets[-1]),
        "by_split": {
            s: by_split.get(s, 0) for s in (*SPLITS, *sorted(set(by_split) - set(SPLITS)))
        },
    }


# -- rendering -----------------------------------------------------------------------------
def render_stats(stats: dict[str, Any], console: Console) -> None:
    """Print `corpus_stats` output as rich tables."""
    console.print(_overview_table(stats))
    for category, counts in stats["counts"].items():
        console.print(_counts_table(category, counts, stats["pieces"]))
    console.print(_histogram_table(stats["bars_histogram"]))
    console.print(_tokens_table(stats["tokens"]))


def _overview_table(stats: dict[str, Any]) -> Table:
    table = Table(title=f"Corpus {stats['corpus']}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("pieces", f"{stats['pieces']:,}")
    table.add_row("duration", f"{stats['duration_h']:.2f} h ({stats['duration_s']:,.0f} s)")
    table.add_row("bars", f"{stats['bars']:,}")
    return table


def _counts_table(category: str, counts: dict[str, int], pieces: int) -> Table:
    table = Table(title=f"by {category}")
    table.add_column(category)
    table.add_column("pieces", justify="right")
    table.add_column("%", justify="right")
    for value, n in list(counts.items())[:_TABLE_ROWS]:
        table.add_row(value, f"{n:,}", f"{100 * n / max(pieces, 1):.1f}")
    if len(counts) > _TABLE_ROWS:
        table.add_row(f"… {len(counts) - _TABLE_ROWS} more", "", "", style="dim")
    return table


def _histogram_table(hist: dict[str, int]) -> Table:
    table = Table(title="length in bars")
    table.add_column("bars")
    table.add_column("pieces", justify="right")
    table.add_column("")
    top = max(hist.values(), default=0) or 1
    for label, n in hist.items():
        table.add_row(label, f"{n:,}", "█" * round(30 * n / top))
    return table


def _tokens_table(tokens: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="tokens per tokenization (means over a sample)")
    table.add_column("tokens", no_wrap=True)
    for header in ("sample", "per piece", "per bar", "max", "est. total", "tokenized"):
        table.add_column(header, justify="right")
    for name, t in tokens.items():
        dataset = t.get("dataset")
        exact = f"{dataset['total']:,} ({dataset['pieces']:,} pieces)" if dataset else "-"
        table.add_row(
            name,
            f"{t['sample_pieces']}"
            + (f" ({t['sample_failed']} failed)" if t["sample_failed"] else ""),
            _fmt(t.get("mean_per_piece"), "{:,.0f}"),
            _fmt(t.get("mean_per_bar"), "{:.1f}"),
            _fmt(t.get("max_per_piece"), "{:,}"),
            _fmt(t.get("estimated_total"), "{:,}"),
            exact,
        )
    return table


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else spec.format(value)

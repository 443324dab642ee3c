"""`corpus_stats` / `render_stats`: counts, bar histogram, token means and exact totals."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from tests.conftest import write_corpus

from tunesmith.data.dataset import build_token_dataset
from tunesmith.data.records import load_records
from tunesmith.data.stats import bars_histogram, corpus_stats, render_stats, sample_records
from tunesmith.errors import BadInputError
from tunesmith.tokens.tokenizer import TOKENIZATIONS


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("stats_corpus"), n=12)


@pytest.fixture(scope="module")
def stats(corpus: Path) -> dict:
    return corpus_stats(corpus)


def test_counts_match_records(corpus: Path, stats: dict) -> None:
    records = load_records(corpus)
    assert stats["pieces"] == 12
    assert stats["bars"] == sum(r.bars for r in records)
    counts = stats["counts"]
    assert counts["source"] == {"synthetic": 12}
    assert counts["form"] == {"jig": 3, "march": 3, "reel": 3, "waltz": 3}
    assert counts["meter"] == dict(Counter(r.meter for r in records))
    assert counts["key"] == dict(Counter(r.key for r in records))
    assert counts["voices"] == {"1": 3, "2": 3, "3": 3, "4": 3}
    # pieces using an instrument, not voices: the quartet's two violins count once
    assert counts["instrument"] == {"Violin": 6, "Cello": 6, "Choir Aahs": 3, "Fiddle": 3,
                                    "Viola": 3}  # fmt: skip
    assert list(counts["split"])[:3] == ["train", "val", "test"]
    assert sum(counts["split"].values()) == 12
    assert sum(stats["bars_histogram"].values()) == 12
    assert stats["bars_histogram"]["5-8"] == 4 and stats["bars_histogram"]["9-12"] == 4
    json.dumps(stats)  # the CLI's --json output


def test_token_means_on_sample(stats: dict) -> None:
    assert set(stats["tokens"]) == set(TOKENIZATIONS)
    for name, t in stats["tokens"].items():
        assert t["sample_pieces"] == 12 and t["sample_failed"] == 0, name
        assert t["mean_per_piece"] > 0 and t["mean_per_bar"] > 0
        assert t["estimated_total"] == round(t["mean_per_piece"] * 12)
        assert t["dataset"] is None  # not tokenized yet
    # REMI+ adds chord and rest tokens to REMI
    assert stats["tokens"]["REMI+"]["mean_per_piece"] >= stats["tokens"]["REMI"]["mean_per_piece"]


def test_exact_totals_from_token_dataset(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "c", n=6)
    tokens_dir = build_token_dataset(corpus, "REMI", workers=1, embed_text=False)
    stats = corpus_stats(corpus, token_sample=2)
    remi = stats["tokens"]["REMI"]
    offsets = np.load(tokens_dir / "offsets.npy")
    assert remi["sample_pieces"] == 2
    assert remi["dataset"]["pieces"] == 6 and remi["dataset"]["total"] == int(offsets[-1])
    assert sum(remi["dataset"]["by_split"].values()) == int(offsets[-1])
    assert stats["tokens"]["MIDILike"]["dataset"] is None


def test_render_stats(stats: dict) -> None:
    buffer = io.StringIO()
    render_stats(stats, Console(file=buffer, width=140))
    text = buffer.getvalue()
    for word in ("pieces", "Violin", "3/4", "REMI+", "MIDILike", "length in bars"):
        assert word in text


def test_helpers(corpus: Path) -> None:
    hist = bars_histogram([1, 4, 5, 300])
    assert {k: v for k, v in hist.items() if v} == {"1-4": 2, "5-8": 1, ">256": 1}
    assert list(hist)[:3] == ["1-4", "5-8", "9-12"]
    records = load_records(corpus)
    forward, backward = sample_records(records, 3), sample_records(records[::-1], 3)
    assert len(forward) == 3 and [r.id for r in forward] == [r.id for r in backward]


def test_bad_corpus(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        corpus_stats(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="no prepared pieces"):
        corpus_stats(tmp_path / "empty")

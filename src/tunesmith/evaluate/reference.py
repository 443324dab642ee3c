"""Reference values of the music metrics on real data, per form (for docs/EVALUATION.md)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ..data.records import load_records
from ..music.metrics import metrics_for_file

SUMMARY_KEYS = ("H1", "H4", "GS", "notes_per_bar", "pitch_range", "polyphony")


def reference_metrics(corpus_dir: str | Path, split: str = "test", min_pieces: int = 5) -> dict:
    """Mean and std of each metric over a split's pieces, overall and per form."""
    corpus_dir = Path(corpus_dir)
    groups: dict[str, list[dict]] = defaultdict(list)
    for rec in load_records(corpus_dir):
        if rec.split != split:
            continue
        m = metrics_for_file(corpus_dir / rec.midi_path)
        groups[rec.form or "unknown"].append(m)
        groups["all"].append(m)
    table = {}
    for form, rows in sorted(groups.items(), key=lambda kv: (kv[0] != "all", -len(kv[1]))):
        if len(rows) < min_pieces and form != "all":
            continue
        entry: dict[str, Any] = {"pieces": len(rows)}
        for k in SUMMARY_KEYS:
            vals = np.array([r[k] for r in rows if r.get(k) is not None], dtype=float)
            entry[k] = {"mean": float(vals.mean()), "std": float(vals.std())} if len(vals) else None
        table[form] = entry
    return {"split": split, "forms": table}


def markdown_table(ref: dict) -> str:
    lines = [
        "| form | pieces | " + " | ".join(SUMMARY_KEYS) + " |",
        "|---|---:|" + "---:|" * len(SUMMARY_KEYS),
    ]
    for form, e in ref["forms"].items():
        cells = [f"{e[k]['mean']:.3f} ± {e[k]['std']:.3f}" if e[k] else "–" for k in SUMMARY_KEYS]
        lines.append(f"| {form} | {e['pieces']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

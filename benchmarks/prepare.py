"""Corpus preparation and tokenization speed, each beside a baseline run in the same process.

- prepare: tunesmith's converter (music21 parse -> symusic, parallel) vs the naive pipeline
  (music21 parse + music21's own MIDI writer, one process) on the same pieces;
- tokenize: tunesmith's parallel tokenization of prepared MIDI vs a single process.

    python benchmarks/prepare.py --pieces 120 --out benchmarks/results/prepare.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import NO_MODEL, machine, write_json  # noqa: E402


def naive_convert(jobs) -> int:
    """music21 parse + music21's MIDI writer: the straightforward pipeline, as a baseline."""
    import music21

    from tunesmith.data.sources.music21 import parse_job

    done = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, job in enumerate(jobs):
            try:
                score = parse_job(job)
                mf = music21.midi.translate.streamToMidiFile(score)
                mf.open(f"{tmp}/{i}.mid", "wb")
                mf.write()
                mf.close()
                done += 1
            except Exception:  # count what converts, as the product does
                pass
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pieces", type=int, default=120, help="sample size for preparation")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument(
        "--corpus", default="data/music21", help="prepared corpus to tokenize (all of it)"
    )
    ap.add_argument("--out", default="benchmarks/results/prepare.json")
    args = ap.parse_args()

    from tunesmith.data.dataset import tokenize_files
    from tunesmith.data.sources.music21 import list_jobs, prepare_music21, sample_jobs

    jobs, _ = list_jobs()
    sample = sample_jobs(jobs, args.pieces)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = prepare_music21(Path(tmp) / "c", limit=args.pieces, workers=args.workers)
        ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive_done = naive_convert(sample)
    naive_s = time.perf_counter() - t0

    corpus = Path(args.corpus)
    midis = sorted(str(p) for p in (corpus / "midi").glob("*.mid"))
    tokenize = None
    if midis:
        t0 = time.perf_counter()
        res = tokenize_files(midis, "REMI", workers=args.workers)
        par_s = time.perf_counter() - t0
        single = midis[: min(len(midis), 1000)]
        t0 = time.perf_counter()
        tokenize_files(single, "REMI", workers=1)
        one_s = time.perf_counter() - t0
        tokenize = {
            "files": len(midis),
            "failed": sum(isinstance(r, str) for r in res),
            "files_per_min": 60 * len(midis) / par_s,
            "baseline_single_process_files_per_min": 60 * len(single) / one_s,
            "speedup_vs_single_process": (len(midis) / par_s) / (len(single) / one_s),
            "target_files_per_min": 5000,
        }
    write_json(
        args.out,
        {
            "benchmark": "prepare",
            "machine": machine(),
            "prepare": {
                "pieces": report.converted,
                "files_per_min": 60 * report.converted / ours_s,
                "baseline_music21_writer_files_per_min": 60 * naive_done / naive_s,
                "speedup_vs_baseline": (report.converted / ours_s)
                / max(1e-9, naive_done / naive_s),
                "seed_reported_files_per_min": 100,
            },
            "tokenize": tokenize,
        },
        model=NO_MODEL,
    )


if __name__ == "__main__":
    main()

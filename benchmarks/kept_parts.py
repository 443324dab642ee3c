"""Editing a piece keeps what it should: kept parts, kept bars and the piece's meters.

The everyday workflow is to generate a piece and then edit it. This benchmark does that
with the shipped model: one 8-bar piece per prompt of the public set (prompts/eval.jsonl,
seed 1, written once to --work-dir and read by both versions), then on each piece

- add-part: a cello under it;
- rewrite-part: its last part written anew (pieces with two parts or more);
- harmonize: three voices under it (one-part pieces that are a single line);
- bar infill: bars 3-4 written anew.

Each result is checked against its input, by onset and pitch on the tokenizer's grid (a
32nd note; the groove library's swung and strummed notes come back on it, as documented): the kept parts (or, for bar infill, every note outside bars 3-4) are
all there and nothing was added to them; the time signatures are the input's; no voice
begins the same pitch twice at one moment, and the most notes one voice begins at once
(a harmonization's voices should each be a single line); for add-part, where the cello
lies: its median pitch against the lowest kept part's, and the share of its notes that
begin above the kept parts' lowest sounding pitch (it was asked for under them).
With --base COMMIT the same pieces go through an earlier commit's code too (a temporary
git worktree), in the same run.

    python benchmarks/kept_parts.py --base 7664c90 --out benchmarks/results/kept_parts.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import checkout, machine, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HOLE = (3, 4)

WORKER = r"""
import bisect, json, statistics, sys
from collections import Counter
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import symusic
from tunesmith import Composer

HOLE = (3, 4)
c = Composer.load()
work = Path(sys.argv[2])


def notes(track, tpq):
    # (onset in 1/32 notes, pitch): the tokenizer's grid, so a swung or strummed input note
    # and the kept note it becomes are the same note
    return sorted((round(n.time * 8 / tpq), int(n.pitch)) for n in track.notes)


def meters(score):
    return [(int(t.time), t.numerator, t.denominator) for t in score.time_signatures]


def bar_bounds(score, first, last):
    # tick range of bars first..last (1-based) under the score's own time signatures
    tpq, sigs = score.ticks_per_quarter, list(score.time_signatures) or [None]
    starts, t, bar = [], 0, 0
    end = max(int(score.end()), 1)
    while t <= end + 1 and bar < 512:
        sig = [s for s in sigs if s is not None and s.time <= t]
        num, den = (sig[-1].numerator, sig[-1].denominator) if sig else (4, 4)
        starts.append(t)
        t += num * 4 * tpq // den
        bar += 1
    starts.append(t)
    return starts[first - 1], starts[last]


def piles(score):
    dup = most = 0
    for tr in score.tracks:
        at = Counter((int(n.time), int(n.pitch)) for n in tr.notes)
        dup += sum(k - 1 for k in at.values() if k > 1)
        per_onset = Counter(int(n.time) for n in tr.notes)
        most = max(most, max(per_onset.values(), default=0))
    return dup, most


def register(new, kept):
    # where the added cello lies: its median against the lowest kept part's, and the share
    # of its notes that begin above the lowest kept note of the latest kept onset (a
    # crossing, near enough: "a cello under it" should stay under it)
    if not new or not kept:
        return {}
    lowest = min(kept, key=lambda ns: statistics.median(p for _, p in ns))
    sounding = {}
    for ns in kept:
        for t, p in ns:
            sounding.setdefault(t, []).append(p)
    onsets = sorted(sounding)
    above = 0
    for t, p in new:
        i = bisect.bisect_right(onsets, t) - 1  # the latest kept onset at or before it
        if i >= 0 and p > min(sounding[onsets[i]]):
            above += 1
    return {
        "new_median_minus_lowest_kept": statistics.median(p for _, p in new)
        - statistics.median(p for _, p in lowest),
        "new_notes_above_kept": above / len(new),
    }


out = []
for path in sorted(work.glob("in_*.mid")):
    src = symusic.Score(str(path))
    tracks = [t for t in src.tracks if t.notes]
    jobs = [("add-part", None)]
    if len(tracks) >= 2:
        jobs.append(("rewrite-part", len(tracks)))
    elif len({int(n.time) for n in tracks[0].notes}) == len(tracks[0].notes):
        jobs.append(("harmonize", None))  # a single line (a chordal part would be reduced)
    jobs.append(("bar-infill", None))
    for job, part in jobs:
        row = {"piece": path.stem, "job": job, "parts_in": len(tracks)}
        try:
            if job == "add-part":
                piece = c.add_part(src, "cello", seed=1)
            elif job == "rewrite-part":
                piece = c.infill(src, part=part, seed=1)
            elif job == "harmonize":
                piece = c.harmonize(src, voices=3, seed=1)
            else:
                piece = c.infill(src, bars=f"{HOLE[0]}-{HOLE[1]}", seed=1)
        except Exception as e:  # a refusal is a result too
            row["error"] = f"{type(e).__name__}: {e}"
            out.append(row)
            continue
        res = symusic.Score.from_midi(piece.midi_bytes())
        got = [t for t in res.tracks if t.notes]
        tpq_in, tpq_out = src.ticks_per_quarter, res.ticks_per_quarter
        if job == "bar-infill":
            lo, hi = (round(x * 8 / src.ticks_per_quarter) for x in bar_bounds(src, *HOLE))
            outside = lambda ns: sorted(x for x in ns if not lo <= x[0] < hi)
            exact = outside(n for t in tracks for n in notes(t, tpq_in)) == outside(
                n for t in got for n in notes(t, tpq_out)
            )
        else:
            if job == "rewrite-part":
                keep = [t for i, t in enumerate(tracks) if i != part - 1]
            else:
                keep = tracks[:1] if job == "harmonize" else tracks
            # each kept part is one of the result's parts, note for note (tracks may come
            # back in another order: a drum track goes last)
            left = [notes(t, tpq_out) for t in got]
            exact = True
            for t in keep:
                if notes(t, tpq_in) in left:
                    left.remove(notes(t, tpq_in))
                else:
                    exact = False
            if job == "add-part" and exact and len(left) == 1:
                row.update(register(left[0], [notes(t, tpq_in) for t in keep if not t.is_drum]))
        dup, most = piles(res)
        if job == "harmonize":  # every voice a single line: one note at a time
            row["single_lines"] = most == 1
        row.update(
            kept_exact=exact,
            meters_kept=meters(res) == meters(src),
            duplicates=dup,
            most_onsets_one_voice=most,
        )
        out.append(row)
print(json.dumps(out))
"""


def make_inputs(work: Path, prompts: Path, bars: int) -> list[dict]:
    """One piece per prompt (seed 1) with this checkout's code, written once."""
    from tunesmith import Composer

    work.mkdir(parents=True, exist_ok=True)
    c = Composer.load()
    rows = [json.loads(line) for line in prompts.read_text().splitlines() if line.strip()]
    made = []
    for i, row in enumerate(rows):
        path = work / f"in_{i:03d}.mid"
        if not path.exists():
            piece = c(row["prompt"], bars=bars, seed=1)
            path.write_bytes(piece.midi_bytes())
        made.append({"file": path.name, "prompt": row["prompt"]})
    return made


def run_version(src: Path, work: Path) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(src), str(work)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summary(rows: list[dict]) -> dict:
    out: dict = {}
    for job in ("all", "add-part", "rewrite-part", "harmonize", "bar-infill"):
        sel = [r for r in rows if job == "all" or r["job"] == job]
        done = [r for r in sel if "error" not in r]
        if not sel:
            continue
        out[job] = {
            "requests": len(sel),
            "refused": len(sel) - len(done),
            "kept_exact": sum(r["kept_exact"] for r in done),
            "meters_kept": sum(r["meters_kept"] for r in done),
            "with_duplicates": sum(r["duplicates"] > 0 for r in done),
            "most_onsets_one_voice": max((r["most_onsets_one_voice"] for r in done), default=0),
        }
        if job == "harmonize":
            out[job]["single_lines"] = sum(r["single_lines"] for r in done)
        placed = [r for r in done if "new_notes_above_kept" in r]
        if job == "add-part" and placed:
            out[job]["cello_median_minus_lowest_kept_median"] = statistics.median(
                r["new_median_minus_lowest_kept"] for r in placed
            )
            out[job]["cello_notes_above_the_kept_parts"] = statistics.mean(
                r["new_notes_above_kept"] for r in placed
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", default=str(ROOT / "prompts" / "eval.jsonl"))
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--work-dir", default="runs/kept_parts", help="the input pieces")
    ap.add_argument("--base", default=None, help="an earlier commit to run the same pieces")
    ap.add_argument("--out", default="benchmarks/results/kept_parts.json")
    args = ap.parse_args()
    work = Path(args.work_dir).resolve()
    inputs = make_inputs(work, Path(args.prompts), args.bars)
    versions = {"this": run_version(ROOT / "src", work)}
    if args.base:
        with checkout(args.base) as base:
            versions["base"] = run_version(base / "src", work)
    changing = [
        r["file"] for r in inputs
        if len({(t.numerator, t.denominator) for t in _sigs(work / r["file"])}) > 1
    ]  # fmt: skip
    write_json(
        args.out,
        {
            "benchmark": "kept_parts",
            "machine": machine(),
            "base_commit": args.base,
            "pieces": len(inputs),
            "pieces_changing_meter": changing,
            "hole_bars": list(HOLE),
            "summary": {name: summary(rows) for name, rows in versions.items()},
            "failures": {
                name: [
                    r for r in rows if "error" in r or not (r["kept_exact"] and r["meters_kept"])
                ]
                for name, rows in versions.items()
            },
        },
    )


def _sigs(path: Path):
    import symusic

    return symusic.Score(str(path)).time_signatures


if __name__ == "__main__":
    main()

"""Sheet music and ABC: render times for a 32-bar piece, and the ABC round trip on the
corpus's test tunes.

Render times (`--what render`): the shipped model writes a 32-bar piece for a fixed prompt
and seed (generation is not timed); then MusicXML (`render/notation.py` `musicxml_bytes`),
SVG sheet music (`render/engrave.py` `score_svgs`: MusicXML then verovio; pages split and
one tall page), verovio's engraving alone, and ABC (`render/abc.py` `abc_text`) are each
timed `--runs` times; the median is reported.

ABC round trip (`--what abc`): every ABC tune of music21's bundled corpus whose tune id
falls in the test split (`data/records.py` `split_for` on the id corpus preparation gives
it, `data/sources/music21/metadata.py` `abc_meta`) is read into a tunesmith Score
(`music/abc.py`), written as ABC by tunesmith's writer and read again. A tune passes when
both Scores hold the same notes: onset, pitch and duration of every note (ties merged);
"same pitches" compares the pitch sequence alone. Failures are sorted into causes: a
rhythm off the writer's grid (each quarter-note beat is written in 16ths or eighth
triplets, or in 32nds or sixteenth triplets when all its notes lie on them:
`notation.py` `_grid` with exact=True; a beat mixing 32nds and sixteenth triplets, or
finer values, is snapped), chords (music21's ABC reader drops ties inside [chords]), and
others, with examples.

    python benchmarks/notation.py --what render --out benchmarks/results/notation_render.json
    python benchmarks/notation.py --what abc --out benchmarks/results/abc_roundtrip.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import NO_MODEL, SHIPPED, machine, write_json  # noqa: E402

PROMPT = "a string quartet in G major"
GRIDS = (Fraction(1, 4), Fraction(1, 3), Fraction(1, 8), Fraction(1, 6))  # steps, quarters
BARS = 32
SEED = 1


def _median_time(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 4), result


def render_times(runs: int) -> dict:
    from tunesmith.api import Composer
    from tunesmith.render.abc import abc_text
    from tunesmith.render.engrave import engrave_musicxml, score_svgs
    from tunesmith.render.notation import musicxml_bytes

    composer = Composer.load()
    t0 = time.perf_counter()
    piece = composer(PROMPT, bars=BARS, seed=SEED)
    generate_s = time.perf_counter() - t0
    score = piece.notation_score()
    title, key, chords = piece.prompt, piece.controls.key, piece.chord_spans()
    musicxml_s, xml = _median_time(lambda: musicxml_bytes(score, title, key, chords), runs)
    split_s, pages = _median_time(lambda: score_svgs(score, title, key, chords, "split"), runs)
    single_s, _ = _median_time(lambda: score_svgs(score, title, key, chords, "single"), runs)
    engrave_s, _ = _median_time(lambda: engrave_musicxml(xml, "split"), runs)  # type: ignore[arg-type]
    abc_s, text = _median_time(lambda: abc_text(score, title, key, chords), runs)
    return {
        "piece": {
            "prompt": PROMPT,
            "bars": BARS,
            "seed": SEED,
            "parts": sum(1 for t in score.tracks if len(t.notes)),
            "notes": piece.num_notes,
            "chord_symbols": len(chords),
            "svg_pages": len(pages),  # type: ignore[arg-type]
            "musicxml_bytes": len(xml),  # type: ignore[arg-type]
            "abc_chars": len(text),  # type: ignore[arg-type]
            "generate_s_not_timed_below": round(generate_s, 2),
        },
        "runs": runs,
        "seconds_median": {
            "musicxml": musicxml_s,
            "svg_split_pages": split_s,
            "svg_single_page": single_s,
            "verovio_engraving_only": engrave_s,
            "abc": abc_s,
        },
    }


def test_tunes():
    from tunesmith.data.records import split_for
    from tunesmith.data.sources.music21.jobs import list_jobs
    from tunesmith.data.sources.music21.metadata import abc_meta

    jobs, _ = list_jobs()
    return [j for j in jobs if j.text and split_for(abc_meta(j).tune_id) == "test"]


def _notes(score) -> list[tuple[int, int, int]]:
    return sorted((n.time, n.pitch, n.duration) for t in score.tracks for n in t.notes)


def _off_grid(score) -> str | None:
    """Why a note's start or end is off the grid the ABC writer uses (per quarter-note
    beat: 16ths or eighth triplets, or 32nds or sixteenth triplets when every onset and
    offset of the beat lies on them): "32nds and sixteenth triplets in one beat", "finer
    values", or None when every beat fits."""
    tpq = int(score.tpq)
    found: set[str] = set()
    for t in score.tracks:
        beats: dict[int, list[Fraction]] = {}
        for n in t.notes:
            for tick in (n.time, n.time + n.duration):
                q = Fraction(tick, tpq)
                beat = q.numerator // q.denominator
                if q == beat and beat > 0:  # a beat's end: it belongs to the one before too
                    beats.setdefault(beat - 1, []).append(q - (beat - 1))
                beats.setdefault(beat, []).append(q - beat)
        for offsets in beats.values():
            if any(all((o / step).denominator == 1 for o in offsets) for step in GRIDS):
                continue
            if all((o * 24).denominator == 1 for o in offsets):
                found.add("32nds and sixteenth triplets in one beat")
            else:
                found.add("finer values")
    return ", ".join(sorted(found)) or None


def _has_chords(score) -> bool:
    return any(max(Counter(n.time for n in t.notes).values(), default=0) > 1 for t in score.tracks)


def abc_round_trip(limit: int | None) -> dict:
    from tunesmith.errors import BadInputError
    from tunesmith.music.abc import parse_tune
    from tunesmith.render.abc import abc_text

    tunes = test_tunes()
    if limit:
        tunes = tunes[:limit]
    counts: Counter[str] = Counter()
    causes: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    by_source: dict[str, Counter[str]] = {}
    t0 = time.perf_counter()
    for job in tunes:
        src = by_source.setdefault(job.source, Counter())
        src["tunes"] += 1
        try:
            original = parse_tune(job.text, job.id)
        except BadInputError as e:
            counts["unreadable"] += 1
            examples.setdefault("unreadable", []).append(f"{job.id}: {e}")
            continue
        counts["read"] += 1
        try:
            again = parse_tune(abc_text(original, job.id), job.id)
        except BadInputError as e:
            cause = "written ABC unreadable"
            causes[cause] += 1
            examples.setdefault(cause, []).append(f"{job.id}: {e}")
            continue
        a, b = _notes(original), _notes(again)
        if a == b:
            counts["identical"] += 1
            src["identical"] += 1
            continue
        if [p for _, p, _ in a] == [p for _, p, _ in b]:
            counts["same_pitches_only"] += 1
        finer = _off_grid(original)
        if finer:
            cause = f"rhythm off the writer's grid: {finer}"
        elif _has_chords(original):
            cause = "chords (music21's ABC reader drops ties inside [chords])"
        else:
            cause = "other"
        causes[cause] += 1
        diff = next(((x, y) for x, y in zip(a, b, strict=False) if x != y), None)
        examples.setdefault(cause, []).append(
            f"{job.id}: {len(a)} vs {len(b)} notes; first difference (tick, pitch, duration) {diff}"
        )
    read = counts["read"]
    return {
        "test_tunes": len(tunes),
        "read": read,
        "unreadable_originals": counts["unreadable"],
        "identical_notes": counts["identical"],
        "identical_share_of_read": round(counts["identical"] / max(read, 1), 4),
        "identical_share_of_all": round(counts["identical"] / max(len(tunes), 1), 4),
        "same_pitch_sequence": counts["identical"] + counts["same_pitches_only"],
        "failures_by_cause": dict(causes),
        "examples": {k: v[:5] for k, v in examples.items()},
        "by_source": {k: dict(v) for k, v in sorted(by_source.items())},
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--what", choices=("render", "abc"), required=True)
    ap.add_argument("--runs", type=int, default=5, help="render: timed runs per format")
    ap.add_argument("--limit", type=int, default=None, help="abc: the first N test tunes")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.what == "render":
        payload = {"machine": machine(), **render_times(args.runs)}
        write_json(args.out, payload, model=SHIPPED)
    else:
        payload = {"machine": machine(), **abc_round_trip(args.limit)}
        write_json(args.out, payload, model=NO_MODEL)


if __name__ == "__main__":
    main()

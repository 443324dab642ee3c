"""Chord following: does the music play the progression it was asked for?

For each request (prompt, key, progression, instruments) and seed, the shipped model
writes 8 bars with the progression (the chord guide) and without it (same seed). Each bar
is then read by the chord analysis (music/chords.py) and compared with the requested
chord (same root and triad family: a seventh or an inversion counts as the chord). Also
measured: the share of the melody's (first voice's) notes on strong beats that are tones
of the requested chord. Target: >= 90 % of bars follow the progression.

The analysis itself is checked against an independent reading: on Bach chorales from the
music21 corpus, each beat's chord by music21 (chordify, then the chord's root and its
triad quality) beside ours, with the time each takes.

    python benchmarks/chords.py --out benchmarks/results/chords.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402

REQUESTS = [
    ("a waltz for piano", "C major", "C Am F G7", None),
    ("a folk song for violin and cello", "D major", "I IV V I", "violin,cello"),
    ("a four-part chorale for choir", "G major", "I vi IV V", "choir,choir,choir,choir"),
    ("a reel for fiddle", "A minor", "i VI III VII", None),
    ("a hymn for organ", "F major", "I IV I V", None),
    ("a string quartet movement", "E minor", "i iv V i", "violin,violin,viola,cello"),
    ("a march for brass", "Bb major", "I V I IV", "trumpet,trombone"),
    ("a gentle air for flute and guitar", "G major", "Em C G D", "flute,guitar"),
    ("a dance for recorder and lute", "D minor", "Dm Gm A7 Dm", "recorder,lute"),
    ("a slow song for piano", "Eb major", "Eb Cm Ab Bb7", None),
    ("a jig for fiddle and cello", "D major", "D G A D", "violin,cello"),
    ("a chorale for choir", "C major", "C F | G C", "choir,choir,choir,choir"),
]
BARS = 8


def strong_positions(meter: str, tpq: int) -> tuple[int, list[int]]:
    """(bar length in ticks, onsets within the bar that are strong beats)."""
    num, den = (int(x) for x in meter.split("/"))
    bar = num * 4 * tpq // den
    if den == 8 and num % 3 == 0:  # compound: dotted-quarter beats, the first strongest
        return bar, [0] + ([bar // 2] if num >= 6 else [])
    return bar, [0] + ([bar // 2] if num % 2 == 0 else [])


def measure(piece, progression) -> dict:
    from tunesmith.music.chords import analyse_chords

    score = piece.score
    parts = max(len(b) for b in progression)  # several chords in a bar: read each part
    spans = [s for s in analyse_chords(score, "bar", parts) if s.bar < BARS]
    follow = []
    for s in spans:
        chords = progression[s.bar % len(progression)]
        k = (s.beat or 0) * len(chords) // parts
        follow.append(chords[k].same_harmony(s.chord))
    meter = piece.controls.meter or "4/4"
    tpq = int(score.tpq)
    bar_len, strong = strong_positions(meter, tpq)
    melody = next((t for t in score.tracks if t.notes and not t.is_drum), None)
    tones = hits = 0
    if melody is not None:
        for n in melody.notes:
            bar, offset = divmod(int(n.time), bar_len)
            if offset in strong and bar < BARS:
                chords = progression[bar % len(progression)]
                k = min(len(chords) - 1, offset * len(chords) // bar_len)
                tones += 1
                hits += (n.pitch % 12) in chords[k].pitch_classes
    return {
        "bars_following": sum(follow) / parts,
        "bars_judged": len(follow) / parts,
        "melody_strong_notes": tones,
        "melody_chord_tones": hits,
        "analysed": [s.chord.symbol if s.chord else "N.C." for s in spans],
    }


def analysis_check(n: int) -> dict:
    """Our per-beat chords vs music21's on `n` Bach chorales: agreement and speed."""
    import tempfile

    import symusic
    from music21 import chord as m21chord
    from music21 import corpus

    from tunesmith.music.chords import TRIAD_OF, analyse_chords

    quality_of = {"major": "maj", "minor": "min", "diminished": "dim", "augmented": "aug"}
    paths = [p for p in corpus.getComposer("bach") if "bwv" in p.name][:n]
    agree = judged = 0
    ours_s = theirs_s = 0.0
    pieces = 0
    for path in paths:
        work = corpus.parse(path)
        if len(work.parts) != 4:
            continue
        with tempfile.NamedTemporaryFile(suffix=".mid") as f:
            work.write("midi", fp=f.name)
            score = symusic.Score(f.name)
        t0 = time.perf_counter()
        spans = analyse_chords(score, "beat")
        ours_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        reading = {}
        for c in work.chordify().recurse().getElementsByClass(m21chord.Chord):
            beat_start = float(c.offset) + float(c.getContextByClass("Measure").offset)
            if float(c.offset) != int(float(c.offset)):  # only chords starting on a beat
                continue
            q = quality_of.get(c.quality)
            if q is not None:
                reading[round(beat_start, 3)] = (c.root().pitchClass, q)
        theirs_s += time.perf_counter() - t0
        tpq = score.tpq
        for s in spans:
            key = round(s.start / tpq, 3)
            if key in reading and s.chord is not None:
                judged += 1
                root, q = reading[key]
                agree += s.chord.root == root and TRIAD_OF[s.chord.quality] == q
        pieces += 1
    return {
        "chorales": pieces,
        "beats_compared": judged,
        "same_root_and_triad_share": agree / max(1, judged),
        "ours_s_per_piece": ours_s / max(1, pieces),
        "music21_chordify_s_per_piece": theirs_s / max(1, pieces),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2", help="comma-separated seeds per request")
    ap.add_argument("--strengths", default="1.0", help="chord guidance strengths to compare")
    ap.add_argument("--chorales", type=int, default=40, help="chorales for the analysis check")
    ap.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    ap.add_argument("--out", default="benchmarks/results/chords.json")
    args = ap.parse_args()
    from tunesmith import Composer
    from tunesmith.conditioning.chords import parse_progression, progression_text
    from tunesmith.generate.sampling import SamplingConfig
    from tunesmith.render.piece import Piece

    c = Composer.load(args.model)
    seeds = [int(s) for s in args.seeds.split(",")]
    strengths = [float(s) for s in args.strengths.split(",")]
    conditions = [("without", 0.0)] + [(f"with_{s:g}", s) for s in strengths]
    totals = {
        name: {"follow": 0, "judged": 0, "tones": 0, "strong": 0, "s": 0.0}
        for name, _ in conditions
    }
    rows = []
    for prompt, key, prog_text, instruments in REQUESTS:
        progression = parse_progression(prog_text, key)
        attrs = {"key": key, "bars": BARS}
        if instruments:
            attrs["instruments"] = instruments
        controls = c.controls_for(prompt, **attrs)
        for seed in seeds:
            row = {
                "prompt": prompt,
                "key": key,
                "progression": progression_text(progression),
                "seed": seed,
            }
            for name, strength in conditions:
                sampling = SamplingConfig(seed=seed, chord_guidance=strength or 1.0)
                t0 = time.perf_counter()
                res = c.engine.generate(
                    controls, prompt, 1, sampling, chords=progression if strength else None
                )
                dt = time.perf_counter() - t0
                piece = Piece.from_tokens(c.tokenizer, res[0].ids, controls, prompt)
                m = measure(piece, progression)
                row[name] = m
                t = totals[name]
                t["follow"] += m["bars_following"]
                t["judged"] += m["bars_judged"]
                t["tones"] += m["melody_chord_tones"]
                t["strong"] += m["melody_strong_notes"]
                t["s"] += dt
            rows.append(row)
            print(
                row["prompt"],
                seed,
                {n: row[n]["bars_following"] for n, _ in conditions},
                file=sys.stderr,
            )
    summary = {
        name: {
            "bars_following_share": t["follow"] / max(1, t["judged"]),
            "melody_chord_tone_share_strong_beats": t["tones"] / max(1, t["strong"]),
            "generation_s_total": round(t["s"], 2),
        }
        for name, t in totals.items()
    }
    write_json(
        args.out,
        {
            "benchmark": "chords",
            "machine": machine(),
            "bars": BARS,
            "requests": len(REQUESTS),
            "seeds": seeds,
            "summary": summary,
            "target_bars_following": 0.9,
            "analysis_vs_music21": analysis_check(args.chorales),
            "pieces": rows,
        },
        model=args.model,
    )


if __name__ == "__main__":
    main()

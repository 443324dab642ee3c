"""Harmonizing Bach's chorale melodies: the shipped model against Bach himself.

The chorales are the four-part Bach chorales of the music21 corpus whose tune falls in
the test split of the training data (`data/records.py` `split_for`, on the tune id that
corpus preparation gives the file: `data/sources/music21/metadata.py` `file_meta`, which
for Bach is "bach/bwvNNN.M"), so the model never trained on them; the validation-split
ones are a second panel. Each chorale is written to MIDI by music21 (parts -> tracks,
soprano first); its soprano is the melody, and `Composer.harmonize(melody, voices=4,
style="chorale", seed=s)` writes alto, tenor and bass under it (the soprano forced
through the grammar: the v1 model's harmonization), for each seed, and on the test split
once more as the best of `--candidates` by the candidate scorer (seed = the first seed).

Measured on ours and on Bach's original, per bar (the chorale's bar count):
parallel fifths and octaves between any two voices and voice crossings
(`music/voice_leading.py` `voice_leading`: moments are the onsets of any voice; a
crossing is two voices sounding opposite to their usual order), spacing faults (more
than an octave between soprano and alto or alto and tenor, at each onset:
`spacing_faults`), and notes outside each voice's textbook SATB range
(`satb_range_faults`; the soprano is Bach's in both, so only alto, tenor and bass are
counted). Also notes per bar per voice (a texture of held notes makes few faults by
doing little), chord agreement with Bach per beat (`music/chords.py` `analyse_chords(score,
"beat")`: the share of Bach's beats whose chord ours names with the same root and triad,
`Chord.same_harmony`; the share of Bach's beats that are the tonic triad is the
always-the-tonic reference), seconds per chorale, and that the soprano comes out exactly
as given (onsets and pitches asserted; durations reported, run by run).

`--voice-guidance` sets the voice-leading guide (generate/voicing.py) of the model under
test (default 1, as shipped); the baseline runs without it unless
`--baseline-voice-guidance` says otherwise.

    python benchmarks/harmonize.py --out benchmarks/results/harmonize.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402

VOICES = ("soprano", "alto", "tenor", "bass")
FAULTS = ("parallels", "crossings", "spacing", "range_atb")


def chorales(splits: tuple[str, ...]) -> tuple[dict[str, list[dict]], list[dict]]:
    """The four-part Bach chorales of the corpus in each split, one file per tune id,
    with the tune id and split exactly as corpus preparation assigns them; and the
    files of those splits that were left out, with why."""
    from music21 import corpus

    from tunesmith.data.records import split_for
    from tunesmith.data.sources.music21.jobs import list_jobs
    from tunesmith.data.sources.music21.metadata import file_meta

    jobs, _ = list_jobs()
    found: dict[str, list[dict]] = {s: [] for s in splits}
    seen: set[str] = set()
    left_out: list[dict] = []
    for job in jobs:
        if job.source != "bach":
            continue
        # The tune id never depends on the parse for Bach; check the split before parsing.
        stem_tune = "bach/" + Path(job.path.rsplit(".", 1)[0]).name.split("-")[0]
        if split_for(stem_tune) not in splits or stem_tune in seen:
            continue
        work = corpus.parse(job.path)
        tune_id = file_meta(job, work).tune_id
        split = split_for(tune_id)
        if split not in splits:
            continue
        if len(work.parts) != 4 or tune_id in seen:
            why = f"{len(work.parts)} parts" if len(work.parts) != 4 else "same tune id"
            left_out.append({"path": job.path, "split": split, "why": why})
            continue
        seen.add(tune_id)
        found[split].append({"path": job.path, "tune_id": tune_id, "work": work})
    return found, left_out


def bach_score(work):
    """Bach's chorale as music21 writes it to MIDI: the four voices' tracks, soprano first
    (music21's empty extra track dropped; choir program, as harmonize writes)."""
    import symusic

    from tunesmith.music.metrics import load_midi

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "chorale.mid"
        work.write("midi", fp=str(path))
        raw = load_midi(path)
    score = symusic.Score(raw.tpq)
    score.time_signatures = raw.time_signatures.copy()
    score.tempos = raw.tempos.copy()
    score.key_signatures = raw.key_signatures.copy()
    for t in raw.tracks:
        if t.note_num() and not t.is_drum:
            t = t.copy()
            t.program = 52
            score.tracks.append(t)
    if len(score.tracks) != 4:
        raise RuntimeError(f"expected 4 voices, found {len(score.tracks)}")
    return score


def melody_of(score):
    import symusic

    melody = symusic.Score(score.tpq)
    melody.time_signatures = score.time_signatures.copy()
    melody.tempos = score.tempos.copy()
    melody.key_signatures = score.key_signatures.copy()
    melody.tracks.append(score.tracks[0].copy())
    return melody


def line(score, voice: int = 0) -> list[tuple[int, int, int]]:
    """(onset, duration, pitch) of a voice, in 1/960 quarter notes."""
    tpq = int(score.tpq)
    track = [t for t in score.tracks if t.note_num() and not t.is_drum][voice]
    return [
        (round(n.time * 960 / tpq), round(n.duration * 960 / tpq), int(n.pitch))
        for n in track.notes
    ]


def beat_chords(score) -> dict[int, object]:
    """Chord of each beat, keyed by the beat's start in 1/960 quarter notes."""
    from tunesmith.music.chords import analyse_chords

    tpq = int(score.tpq)
    return {round(s.start * 960 / tpq): s.chord for s in analyse_chords(score, "beat")}


def measure(score, bars: int, bach_beats: dict | None) -> dict:
    from tunesmith.music.voice_leading import satb_range_faults, spacing_faults, voice_leading

    vl = voice_leading(score)
    ranges = satb_range_faults(score)
    voices = [t for t in score.tracks if t.note_num() and not t.is_drum]
    out = {
        "voices": len(voices),
        "parallels": vl["parallels"],
        "crossings": vl["crossings"],
        "spacing": spacing_faults(score),
        "range_atb": sum(ranges[1:]),
        "range_per_voice": dict(zip(VOICES, ranges, strict=False)),
        "notes_per_voice": dict(zip(VOICES, (t.note_num() for t in voices), strict=False)),
        "bars": bars,
    }
    if bach_beats is not None:
        ours = beat_chords(score)
        judged = same = same_root = 0
        for start, chord in bach_beats.items():
            if chord is None:
                continue
            judged += 1
            mine = ours.get(start)
            same += chord.same_harmony(mine)
            same_root += mine is not None and mine.root == chord.root
        out.update(beats=judged, same_harmony=same, same_root=same_root)
    return out


def tonic_share(work, bach_beats: dict) -> tuple[int, int]:
    """(Bach's beats that are the tonic triad of music21's key, Bach's beats with a chord)."""
    key = work.analyze("key")
    tonic, triad = key.tonic.pitchClass, "maj" if key.mode == "major" else "min"
    chords = [c for c in bach_beats.values() if c is not None]
    return sum(c.root == tonic and c.triad == triad for c in chords), len(chords)


def pooled(rows: list[dict]) -> dict:
    """Faults per bar, notes per bar per voice and chord agreement over many chorales."""
    bars = sum(r["bars"] for r in rows)
    out = {"bars": bars, "per_bar": {f: sum(r[f] for r in rows) / bars for f in FAULTS}}
    out["per_bar"]["all"] = sum(out["per_bar"].values())
    out["notes_per_bar"] = {
        v: sum(r["notes_per_voice"].get(v, 0) for r in rows) / bars for v in VOICES
    }
    out["range_per_voice"] = {v: sum(r["range_per_voice"].get(v, 0) for r in rows) for v in VOICES}
    if "beats" in rows[0]:
        beats = sum(r["beats"] for r in rows)
        out["beats"] = beats
        out["chord_agreement"] = sum(r["same_harmony"] for r in rows) / beats
        out["root_agreement"] = sum(r["same_root"] for r in rows) / beats
        out["seconds_per_chorale"] = sum(r["seconds"] for r in rows) / len(rows)
    return out


def run_split(
    c, items: list[dict], seeds: list[int], candidates: int, label: str, vg: float = 1.0
) -> dict:
    from tunesmith.music.chords import analyse_chords

    conditions = [(f"seed_{s}", s, 1) for s in seeds]
    if candidates > 1:
        conditions.append((f"best_of_{candidates}", seeds[0], candidates))
    rows, by_cond = [], {name: [] for name, _, _ in conditions}
    bach_rows, tonic, judged = [], 0, 0
    kept = {"runs": 0, "onsets_and_pitches": 0, "exactly": 0, "changed": []}
    for i, item in enumerate(items, 1):
        bach = bach_score(item["work"])
        melody = melody_of(bach)
        bars = len(analyse_chords(bach, "bar"))
        bach_beats = beat_chords(bach)
        bach_m = measure(bach, bars, None)
        bach_rows.append(bach_m)
        t_hits, t_judged = tonic_share(item["work"], bach_beats)
        tonic += t_hits
        judged += t_judged
        ts = bach.time_signatures[0]
        row = {
            "chorale": Path(item["path"]).stem,
            "tune_id": item["tune_id"],
            "bars": bars,
            "meter": f"{ts.numerator}/{ts.denominator}",
            "bach": bach_m,
        }
        for name, seed, n in conditions:
            t0 = time.perf_counter()
            piece = c.harmonize(
                melody, voices=4, style="chorale", seed=seed, candidates=n, voice_guidance=vg
            )
            dt = time.perf_counter() - t0
            m = measure(piece.score, bars, bach_beats)
            m["seconds"] = round(dt, 3)
            ours_line, given = line(piece.score), line(melody)
            m["soprano_kept"] = ours_line == given
            same_notes = [(t, p) for t, _, p in ours_line] == [(t, p) for t, _, p in given]
            kept["runs"] += 1
            kept["onsets_and_pitches"] += same_notes
            kept["exactly"] += m["soprano_kept"]
            if not m["soprano_kept"]:
                kept["changed"].append(
                    {
                        "chorale": row["chorale"],
                        "run": name,
                        "notes": [
                            {"index": k, "ours": a, "given": b}
                            for k, (a, b) in enumerate(zip(ours_line, given, strict=False))
                            if a != b
                        ][:3],
                        "note_counts": [len(ours_line), len(given)],
                    }
                )
            row[name] = m
            by_cond[name].append(m)
        rows.append(row)
        print(
            f"[{label} {i}/{len(items)}] {row['chorale']} {bars} bars: "
            + ", ".join(
                f"{name} agree {row[name]['same_harmony'] / max(1, row[name]['beats']):.2f} "
                f"{row[name]['seconds']:.1f}s"
                for name, _, _ in conditions
            ),
            file=sys.stderr,
        )
    seed_rows = [m for name, s, n in conditions if n == 1 for m in by_cond[name]]
    summary = {
        "bach": pooled(bach_rows),
        "ours_seeds_pooled": pooled(seed_rows),
        **{name: pooled(by_cond[name]) for name, _, _ in conditions},
    }
    summary["bach"]["tonic_triad_beat_share"] = tonic / max(1, judged)
    return {
        "chorales": len(items),
        "soprano_kept": kept,
        "summary": summary,
        "pieces": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2", help="comma-separated seeds per chorale")
    ap.add_argument("--candidates", type=int, default=4, help="best-of-N run (0: none)")
    ap.add_argument("--splits", default="test,val", help="splits to measure, test first")
    ap.add_argument("--limit", type=int, default=None, help="at most this many per split")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steady on a busy box)"
    )
    ap.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    ap.add_argument(
        "--baseline", default=None, help="a second model run on the same chorales and seeds"
    )
    ap.add_argument(
        "--voice-guidance", type=float, default=1.0, help="the model's voice guide (0: off)"
    )
    ap.add_argument(
        "--baseline-voice-guidance",
        type=float,
        default=0.0,
        help="the baseline's voice guide (0: off, the v1 baseline as the issue defines it)",
    )
    ap.add_argument("--out", default="benchmarks/results/harmonize.json")
    args = ap.parse_args()
    import torch

    from tunesmith import Composer
    from tunesmith.music.voice_leading import SATB_RANGES

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    t_start = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    splits = tuple(args.splits.split(","))
    found, left_out = chorales(splits)
    print({s: len(v) for s, v in found.items()}, "four-part chorales", file=sys.stderr)

    def folder(path: str | None) -> str | None:
        return None if path in (None, "shipped") else path

    c = Composer.load(folder(args.model))
    base = Composer.load(folder(args.baseline)) if args.baseline else None
    warm = found[splits[0]][0]
    for composer in (c, base) if base else (c,):
        composer.harmonize(
            melody_of(bach_score(warm["work"])), voices=4, style="chorale", seed=0,
            voice_guidance=0.0,
        )  # fmt: skip
    results, baseline = {}, {}
    for k, split in enumerate(splits):
        items = found[split][: args.limit] if args.limit else found[split]
        candidates = args.candidates if k == 0 else 0  # best-of-N on the first split only
        results[split] = run_split(c, items, seeds, candidates, split, args.voice_guidance)
        results[split]["chorale_files"] = [i["path"] for i in items]
        if base is not None:  # the same chorales, seeds and candidates, in the same run
            baseline[split] = run_split(
                base, items, seeds, candidates, f"{split} baseline", args.baseline_voice_guidance
            )
    runs = sum(r["soprano_kept"]["runs"] for r in results.values())
    same_notes = sum(r["soprano_kept"]["onsets_and_pitches"] for r in results.values())
    exact = sum(r["soprano_kept"]["exactly"] for r in results.values())
    write_json(
        args.out,
        {
            "benchmark": "harmonize",
            "machine": machine(),
            "model": args.model or "shipped",
            "method": "the melody kept exactly as the soprano (fixed parts); with a v2 model "
            "it is also given ahead of the texture (the part-infill layout)",
            "request": {"voices": 4, "style": "chorale", "seeds": seeds},
            "candidates": args.candidates,
            "voice_guidance": args.voice_guidance,
            "satb_ranges": {v: list(r) for v, r in zip(VOICES, SATB_RANGES, strict=True)},
            "chorales_left_out": left_out,
            "soprano_kept": {
                "runs": runs,
                "same_onsets_and_pitches": same_notes,
                "exactly_incl_durations": exact,
                "note": "times in 1/960 quarter; 'changed' lists each run that differs",
            },
            "wall_s": round(time.perf_counter() - t_start, 1),
            "load_average_1min": {"start": load_before[0], "end": os.getloadavg()[0]},
            "splits": results,
            **(
                {
                    "baseline": {
                        "model": args.baseline,
                        "voice_guidance": args.baseline_voice_guidance,
                        "splits": baseline,
                    }
                }
                if base is not None
                else {}
            ),
        },
        model={"model": args.model, **({"baseline": args.baseline} if base else {})},
    )
    assert same_notes == runs, "a harmonization changed the soprano's onsets or pitches"
    if exact < runs:
        print(f"soprano durations changed in {runs - exact} of {runs} runs", file=sys.stderr)


if __name__ == "__main__":
    main()

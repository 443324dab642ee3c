"""Arrangements from the groove library under the shipped model's melody, as users get them
(played by the performance layer): on a published list of band prompts, does each output
have drums on channel 10 with a steady pattern, a bass on the chord roots below C3, comping
of >= 3 chord tones per chord, the melody on top, the requested meter / tempo / key, varied
velocities and every note in range; and what do arranging and performing cost next to
generation?

    python benchmarks/arrangement.py --out benchmarks/results/arrangement.json

Each prompt runs as `Composer.generate` does, step by step, so the steps can be timed:
`controls_for` / `sampling_for` / `progression_for`, then `arrangement_for` (plan),
`generate_with` (the model), `arranged` (the library) and `performed` (the performance
layer, in the plan's style, humanize off). 8 bars, seed 1, one candidate. The checks are in
`tunesmith.arrange.checks` (tests/arrange runs them on every style).
"""

from __future__ import annotations

import argparse
import copy
import io
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, peak_rss_mb, write_json  # noqa: E402

from tunesmith.arrange.checks import ONSET_SLACK, STEADY_SHARE  # noqa: E402

# (prompt, arrangement): the published list. Styles and instruments in several voices; some
# state a key, a meter or a tempo, which are then checked.
PROMPTS: list[tuple[str, str]] = [
    ("a bossa nova for guitar, bass and drums", "auto"),
    ("upbeat funk with a rhythm section", "auto"),
    ("a slow blues shuffle for piano, bass and drums", "auto"),
    ("a country song with a band", "auto"),
    ("a reggae groove", "auto"),
    ("a jazz trio swing tune", "auto"),
    ("a march for brass band", "auto"),
    ("a waltz for piano", "waltz"),
    ("lo-fi hip hop beat", "auto"),
    ("a salsa for piano, bass and percussion", "auto"),
    ("a pop ballad", "auto"),
    ("cinematic ambient", "auto"),
    ("a rock song in E minor for electric guitar, bass and drums", "auto"),
    ("a disco track at 120 bpm with a band", "auto"),
    ("a bossa nova in D minor for flute with guitar, bass and drums", "auto"),
    ("a jazz waltz in 3/4 for a jazz trio", "auto"),
    ("a pop song in G major for a band with organ, guitars, bass and drums", "auto"),
    ("a funk groove in A minor at 100 bpm", "auto"),
    ("a hip hop beat in C minor with electric piano", "auto"),
    ("a reggae song in G major at 80 bpm for a band", "auto"),
    ("a country tune for fiddle with a band at 110 bpm", "auto"),
    ("a blues in F major for saxophone with a rhythm section", "auto"),
    ("a reel for fiddle", "auto"),
    ("a tune for flute", "jazz-swing"),
]
BARS = 8
REPEATS = 3  # timings are the median of 3 runs of each step
SEED = 1


def drum_channels(score) -> list[int]:
    """Notes of the written MIDI file on channel 10 (mido channel 9)."""
    import mido

    midi = mido.MidiFile(file=io.BytesIO(score.dumps_midi()))
    return [
        m.note
        for tr in midi.tracks
        for m in tr
        if m.type == "note_on" and m.velocity and m.channel == 9
    ]


def chord_at(spans, tick: int):
    for s in spans:
        if s.start <= tick < s.end:
            return s.chord
    return None


def check(piece, n_model: int, spans, plan, requested, style) -> dict:
    """Every check on one arranged and performed piece (absent: not applicable)."""
    import numpy as np

    from tunesmith.arrange.arranger import instrument_range
    from tunesmith.arrange.checks import (
        bass_root_share,
        chord_tone_counts,
        drum_steadiness,
        mean_pitch,
    )
    from tunesmith.music.keys import key_panel, majority_key
    from tunesmith.music.metrics import NoteArrays, as_tick_score, bar_grid, pitch_class_histogram

    score = as_tick_score(piece.score)
    tpq = int(score.tpq)
    model_tracks = [t for t in score.tracks[:n_model] if t.note_num()]
    added = list(score.tracks[n_model:])
    by_role = {
        "drums": [t for t in added if t.is_drum],
        "bass": [t for t in added if not t.is_drum and t.name.startswith("Bass")],
        "comping": [t for t in added if not t.is_drum and t.name.startswith("Comping")],
        "pad": [t for t in added if not t.is_drum and t.name.startswith("Pad")],
    }
    end = max(n.time + n.duration for t in score.tracks for n in t.notes)
    starts, lengths = bar_grid(score, end)
    starts, lengths = starts.tolist(), lengths.tolist()
    chord_spans = [s for s in spans if s.chord is not None]
    out: dict = {"tracks": [t.name for t in added]}

    # drums
    if plan_wants(plan, "drums") and style.drums is not None:
        kit = by_role["drums"][0] if by_role["drums"] else None
        on_ten = drum_channels(score)
        out["drums_present"] = kit is not None
        out["drums_channel_10"] = kit is not None and sorted(on_ten) == sorted(
            n.pitch for n in kit.notes
        )
        steady = drum_steadiness(kit, starts, lengths, style.fill_every) if kit else {}
        out["drum_sounds"] = steady.get("sounds", 0)
        out["drum_cycle_bars"] = steady.get("cycle")
        out["drum_steady_share"] = steady.get("share")
        out["drum_one_bar_share"] = steady.get("one_bar")
        out["drum_pulse_share"] = steady.get("pulse")
        out["drums_ok"] = bool(
            out["drums_channel_10"]
            and out["drum_sounds"] >= 2
            and out["drum_cycle_bars"] is not None
            and out["drum_pulse_share"] == 1.0
        )
        out["drums_one_bar_ok"] = bool(out["drums_ok"] and out["drum_cycle_bars"] == 1)
    # bass: a note below C3 on the root (or slash bass) where each chord starts
    if by_role["bass"]:
        bass = by_role["bass"][0]
        out["bass_root_share"] = bass_root_share(bass, chord_spans, tpq)
        out["bass_below_c3_share"] = statistics.fmean(n.pitch < 48 for n in bass.notes)
        out["bass_ok"] = (out["bass_root_share"] or 0) >= 0.7
    # comping: >= 3 chord tones per chord
    if by_role["comping"]:
        comp = by_role["comping"]
        counts = chord_tone_counts(comp, chord_spans)
        out["comping_3_tones_share"] = statistics.fmean(c >= 3 for c in counts) if counts else None
        out["comping_ok"] = out["comping_3_tones_share"] == 1.0
        m, c = mean_pitch(model_tracks), mean_pitch(comp)
        out["melody_mean_pitch"] = None if m is None else round(m, 2)
        out["comping_mean_pitch"] = None if c is None else round(c, 2)
        out["melody_on_top"] = m is not None and c is not None and m > c
    # chord tones of every added pitched part
    pitched = [t for t in added if not t.is_drum]
    if pitched and chord_spans:
        flags = []
        for t in pitched:
            for n in t.notes:
                chord = chord_at(spans, n.time)
                if chord is not None:
                    flags.append(n.pitch % 12 in chord.pitch_classes)
        out["added_chord_tone_share"] = statistics.fmean(flags) if flags else None
    # velocities (every track: the performance plays the model's too) and ranges
    out["velocity_spread_ok"] = all(
        max(n.velocity for n in t.notes) > min(n.velocity for n in t.notes)
        for t in [*model_tracks, *added]
        if t.note_num()
    )

    def outside(tracks) -> int:
        return sum(
            not (lo <= n.pitch <= hi)
            for t in tracks
            for lo, hi in [instrument_range(-1 if t.is_drum else int(t.program))]
            for n in t.notes
        )

    out["out_of_range_notes"] = outside(added)
    out["model_out_of_range_notes"] = outside(model_tracks)
    out["range_ok"] = out["out_of_range_notes"] == 0 and out["model_out_of_range_notes"] == 0
    # meter, tempo, key as requested
    ts = score.time_signatures
    meter = f"{ts[0].numerator}/{ts[0].denominator}" if len(ts) else None
    tempo = float(score.tempos[0].qpm) if len(score.tempos) else None
    out["meter"], out["tempo"] = meter, None if tempo is None else round(tempo, 2)
    if requested.meter:
        out["meter_ok"] = meter == requested.meter
    if requested.tempo:
        out["tempo_ok"] = tempo is not None and abs(tempo - requested.tempo) < 0.5
    if requested.key:
        notes = NoteArrays.from_score(score)
        keep = ~notes.drum
        w = (notes.offset - notes.onset)[keep].astype(np.float64)
        hist = pitch_class_histogram(notes.pitch[keep], w if w.any() else np.ones_like(w))
        panel = key_panel(hist)
        out["key_panel"] = panel
        out["key_majority"] = majority_key(panel)
        out["key_ok"] = out["key_majority"] == requested.key
    out["bars"] = len(starts)
    return out


def plan_wants(plan, role: str) -> bool:
    return role in plan.library_roles()


ALL_OK = ("drums_ok", "bass_ok", "comping_ok", "melody_on_top", "velocity_spread_ok",
          "range_ok", "meter_ok", "tempo_ok", "key_ok")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--bars", type=int, default=BARS)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", default="benchmarks/results/arrangement.json")
    ap.add_argument("--only", default="", help="only the prompts containing this text")
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument(
        "--unfitted",
        action="store_true",
        help="the band without following the tune (arrange(fit=False): the style's voicing "
        "ranges, the analysed chords as given), to measure what fitting changes",
    )
    args = ap.parse_args()

    from tunesmith import Composer
    from tunesmith.arrange.arranger import arrange, key_chords
    from tunesmith.arrange.library import find_style

    composer = Composer.load(args.model)

    def arranged(piece, plan):
        """Composer.arranged, or with --unfitted the same call to arrange without fitting."""
        if not args.unfitted or plan is None:
            return composer.arranged(piece, plan)
        piece.score = arrange(
            piece.score, piece.chord_spans(), plan.style, plan.meter, plan.tempo,
            roles=plan.library_roles(), fit=False,
        )  # fmt: skip
        return piece

    composer.generate("a tune", bars=2, seed=0, arrangement="none")  # warm-up, not timed

    rows = []
    for prompt, arrangement in [p for p in PROMPTS if args.only in p[0]]:
        requested = composer.controls_for(prompt)
        controls = composer.controls_for(prompt, bars=args.bars)
        sampling = composer.sampling_for(seed=args.seed)
        controls, progression = composer.progression_for(controls, None)
        plan_t, gen_t, arr_t, perf_t = [], [], [], []
        base = controls
        for _ in range(args.repeats):  # medians: a 2-core machine shared with others is noisy
            t0 = time.perf_counter()
            controls, plan = composer.arrangement_for(base, prompt, arrangement, progression)
            plan_t.append(time.perf_counter() - t0)
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            melody = composer.generate_with(controls, sampling, prompt, 1, None, progression)
            gen_t.append(time.perf_counter() - t0)
        n_model = len(melody.score.tracks)
        # what `arranged` lays the band on: the analysed chords, open thirds by the key
        spans = melody.chord_spans()
        spans = spans if args.unfitted else key_chords(melody.score, spans)
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            written = arranged(copy.copy(melody), plan)
            arr_t.append(time.perf_counter() - t0)
        for _ in range(args.repeats):  # as users get it: played in the plan's style
            t0 = time.perf_counter()
            piece = composer.performed(copy.copy(written), plan, "auto", 0.0, args.seed)
            perf_t.append(time.perf_counter() - t0)
        t_plan, t_gen, t_arr, t_perf = (
            statistics.median(x) for x in (plan_t, gen_t, arr_t, perf_t)
        )
        row = {
            "prompt": prompt,
            "arrangement": arrangement,
            "style": plan.style if plan else None,
            "reason": plan.reason if plan else None,
            "requested": {
                "key": requested.key,
                "meter": requested.meter,
                "tempo": requested.tempo,
            },  # fmt: skip
            "model_instruments": controls.instruments,
            "library_roles": plan.library_roles() if plan else None,
            "time_s": {
                "plan": round(t_plan, 5),
                "generate": round(t_gen, 4),
                "arrange": round(t_arr, 5),
                "perform": round(t_perf, 5),
            },
        }
        row["arranging_overhead"] = round((t_plan + t_arr + t_perf) / t_gen, 4)
        if plan is not None:
            style = find_style(plan.style)
            row["checks"] = check(piece, n_model, spans, plan, requested, style)
            c = row["checks"]
            row["all_ok"] = all(c[k] for k in ALL_OK if k in c)
            w = check(written, n_model, spans, plan, requested, style)  # before the performance
            row["written_all_ok"] = all(w[k] for k in ALL_OK if k in w)
            row["written_failed"] = [k for k in ALL_OK if k in w and not w[k]]
            row["failed"] = [k for k in ALL_OK if k in c and not c[k]]
        rows.append(row)
        c = row.get("checks", {})
        print(
            f"{prompt[:60]:60s} {str(row['style']):13s} gen {t_gen:5.2f}s "
            f"arr {t_plan + t_arr:6.3f}s perf {t_perf:6.3f}s "
            + " ".join(f"{k}={c[k]}" for k in ALL_OK if k in c),
            flush=True,
        )

    arranged = [r for r in rows if r["style"]]

    def rate(key: str) -> dict:
        vals = [r["checks"][key] for r in arranged if key in r["checks"]]
        return {"pass": sum(bool(v) for v in vals), "of": len(vals)}

    def mean_of(key: str) -> float | None:
        vals = [r["checks"][key] for r in arranged if r["checks"].get(key) is not None]
        return round(statistics.fmean(vals), 4) if vals else None

    gen = sum(r["time_s"]["generate"] for r in arranged)
    arr = sum(r["time_s"]["plan"] + r["time_s"]["arrange"] for r in arranged)
    perf = sum(r["time_s"]["perform"] for r in arranged)
    summary = {
        "prompts": len(rows),
        "arranged": len(arranged),
        "styles": {r["prompt"]: r["style"] for r in rows},
        "not_arranged_under_auto": [
            r["prompt"] for r in rows if r["style"] is None and r["arrangement"] == "auto"
        ],
        "all_checks_pass": {"pass": sum(r["all_ok"] for r in arranged), "of": len(arranged)},
        "all_checks_pass_written": {
            "pass": sum(r["written_all_ok"] for r in arranged),
            "of": len(arranged),
        },  # fmt: skip
        "failed": {r["prompt"]: r["failed"] for r in arranged if r["failed"]},
        **{k: rate(k) for k in ALL_OK},
        "drums_channel_10": rate("drums_channel_10"),
        "drums_one_bar_ok": rate("drums_one_bar_ok"),
        "drum_cycles": dict(
            Counter(
                str(r["checks"].get("drum_cycle_bars"))
                for r in arranged
                if "drum_cycle_bars" in r["checks"]
            )
        ),  # fmt: skip
        "mean_drum_steady_share": mean_of("drum_steady_share"),
        "mean_drum_one_bar_share": mean_of("drum_one_bar_share"),
        "mean_bass_root_share": mean_of("bass_root_share"),
        "mean_bass_below_c3_share": mean_of("bass_below_c3_share"),
        "mean_comping_3_tones_share": mean_of("comping_3_tones_share"),
        "mean_added_chord_tone_share": mean_of("added_chord_tone_share"),
        "out_of_range_notes": sum(r["checks"]["out_of_range_notes"] for r in arranged),
        "model_out_of_range_notes": sum(r["checks"]["model_out_of_range_notes"] for r in arranged),
        "time_generate_s": round(gen, 3),
        "time_plan_plus_arrange_s": round(arr, 4),
        "time_perform_s": round(perf, 4),
        "arranging_only_overhead": round(arr / gen, 4) if gen else None,
        "arranging_overhead": round((arr + perf) / gen, 4) if gen else None,
        "median_arranging_overhead": round(
            statistics.median(r["arranging_overhead"] for r in arranged), 4
        )
        if arranged
        else None,  # fmt: skip
        "overhead_target": 0.2,
        "overhead_ok": bool(gen) and (arr + perf) / gen < 0.2,
    }
    write_json(
        args.out,
        {
            "benchmark": "arrangement",
            "machine": machine(),
            "settings": {
                "bars": args.bars,
                "seed": args.seed,
                "candidates": 1,
                "repeats": args.repeats,
                "unfitted": args.unfitted,
                "only": args.only or None,
                "model": args.model or "shipped",
            },  # fmt: skip
            "definitions": {
                "performance": "every check is on the piece as users get it: arranged, then "
                "played by the performance layer in the plan's style (Composer.performed, "
                "performance auto, humanize 0, seed as settings); written_all_ok: the same "
                "checks before the performance",
                "drums_ok": "a drum track on MIDI channel 10 with >= 2 sounds, hits in every "
                "non-fill bar, and steady: the kit repeats a groove of 1 or 2 bars "
                "(arrange/checks.py drum_steadiness: each non-fill bar's hits, crash and "
                "ghost notes of velocity <= 50 aside, equal the commonest pattern of its "
                f"place in the cycle in >= {STEADY_SHARE:.0%} of non-fill bars)",
                "drums_one_bar_ok": "as drums_ok with a cycle of one bar (every bar the same)",
                "bass_ok": "a bass note below C3 (48) on the chord's root or slash bass at "
                f"the start (within {ONSET_SLACK} beat) of >= 70 % of chord changes",
                "comping_ok": ">= 3 chord tones sounded in every chord span",
                "melody_on_top": "mean pitch of the model's tracks > the comping's",
                "added_chord_tone_share": "added pitched notes on a chord tone at onset",
                "velocity_spread_ok": "max > min velocity in every track, the model's too",
                "key_ok": "majority_key(key_panel) of the duration-weighted pitch-class "
                "histogram (drums excluded) == the requested key",
                "range_ok": "every note, the model's and the band's, inside "
                "instrument_range(program) as the arranger uses it",
                "arranging_overhead": "(arrangement_for + arranged + performed) / "
                "generate_with time; arranging_only_overhead without performed",
                "chords": "arrange.arranger.key_chords of piece.chord_spans() of the model's "
                "melody (one chord a bar, analysed; a major or minor chord whose third the "
                "melody never sounds takes the key signature's third): the band's chords",
            },
            "summary": summary,
            "rows": rows,
            "peak_rss_mb": round(peak_rss_mb(), 1),
        },
        model=args.model,
    )


if __name__ == "__main__":
    main()

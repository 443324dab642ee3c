"""Live streaming on this machine, in real time, with the shipped model.

Plays a 4-voice stream at 120 bpm to an in-memory port for `--seconds` (default 600 =
10 minutes) on the real clock, changing key every `--key-every` seconds, and reports:

- time to first note (from the session's creation, text encoding included, and from the
  start of its loop);
- underruns (the playhead reaching music not decided yet) and how late any message went
  out;
- tokens/s produced vs tokens/s this tempo needs, and the baseline a cache-less stream
  would manage: one full-window forward pass per token, timed in the same run;
- the cost of each window shift (one prefill) and how often it happens;
- each key change: latency in bars from the request to the first bar under the new key,
  and how well that bar's notes fit the new key's scale vs the old one's (duration
  weighted), with the key estimated from those bars.

    python benchmarks/stream.py --out benchmarks/results/stream.json

Load mode (`--load 0,1,2,3`): the same 4-voice stream at 120 bpm, recorded to a MIDI file,
for `--seconds` beside 0, 1, 2 and 3 competing CPU-bound processes that this script starts
before each run and stops after it (on this machine only), once with today's handling of a
busy computer (`live`: calibration, economy, holds at barlines, the decode thread) and once
without it (`baseline`), the two interleaved at each load level (the order alternating
from level to level). Per run: underruns, notes played, dropped, late, the share of notes
that sound shorter than half their written length (from the recording), the latest
message, time holding, and the tempo measured from the recording (note-on times in the
file against the beats they were played on); `os.getloadavg()` at the start and end.

    python benchmarks/stream.py --load 0,1,2,3 --seconds 300 \
        --out benchmarks/results/stream_load.json
    python benchmarks/stream.py --load 0,1,2,3 --seconds 60 --modes live-t1,live-t2 \
        --out benchmarks/results/stream_threads.json   # the model's threads, 1 vs 2, under load
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402

PROMPT = "a four-part chorale for string quartet in C major"
INSTRUMENTS = "violin,violin,viola,cello"
# Keys far apart on the circle of fifths, so "which key is this bar in" is unambiguous.
KEY_CYCLE = ["F# major", "C major", "Eb major", "A major", "C minor", "F# minor", "C major"]
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10, 11]  # natural minor plus the leading tone


def scale_of(key: str) -> set[int]:
    from tunesmith.music.keys import key_pitch_class

    tonic, mode = key_pitch_class(key)
    return {(tonic + s) % 12 for s in (MAJOR if mode == "major" else MINOR)}


def fit(notes: list[dict], key: str) -> float:
    """Duration-weighted share of the notes whose pitch class is in `key`'s scale."""
    scale = scale_of(key)
    total = sum(n["duration"] for n in notes)
    inside = sum(n["duration"] for n in notes if n["pitch"] % 12 in scale)
    return inside / total if total else float("nan")


def estimated_key(notes: list[dict]) -> str | None:
    from tunesmith.music.keys import estimate_key

    hist = np.zeros(12)
    for n in notes:
        hist[n["pitch"] % 12] += n["duration"]
    est = estimate_key(hist)
    return est[0] if est else None


def naive_tokens_per_s(composer, window: int, reps: int = 20) -> float:
    """A stream without a KV cache: one forward over the whole window per token."""
    import torch

    model = composer.model
    idx = torch.randint(5, 300, (1, window))
    with torch.inference_mode():
        model(idx)
        t0 = time.perf_counter()
        for _ in range(reps):
            model(idx)
    return reps / (time.perf_counter() - t0)


LIVE_THREADS = 1  # the stream command's default (src/tunesmith/cli/live.py)
BURNER = "while True: pass"  # one competing CPU-bound process


def start_load(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(n)]


def stop_load(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=10)


def recording_figures(path: Path, events: list[dict], tempo: float, end_s: float) -> dict:
    """What the recording says: how long each note sounded against its written length,
    and the tempo its note-on times keep (against the beats they were played on). Notes
    whose written end lies past the stream's end (`end_s`, when stopping released them)
    are not judged."""
    from tunesmith.stream.outputs import read_recording

    msgs = read_recording(path)
    ons = [(t, m) for t, m in msgs if m.type == "note_on" and m.velocity > 0]
    if len(ons) != len(events):  # one note event per note-on, in the same order
        raise SystemExit(f"recording has {len(ons)} note-ons but {len(events)} notes were sent")
    # sounding length: from each note-on to the next note-off of its key
    held: dict[tuple[int, int], list[int]] = {}
    sounding = [None] * len(ons)
    k = 0
    for t, m in msgs:
        key = (m.channel, getattr(m, "note", -1))
        if m.type == "note_on" and m.velocity > 0:
            held.setdefault(key, []).append(k)
            sounding[k] = t  # start for now
            k += 1
        elif m.type == "note_off" or (m.type == "note_on" and m.velocity == 0):
            for i in held.pop(key, []):
                sounding[i] = t - sounding[i]
    lengths = [s if s is not None else 0.0 for s in sounding]
    for ids in held.values():  # still sounding at the end of the file: not judged
        for i in ids:
            lengths[i] = None
    for i, ((t, _), e) in enumerate(zip(ons, events, strict=True)):
        if t + e["duration"] > end_s - 1.5 / 960:  # released by the stop, not by the player
            lengths[i] = None
    # As written, a note is cut where the same voice strikes its key again: that is the
    # music, not the player, so such notes are counted apart.
    written = [w for w in written_lengths(events, tempo)]
    judged = [
        (ln, e["duration"], w)
        for ln, e, w in zip(lengths, events, written, strict=True)
        if ln is not None
    ]
    tick = 1.5 / 960  # the file's grid
    short = sum(1 for ln, d, w in judged if ln < 0.5 * d - tick and w >= 0.5 * d)
    cut_as_written = sum(1 for ln, d, w in judged if ln < 0.5 * d - tick and w < 0.5 * d)
    blips = sum(1 for ln, _, _ in judged if ln < 60.0 / tempo / 8)  # shorter than a 32nd
    # tempo: least squares of note-on time against the beat each note was played on
    t = np.array([x for x, _ in ons])
    b = np.array([e["beat"] for e in events])
    fig: dict = {
        "notes_judged": len(judged),
        "notes_shorter_than_half": short,
        "share_shorter_than_half": round(short / len(judged), 4) if judged else None,
        "notes_shorter_than_32nd": blips,
        "notes_cut_as_written": cut_as_written,
    }
    if len(t) >= 2 and np.ptp(b) > 0:
        slope, _ = np.polyfit(b, t, 1)
        fig["tempo_from_recording"] = round(60.0 / slope, 3)
        resid = t - b * 60.0 / tempo
        off = np.abs(resid - np.median(resid))
        fig["onsets_on_the_tempo_grid"] = round(float(np.mean(off <= 0.02)), 4)
        fig["onset_off_grid_ms_max"] = round(float(off.max()) * 1000, 1)
    return fig


def written_lengths(events: list[dict], tempo: float) -> list[float]:
    """Seconds each note would sound as written: its length, or less where the next note
    on the same key of the same channel starts before it ends."""
    out = [e["duration"] for e in events]
    last: dict[tuple[int, int], int] = {}
    for i, e in sorted(enumerate(events), key=lambda x: x[1]["beat"]):
        key = (e["channel"], e["pitch"])
        if key in last:
            j = last[key]
            gap = (e["beat"] - events[j]["beat"]) * 60.0 / tempo
            out[j] = min(out[j], gap)
        last[key] = i
    return out


def threads_of(mode: str, args) -> int | None:
    """The model's threads in a mode (None: the backend's default, as before issue 23)."""
    if "-t" in mode:
        return int(mode.split("-t")[1])
    return args.threads if mode == "live" else None


def one_load_run(composer, args, mode: str, load: int) -> dict:
    from tunesmith.stream import FileRecorder, MemoryOutput, StreamSession, StreamSettings

    live = mode.startswith("live")
    threads = threads_of(mode, args)
    mem = MemoryOutput()
    with tempfile.TemporaryDirectory() as tmp:
        rec_path = Path(tmp) / "rec.mid"
        rec = FileRecorder(rec_path)
        session = StreamSession(
            composer,
            PROMPT,
            [mem, rec],
            StreamSettings(tempo=args.tempo, duration=args.seconds, live=live),
            composer.sampling_for(seed=args.seed).with_(speculative=False),
            composer.controls_for(PROMPT, tempo=args.tempo, instruments=INSTRUMENTS),
        )
        procs = start_load(load)
        time.sleep(1.0)  # the competitors are running before the stream starts
        load_start = os.getloadavg()
        try:
            report = session.run()
        finally:
            load_end = os.getloadavg()
            stop_load(procs)
        fig = recording_figures(rec_path, mem.notes, args.tempo, report.seconds)
    r = report.to_dict()
    holds = [d for e, d in mem.events if e == "hold"]
    return {
        "mode": mode,
        "competing_processes": load,
        "backend": type(composer.engine.backend).__name__,
        "threads": threads if threads is not None else "backend default",
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in load_end],
        "seconds": round(r["seconds"], 1),
        "underruns": r["underruns"],
        "notes": r["notes"],
        "notes_dropped": r["notes_dropped_late"],
        "notes_late_kept_length": r["notes_late"],
        **fig,
        "max_late_ms": r["max_late_ms"],
        "holds": r["holds"],
        "hold_s": r["hold_s"],
        "hold_sustained_notes": sum(h["sustained"] for h in holds),
        "economy_s": r["economy_s"],
        "tokens_per_s_produced": r["tokens_per_s"],
        "tokens_per_s_needed": r["needed_tokens_per_s"],
        "first_note_s": r["first_note_s"],
        "calibration": r["calibration"],
        "warnings": r["warnings"],
        "scheduler_nice": r["scheduler_nice"],
        "window_shifts": r["window_shifts"],
        "shift_ms_max": r["shift_ms_max"],
    }


def load_main(args) -> None:
    from tunesmith.api import Composer

    levels = [int(x) for x in args.load.split(",")]
    modes = args.modes.split(",")
    composers = {}  # one per thread count: a backend takes its threads when it loads
    for mode in modes:
        threads = threads_of(mode, args)
        if threads not in composers:
            composers[threads] = Composer.load(args.model, backend=args.backend, threads=threads)
            composers[threads].engine.text_embedding("warm up the text encoder")
    runs = []
    for i, load in enumerate(levels):
        order = modes if i % 2 == 0 else modes[::-1]  # interleaved, alternating first
        for mode in order:
            print(f"load {load}, {mode}: {args.seconds:.0f} s", file=sys.stderr, flush=True)
            run = one_load_run(composers[threads_of(mode, args)], args, mode, load)
            print(
                f"  underruns {run['underruns']}, dropped {run['notes_dropped']}, "
                f"short {run['share_shorter_than_half']}, holds {run['holds']}, "
                f"tempo {run.get('tempo_from_recording')}, late {run['max_late_ms']} ms",
                file=sys.stderr,
                flush=True,
            )
            runs.append(run)
    payload = {
        "machine": machine(),
        "command": "python benchmarks/stream.py " + " ".join(sys.argv[1:]),
        "prompt": PROMPT,
        "instruments": INSTRUMENTS,
        "tempo": args.tempo,
        "seconds_per_run": args.seconds,
        "competing_process": f"{sys.executable} -c '{BURNER}'",
        "modes": {
            "baseline": "the handling before issue 23 (StreamSettings(live=False)): one "
            "thread, no calibration, economy or holds; late notes keep their length; the "
            "backend's default threads",
            "live": "StreamSettings(live=True): calibration, economy, holds at barlines, "
            f"decode thread; the model loaded with {args.threads} thread(s) as `stream` does",
        },
        "runs": runs,
    }
    write_json(args.out, payload, model=args.model)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument(
        "--load", default=None, help="load mode: competing processes per level, e.g. 0,1,2,3"
    )
    ap.add_argument("--modes", default="baseline,live", help="load mode: what to run per level")
    ap.add_argument("--threads", type=int, default=LIVE_THREADS, help="load mode: live threads")
    ap.add_argument(
        "--backend", default="auto", help="load mode: auto|onnx|torch (Composer.load's backend)"
    )
    ap.add_argument("--key-every", type=float, default=60.0)
    ap.add_argument("--tempo", type=float, default=120.0)
    ap.add_argument("--model", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/stream.json")
    args = ap.parse_args()
    if args.seconds <= 0:
        ap.error("--seconds must be > 0")
    if args.load is not None:
        try:
            levels = [int(x) for x in args.load.split(",")]
        except ValueError:
            ap.error(f"--load takes counts such as 0,1,2,3, not {args.load!r}")
        if any(n < 0 or n > 16 for n in levels):
            ap.error("--load counts must be 0-16")
        bad = [m for m in args.modes.split(",") if m not in ("baseline", "live")
               and not (m.startswith("live-t") and m[6:].isdigit())]  # fmt: skip
        if bad:
            ap.error(f"--modes: unknown {bad}; use baseline, live or live-tN")
        if args.backend not in ("auto", "onnx", "torch"):
            ap.error(f"--backend: auto, onnx or torch, not {args.backend!r}")
        if args.out == "benchmarks/results/stream.json":
            args.out = "benchmarks/results/stream_load.json"
        load_main(args)
        return

    from tunesmith.api import Composer
    from tunesmith.stream import MemoryOutput, StreamSession, StreamSettings

    composer = Composer.load(args.model)
    composer.engine.text_embedding("warm up the text encoder")
    mem = MemoryOutput()
    t_create = time.monotonic()
    session = StreamSession(
        composer,
        PROMPT,
        [mem],
        StreamSettings(tempo=args.tempo, duration=args.seconds),
        composer.sampling_for(seed=args.seed).with_(speculative=False),
        composer.controls_for(PROMPT, tempo=args.tempo, instruments=INSTRUMENTS),
    )
    changes: list[dict] = []

    def steer() -> None:
        i = 0
        while not session._stop.is_set():
            time.sleep(args.key_every)
            if not session.running:
                return
            key = KEY_CYCLE[i % len(KEY_CYCLE)]
            old = session.stream.controls.key
            changes.append({"from": old, "to": key, "t": time.monotonic() - t_create})
            session.control(key=key)
            i += 1

    threading.Thread(target=steer, daemon=True).start()
    t_run = time.monotonic()
    report = session.run()
    first_from_create = (
        None if report.first_note_s is None else report.first_note_s + (t_run - t_create)
    )

    # Key changes: the first bar (and two bars) from where each change took effect.
    key_rows = []
    for ch, rep in zip(changes, [c for c in report.controls if c["name"] == "key"], strict=False):
        if rep["applied_beat"] is None:
            continue
        start, bar_len = rep["applied_beat"], rep["bar_len"]
        one = [n for n in mem.notes if start <= n["beat"] < start + bar_len]
        two = [n for n in mem.notes if start <= n["beat"] < start + 2 * bar_len]
        if not one:
            continue
        key_rows.append(
            {
                "from": ch["from"],
                "to": ch["to"],
                "latency_bars": rep["latency_bars"],
                "first_bar_fit_new": round(fit(one, ch["to"]), 3),
                "first_bar_fit_old": round(fit(one, ch["from"]), 3),
                "two_bars_estimated_key": estimated_key(two),
                "audible_within_1_bar": bool(
                    rep["latency_bars"] <= 1.0 and fit(one, ch["to"]) > fit(one, ch["from"])
                ),
            }
        )

    r = report.to_dict()
    window = composer.model.cfg.block_size // 2
    naive = naive_tokens_per_s(composer, window)
    payload = {
        "machine": machine(),
        "command": "python benchmarks/stream.py " + " ".join(sys.argv[1:]),
        "prompt": PROMPT,
        "instruments": INSTRUMENTS,
        "tempo": args.tempo,
        "seconds": round(r["seconds"], 1),
        "first_note_s": {
            "from_session_creation": round(first_from_create, 3) if first_from_create else None,
            "from_loop_start": round(r["first_note_s"], 3) if r["first_note_s"] else None,
        },
        "underruns": r["underruns"],
        "max_late_ms": r["max_late_ms"],
        "notes": r["notes"],
        "bars": r["bars"],
        "tokens_per_s_produced": r["tokens_per_s"],
        "tokens_per_s_needed": r["needed_tokens_per_s"],
        "headroom": round(r["tokens_per_s"] / r["needed_tokens_per_s"], 2)
        if r["needed_tokens_per_s"]
        else None,
        "baseline_no_cache_tokens_per_s": round(naive, 1),
        "baseline_window_tokens": window,
        "window_shifts": r["window_shifts"],
        "shift_ms_mean": r["shift_ms_mean"],
        "shift_ms_max": r["shift_ms_max"],
        "generation_busy_share": round(r["generation_s"] / r["seconds"], 3),
        "key_changes": key_rows,
        "targets": {
            "first_note_le_0_5_s": bool(first_from_create and first_from_create <= 0.5),
            "zero_underruns": r["underruns"] == 0,
            "key_change_audible_within_1_bar": bool(key_rows)
            and all(k["audible_within_1_bar"] for k in key_rows),
        },
    }
    write_json(args.out, payload, model=args.model)


if __name__ == "__main__":
    main()

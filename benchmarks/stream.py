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
"""

from __future__ import annotations

import argparse
import sys
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--key-every", type=float, default=60.0)
    ap.add_argument("--tempo", type=float, default=120.0)
    ap.add_argument("--model", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/stream.json")
    args = ap.parse_args()

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

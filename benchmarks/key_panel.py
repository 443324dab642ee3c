"""Key by a panel of key-finding profiles: does the generated music state the requested key
to Krumhansl-Kessler only, or to Aarden-Essen, Temperley-Kostka-Payne and Bellman-Budge too?

(a) Generated pieces: the requests of prompts/eval.jsonl that state a key (optionally also
    `--synthetic` requests spread over the 24 keys), `--bars` bars per seed, with the
    default key guide and with key guidance 0, in one run. Per profile: the share whose
    estimate is the requested key; the panel's majority (music/keys.py `majority_key`); the
    share where 3 or 4 profiles name the requested key; the share whose last sounding bass
    note is the requested tonic (music/cadence.py `ends_on_tonic`).
(b) Real pieces with known keys: music21's Bach chorales and a sample of the folk tunes of
    the test split, read by the corpus converter (data/sources/music21). The truth is the
    corpus key (`corpus_key`): the key the score states (minor and church modes), else the
    key signature plus the final bass note; the few pieces where that needs a profile (no
    signature, or a final that fits neither the major nor the relative minor) are reported
    apart, since Krumhansl-Kessler chose their truth.

    python benchmarks/key_panel.py --out benchmarks/results/key_panel.json
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FOLK = ("essenFolksong", "oneills1850", "airdsAirs", "ryansMammoth", "miscFolk")
SYNTH_FORMS = [("reel", "fiddle"), ("chorale", "choir"), ("waltz", "piano"), ("air", "flute")]
# The final's interval above the signature's major tonic -> mode (as corpus_key reads it).
MODE_OF_FINAL = {0: "major", 2: "dorian", 4: "phrygian", 5: "lydian", 7: "mixolydian", 9: "minor"}


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


# -- scoring one piece -----------------------------------------------------------------------
def verdicts(histogram: np.ndarray, truth: str) -> dict:
    """Each profile's estimate, the majority, and which of them equal the true key."""
    from tunesmith.music.keys import PANEL_NAMES, key_panel, majority_key

    panel = key_panel(histogram)
    votes = sum(panel[n] == truth for n in PANEL_NAMES)
    return {
        "panel": panel,
        "majority": majority_key(panel),
        "hits": {n: panel[n] == truth for n in PANEL_NAMES},
        "majority_hit": majority_key(panel) == truth,
        "three_of_four": votes >= 3,
    }


def summarise(rows: list[dict]) -> dict:
    """Shares over a list of scored pieces (each a `verdicts` dict with 'closes_on_tonic')."""
    from tunesmith.music.keys import PANEL_NAMES

    n = len(rows)
    if not n:
        return {"n": 0}
    share = lambda xs: round(float(np.mean(xs)), 4)  # noqa: E731
    closes = [r["closes_on_tonic"] for r in rows if r.get("closes_on_tonic") is not None]
    return {
        "n": n,
        "match": {name: share([r["hits"][name] for r in rows]) for name in PANEL_NAMES},
        "majority_match": share([r["majority_hit"] for r in rows]),
        "three_of_four_match": share([r["three_of_four"] for r in rows]),
        "no_majority": share([r["majority"] is None for r in rows]),
        "all_four_agree": share([len(set(r["panel"].values())) == 1 for r in rows]),
        "closes_on_tonic": share(closes) if closes else None,
    }


def score_histogram(score) -> np.ndarray:
    """Duration-weighted pitch-class histogram of a Score's pitched notes, as compute_metrics
    builds it for its key estimate."""
    from tunesmith.music.metrics import NoteArrays, as_tick_score, pitch_class_histogram

    notes = NoteArrays.from_score(as_tick_score(score))
    pitched = ~notes.drum
    durations = (notes.offset - notes.onset)[pitched].astype(np.float64)
    weights = durations if durations.any() else np.ones_like(durations)
    return pitch_class_histogram(notes.pitch[pitched], weights)


# -- (a) generated pieces --------------------------------------------------------------------
def requests(synthetic: int) -> list[dict]:
    from tunesmith.evaluate.prompts import load_prompts
    from tunesmith.music.keys import KEYS

    out = [
        {"id": p.id, "prompt": p.prompt, "key": p.attributes["key"], "set": "eval"}
        for p in load_prompts(REPO / "prompts" / "eval.jsonl")
        if p.attributes.get("key")
    ]
    for i in range(synthetic):
        key = KEYS[i % len(KEYS)]
        form, instrument = SYNTH_FORMS[(i // len(KEYS)) % len(SYNTH_FORMS)]
        prompt = f"a {form} in {key} for {instrument}"
        out.append({"id": f"s{i:03d}", "prompt": prompt, "key": key, "set": "synthetic"})
    return out


def generated(args) -> dict:
    from tunesmith import Composer
    from tunesmith.music.cadence import ends_on_tonic

    composer = Composer.load(args.model)
    reqs = requests(args.synthetic)[: args.limit]
    seeds = [int(s) for s in args.seeds.split(",")]
    # Each variant: the changes to the default sampling (generate/sampling.py).
    known: dict[str, dict] = {
        "key_guide_default": {},  # as shipped: the panel key guide and the "close" cadence
        "key_guidance_0": {"key_guidance": 0.0, "cadence": "none"},
        "cadence": {"cadence": "frame"},  # I ... V7 I
        "cadence_close": {"cadence": "close"},  # ... V7 I
        "no_cadence": {"cadence": "none"},
        "panel_guide": {"key_guide_args": {"panel": True, "panel_base": False}, "cadence": "none"},
        "panel_guide_base": {"cadence": "none"},
        # the default before v2.1: Krumhansl-Kessler alone judges the key, no cadence
        "kk_guide": {"key_guide_args": {"panel": False, "panel_base": False}, "cadence": "none"},
    }
    variants = {v: known[v] for v in args.variants.split(",")}
    rows: dict[str, list[dict]] = {v: [] for v in variants}
    parsed_key_differs = []
    t0 = time.time()
    total = len(reqs) * len(seeds) * len(variants)
    done = 0
    for req in reqs:
        controls = composer.controls_for(req["prompt"], bars=args.bars)
        if controls.key != req["key"]:
            parsed_key_differs.append({**req, "parsed": controls.key})
        for seed in seeds:
            for variant, changes in variants.items():
                sampling = composer.sampling_for(seed=seed).with_(**changes)
                piece = composer.generate_with(controls, sampling, req["prompt"])
                row = verdicts(score_histogram(piece.score), req["key"])
                row.update(id=req["id"], set=req["set"], seed=seed, requested=req["key"])
                row["closes_on_tonic"] = ends_on_tonic(piece.score, req["key"])
                rows[variant].append(row)
                done += 1
                if done % 10 == 0 or done == total:
                    log(f"generated {done}/{total} ({time.time() - t0:.0f} s)")
    out: dict = {
        "requests": len(reqs),
        "requests_eval": sum(r["set"] == "eval" for r in reqs),
        "requests_synthetic": sum(r["set"] == "synthetic" for r in reqs),
        "seeds": seeds,
        "bars": args.bars,
        "parsed_key_differs_from_stated": parsed_key_differs,
        "seconds": round(time.time() - t0, 1),
    }
    for variant, changes in variants.items():
        rs = rows[variant]
        out[variant] = {
            "sampling_changes": changes,
            **summarise(rs),
            **(
                {
                    "eval_prompts": summarise([r for r in rs if r["set"] == "eval"]),
                    "synthetic": summarise([r for r in rs if r["set"] == "synthetic"]),
                }
                if args.synthetic
                else {}
            ),
            "majority_misses": [
                {k: r[k] for k in ("id", "seed", "requested", "panel")}
                for r in rs
                if not r["majority_hit"]
            ][:12],
        }
    return out


# -- (b) real pieces -------------------------------------------------------------------------
def truth_route(music, modes: frozenset[str]) -> str:
    """How corpus_key obtains the key of a piece (mirrors its branches)."""
    stated = music.stated_key
    if stated and stated[1] != "major":
        return "stated key"
    if music.sharps is not None:
        major = (7 * music.sharps) % 12
    elif stated:
        major = stated[0]
    else:
        return "profile (no key signature)"
    ends = [(s + d, p) for v in music.voices for s, d, p, _ in v.notes]
    last = max(e for e, _ in ends)
    final = min(p for e, p in ends if e >= last - 1e-3) % 12
    mode = MODE_OF_FINAL.get((final - major) % 12)
    if mode in ("major", "minor") or mode in modes:
        return "signature + final"
    return "signature + profile"


def real(args) -> dict:
    from tunesmith.data.records import split_for
    from tunesmith.data.sources.music21.convert import corpus_key, extract_music, parse_job
    from tunesmith.data.sources.music21.jobs import list_jobs, sample_jobs
    from tunesmith.data.sources.music21.metadata import abc_meta, file_meta
    from tunesmith.music.keys import key_pitch_class

    t0 = time.time()
    jobs, _ = list_jobs()
    chorales = [j for j in jobs if j.source == "bach"]
    if args.chorales < len(chorales):
        chorales = random.Random(0).sample(chorales, args.chorales)
    folk_test = [j for j in jobs if j.source in FOLK and split_for(abc_meta(j).tune_id) == "test"]
    folk = sample_jobs(folk_test, args.folk) if args.folk < len(folk_test) else folk_test
    log(f"real pieces: {len(chorales)} chorales, {len(folk)} of {len(folk_test)} test folk tunes")
    groups: dict[str, list[dict]] = {"bach_chorales": [], "folk_test": []}
    failed: Counter[str] = Counter()
    for group, todo in (("bach_chorales", chorales), ("folk_test", folk)):
        for i, job in enumerate(todo, 1):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    parsed = parse_job(job)
                    meta = abc_meta(job) if job.text else file_meta(job, parsed)
                    music = extract_music(parsed)
                music.voices = [v for v in music.voices if v.notes]
                if not music.voices:
                    failed["no notes"] += 1
                    continue
                truth, _ = corpus_key(music, modes=meta.modes)
            except Exception as e:  # noqa: BLE001 - a corpus file music21 cannot read
                failed[type(e).__name__] += 1
                continue
            if truth is None:
                failed["no key"] += 1
                continue
            hist = np.zeros(12)
            for v in music.voices:
                for _, dur, pitch, _ in v.notes:
                    hist[pitch % 12] += dur
            ends = [(s + d, p) for v in music.voices for s, d, p, _ in v.notes]
            last = max(e for e, _ in ends)
            final = min(p for e, p in ends if e >= last - 1e-3) % 12
            row = verdicts(hist, truth)
            row.update(
                id=job.id,
                source=job.source,
                truth=truth,
                route=truth_route(music, meta.modes),
                closes_on_tonic=final == key_pitch_class(truth)[0],
            )
            groups[group].append(row)
            if i % 50 == 0 or i == len(todo):
                log(f"{group} {i}/{len(todo)} ({time.time() - t0:.0f} s)")
    out: dict = {
        "truth": (
            "corpus_key of data/sources/music21: the key the score states when it names a "
            "minor or church mode, else the key signature plus the final bass note "
            "('signature + final'); pieces whose truth needed the Krumhansl-Kessler profile "
            "('signature + profile', 'profile (no key signature)') are counted in 'all' only"
        ),
        "histogram": "duration-weighted pitch classes of all notes as notated (quarters)",
        "failed": dict(failed),
        "seconds": 0.0,
    }
    independent = ("stated key", "signature + final")
    for group, rows in groups.items():
        out[group] = {
            "routes": dict(Counter(r["route"] for r in rows)),
            "truth_without_a_profile": summarise([r for r in rows if r["route"] in independent]),
            "all": summarise(rows),
            "by_source": {
                s: summarise([r for r in rows if r["source"] == s and r["route"] in independent])
                for s in sorted({r["source"] for r in rows})
            },
            "majority_misses": [
                {k: r[k] for k in ("id", "truth", "route", "panel")}
                for r in rows
                if not r["majority_hit"]
            ][:8],
        }
    out["seconds"] = round(time.time() - t0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--seeds", default="1", help="comma-separated sampling seeds")
    ap.add_argument("--synthetic", type=int, default=0, help="extra requests over the 24 keys")
    ap.add_argument("--limit", type=int, default=None, help="first N requests (a smoke test)")
    ap.add_argument("--chorales", type=int, default=10_000, help="at most this many chorales")
    ap.add_argument("--folk", type=int, default=10_000, help="at most this many test folk tunes")
    ap.add_argument("--skip-generated", action="store_true")
    ap.add_argument(
        "--variants",
        default="key_guide_default,no_cadence,kk_guide,key_guidance_0",
        help="comma-separated: key_guide_default (as shipped: the panel key guide and the "
        "close), no_cadence, kk_guide (Krumhansl-Kessler alone, no cadence: the default "
        "before v2.1), key_guidance_0, cadence (I ... V7 I), cadence_close (... V7 I), "
        "panel_guide (no cadence; the correction judged by the panel, the constant part "
        "KK's), panel_guide_base (no cadence; the shipped guide)",
    )
    ap.add_argument("--out", default="benchmarks/results/key_panel.json")
    args = ap.parse_args()

    from tunesmith.music.keys import PANEL_NAMES

    result: dict = {
        "benchmark": "key_panel",
        "machine": machine(),
        "profiles": list(PANEL_NAMES),
        "majority_rule": (
            "the key most profiles name, when no other key is named as often "
            "(3-1 and 2-1-1 decide; 2-2 and 1-1-1-1 give no key)"
        ),
        "real": real(args),
    }
    if not args.skip_generated:
        result["generated"] = generated(args)
    write_json(args.out, result, model=args.model)


if __name__ == "__main__":
    main()

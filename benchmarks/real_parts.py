"""Do requested instruments get a real part? The share over the public prompt set.

Generates every prompt of the set exactly as `tunesmith evaluate --prompts` does (one
piece per prompt and seed, no candidates; pieces already in the run folder are reused),
then counts, for every instrument a prompt requests, whether it plays a real part
(`tunesmith.music.parts`: at least 8 notes, or one a bar in a shorter piece, sounding in
at least half the bars).

    python benchmarks/real_parts.py --run-dir runs/real_parts --out benchmarks/results/real_parts.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402


def measure_folder(midi_dir: Path, names: set[str] | None = None) -> dict:
    """Real-part counts for the pieces (NAME.mid + NAME.json sidecars) in `midi_dir`
    (only those in `names` when given)."""
    from tunesmith.evaluate.attributes import attribute_hits
    from tunesmith.music.metrics import compute_metrics, load_midi
    from tunesmith.music.parts import part_facts

    real = requested = 0
    multi_real = multi_requested = 0
    pieces_all_real = pieces = 0
    misses = []
    hits: dict[str, list[bool]] = {}
    for facts_path in sorted(midi_dir.glob("*.json")):
        if names is not None and facts_path.stem not in names:
            continue
        facts = json.loads(facts_path.read_text())
        want = list(
            dict.fromkeys(int(p) for p in (facts.get("requested") or {}).get("instruments") or [])
        )
        if not want:
            continue
        score = load_midi(facts_path.with_suffix(".mid"))
        asked = facts.get("requested") or {}
        for k, v in attribute_hits(score, compute_metrics(score), asked).items():
            hits.setdefault(k, []).append(v)
        parts = part_facts(score)
        real_programs = {f.program for f in parts if f.real}
        got = [p in real_programs for p in want]
        real += sum(got)
        requested += len(want)
        pieces += 1
        pieces_all_real += all(got)
        if len(want) > 1:
            multi_real += sum(got)
            multi_requested += len(want)
        for p, ok in zip(want, got, strict=True):
            if not ok:
                mine = [f for f in parts if f.program == p]
                misses.append(
                    {
                        "piece": facts_path.stem,
                        "program": p,
                        "notes": sum(f.notes for f in mine),
                        "bars_sounding": max((f.bars_sounding for f in mine), default=0),
                        "bars": parts[0].bars if parts else 0,
                    }
                )
    return {
        "requested_instruments": requested,
        "real_parts": real,
        "share_real": round(real / requested, 4) if requested else None,
        "in_multi_instrument_requests": {
            "requested_instruments": multi_requested,
            "real_parts": multi_real,
            "share_real": round(multi_real / multi_requested, 4) if multi_requested else None,
        },
        "pieces_with_instruments": pieces,
        "pieces_every_part_real": pieces_all_real,
        "misses": misses,
        # every requested attribute of the same pieces (evaluate's check; instruments: the
        # real-part check), to see what the change costs elsewhere
        "attribute_hits": {k: [sum(v), len(v)] for k, v in sorted(hits.items())},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--prompts", default="prompts/eval.jsonl")
    ap.add_argument("--seeds", default="1")
    ap.add_argument(
        "--min-instruments",
        type=int,
        default=1,
        help="Only prompts that request at least this many instruments (2: the duets, trios...).",
    )
    ap.add_argument("--run-dir", required=True, help="Folder for the generated pieces.")
    ap.add_argument("--out", default="benchmarks/results/real_parts.json")
    ap.add_argument(
        "--no-generate", action="store_true", help="Only measure the pieces already in --run-dir."
    )
    ap.add_argument(
        "--same-as",
        type=Path,
        help="Only the pieces also in this run folder (to compare two runs on the same prompts).",
    )
    ap.add_argument("--note", default="", help="What made the pieces (kept in the JSON).")
    args = ap.parse_args()

    from tunesmith import Composer
    from tunesmith.evaluate.prompts import load_prompts
    from tunesmith.evaluate.suite import generate_for_prompts

    prompts = [
        p
        for p in load_prompts(args.prompts)
        if len(p.attributes.get("instruments") or []) >= args.min_instruments
    ]
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.time()
    if not args.no_generate:
        generate_for_prompts(Composer.load(args.model), prompts, seeds, args.run_dir)
    names = {f"{p.id}_s{s}" for p in prompts for s in seeds}
    if args.same_as is not None:
        names &= {f.stem for f in (args.same_as / "midi").glob("*.json")}
    result = measure_folder(Path(args.run_dir) / "midi", names)
    result.update(
        {
            "prompts": args.prompts,
            "seeds": seeds,
            "min_instruments": args.min_instruments,
            "prompts_measured": len(names),
            "note": args.note,
            "definition": "a real part: >= min(8, bars) notes and sounding in >= half the bars "
            "(src/tunesmith/music/parts.py)",
            "seconds": round(time.time() - t0, 1),
            "machine": machine(),
        }
    )
    write_json(args.out, result, model=args.model)


if __name__ == "__main__":
    main()

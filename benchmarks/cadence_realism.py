"""Does the cadence frame cost realism? The public prompt set with and without it.

The cadence frame (`SamplingConfig(cadence="frame")`: the tonic chord in bar 1, the
dominant seventh then the tonic in the last two bars, through the chord guide and, with
model v2, the bars' chord tokens) makes pieces close on their tonic (docs/EVALUATION.md,
key panel); `cadence="close"` is the last two bars only. This generates every prompt of
`prompts/eval.jsonl` (seed 1, or `--seeds`, the shipped model) with the default sampling and with each
`--variants` entry in one run: default (as shipped since v2.1: the key guide judged by
the whole key panel, its constant part the panel's mean profile, and the close),
previous (Krumhansl-Kessler's guide alone, no cadence: the default before), no_cadence,
close and frame (with KK's guide), panel (the correction judged by the panel, KK's
constant part), panel_base (the shipped guide), panel_close and panel_base_close (with
the close), t0.9, t0.8, t1.1 and t1.2 (the defaults at another temperature), t1.0_full
and t1.1_full (no top-k or top-p), t1.1_p0.98 (a looser top-p), and compares each set
with the test split as `tunesmith evaluate` does: attribute accuracy, Frechet distance, real-vs-generated classifier, H1/H4/GS per form
(forms with >= 5 real pieces), and the share of pieces ending with the requested tonic in
the bass (music/cadence.py).

    python benchmarks/cadence_realism.py --out benchmarks/results/cadence_realism.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402


def summary(result: dict, ends: list[bool]) -> dict:
    forms = [f for f in result["same_form"]["forms"].values() if f["real"] >= 5]
    return {
        "attribute_accuracy": {k: v["accuracy"] for k, v in result["attribute_accuracy"].items()},
        "frechet_distance": result["realism"]["frechet_distance"],
        "classifier_accuracy": result["realism"]["classifier_accuracy"],
        "same_form_mean_abs_relative_difference": {
            m: sum(abs(f[m]["relative_difference"]) for f in forms) / len(forms)
            for m in ("H1", "H4", "GS")
        },
        "ends_on_tonic": sum(ends) / max(len(ends), 1),
        "keyed_pieces": len(ends),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", default="prompts/eval.jsonl")
    ap.add_argument("--reference", default="data/music21")
    ap.add_argument("--model", default=None)
    ap.add_argument("--variants", default="default,previous")
    ap.add_argument("--seeds", default="1", help="comma-separated seeds per prompt")
    ap.add_argument("--out", default="benchmarks/results/cadence_realism.json")
    args = ap.parse_args()
    from tunesmith import Composer
    from tunesmith.evaluate.prompts import load_prompts
    from tunesmith.evaluate.suite import compare, generate_for_prompts, reference_pieces
    from tunesmith.music.cadence import ends_on_tonic
    from tunesmith.music.metrics import load_midi

    t0 = time.perf_counter()
    composer = Composer.load(args.model)
    prompts = load_prompts(args.prompts)
    reference = reference_pieces(args.reference)
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        kk = {"key_guide_args": {"panel": False, "panel_base": False}}
        known: dict[str, dict] = {
            "default": {},  # as shipped: the panel key guide and the close
            "previous": {**kk, "cadence": "none"},  # the default before v2.1
            "no_cadence": {"cadence": "none"},
            "close": {**kk, "cadence": "close"},
            "frame": {**kk, "cadence": "frame"},
            "panel": {"key_guide_args": {"panel": True, "panel_base": False}, "cadence": "none"},
            "panel_close": {"key_guide_args": {"panel": True, "panel_base": False}},
            "panel_base": {"cadence": "none"},
            "panel_base_close": {},
            # sampling temperature (the defaults were chosen on v1 by sampling_study.py)
            "t0.9": {"temperature": 0.9},
            "t0.8": {"temperature": 0.8},
            "t1.1": {"temperature": 1.1},
            "t1.2": {"temperature": 1.2},
            # no truncation: the model's own distribution (t1.0_full) or a warmer one
            "t1.0_full": {"top_k": 0, "top_p": 1.0},
            "t1.1_full": {"temperature": 1.1, "top_k": 0, "top_p": 1.0},
            "t1.1_p0.98": {"temperature": 1.1, "top_p": 0.98},
        }
        for name in args.variants.split(","):
            changes = known[name]
            folder = Path(tmp) / name
            seeds = [int(x) for x in args.seeds.split(",")]
            pieces = generate_for_prompts(
                composer, prompts, seeds, folder, sampling_changes=changes
            )
            ends = []
            for p in prompts:
                key = p.attributes.get("key")
                for seed in seeds if key else []:
                    midi = load_midi(folder / "midi" / f"{p.id}_s{seed}.mid")
                    ends.append(bool(ends_on_tonic(midi, key)))
            out[name] = summary(compare(pieces, reference), ends)
            print(name, out[name], file=sys.stderr)
    write_json(
        args.out,
        {
            "benchmark": "cadence_realism",
            "machine": machine(),
            "prompts": len(prompts),
            "seeds": args.seeds,
            "reference_pieces": len(reference),
            "results": out,
            "wall_s": round(time.perf_counter() - t0, 1),
        },
        model=args.model,
    )


if __name__ == "__main__":
    main()

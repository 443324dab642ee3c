"""Realism against a matched reference: prompts written for real test pieces, compared with those pieces.

The public prompt set (prompts/eval.jsonl) asks for bands, piano pieces and quartets, while
85 % of the corpus's test split is one line; its Frechet distance and classifier measure
that mismatch as much as the model (docs/EVALUATION.md, "What the classifier sees"). Here
each request comes from a real piece instead:

- `--pieces` pieces are drawn at random (fixed seed) from the test split of the prepared
  corpus, which no model trained on;
- each gets one of its own captions (the corpus's captions, written from its metadata by
  `data/captions.py`, as in training), drawn at random among those that ask for at most
  32 bars and 60 seconds, so a request never asks for more than the public set does;
- a caption that states no length gets the corpus's own length sentence, "It is N bars
  long.", with N the real piece's bars up to 32, and each real piece is compared by its
  first 32 bars: the two sides have the same length (groove similarity and 4-bar entropy
  depend on it; without this every unstated length is the default 16 bars);
- every model generates those prompts with its default sampling (`--seeds`), as
  `tunesmith evaluate` does, and is compared with exactly the drawn real pieces:
  Frechet distance and real-vs-generated classifier on the evaluation's 11 features,
  attribute accuracy on what each caption states (the key by the Krumhansl-Kessler
  estimate, and by the majority of the four-profile panel of benchmarks/key_panel.py, also
  applied to the real pieces), and notes per bar, pitch range and polyphony beside the
  real values. Two random halves of the real pieces give the floor.

`--variants` names the sampling settings to run each model at (`t1.1`: temperature 1.1,
top-k 64, top-p 0.95; `full`: no truncation; `default`: the defaults of the code that
runs; see VARIANTS). All models run in one process from one snapshot of the code.
Generated pieces are kept under `--work-dir` (a folder per model and setting), so an
interrupted run resumes; `wall_s` counts this invocation only, pieces reused included.

    python benchmarks/matched_realism.py --models shipped,runs/v1/model --variants t1.0,t1.1 \
        --pieces 300 --out benchmarks/results/matched_realism.json
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "prompts"))
from _common import SHIPPED, machine, write_json  # noqa: E402
from check_prompts import MAX_BARS, MAX_SECONDS, parsed_attributes  # noqa: E402
from key_panel import score_histogram, verdicts  # noqa: E402

#: sampling settings by name, whole (not changes from the default, which may move):
#: top-k 64 and top-p 0.95 unless "full" (no truncation)
VARIANTS: dict[str, dict] = {
    "default": {},  # whatever SamplingConfig's defaults are at the time of the run
    **{f"t{t}": {"temperature": t, "top_k": 64, "top_p": 0.95} for t in (0.9, 1.0, 1.1, 1.2)},
    "full": {"temperature": 1.0, "top_k": 0, "top_p": 1.0},
    "t1.1_full": {"temperature": 1.1, "top_k": 0, "top_p": 1.0},
}


def first_bars(score, n: int):
    """The score's first n bars (by its own time signatures), the whole score if shorter."""
    from tunesmith.music.metrics import as_tick_score, bar_grid

    score = as_tick_score(score)
    starts, _ = bar_grid(score, score.end())
    return score.clip(0, int(starts[n]), clip_end=True) if len(starts) > n else score


def matched_prompts(corpus: Path, n: int, seed: int = 0) -> list:
    """(EvalPrompt, PieceRecord) pairs: a caption of each of n random test pieces."""
    from tunesmith.data.records import load_records
    from tunesmith.evaluate.prompts import EvalPrompt

    test = [r for r in load_records(corpus) if r.split == "test"]
    rng = np.random.default_rng(seed)
    chosen = [
        test[int(i)] for i in sorted(rng.choice(len(test), size=min(n, len(test)), replace=False))
    ]
    pairs = []
    for rec in chosen:
        fitting = []
        for caption in rec.captions:
            attrs = parsed_attributes(caption)
            if attrs.get("bars", 0) <= MAX_BARS and attrs.get("seconds", 0) <= MAX_SECONDS:
                fitting.append((caption, attrs))
        if not fitting:
            continue
        caption, attrs = fitting[int(rng.integers(len(fitting)))]
        if "bars" not in attrs and "seconds" not in attrs:
            stop = "" if caption.rstrip().endswith((".", "!", "?")) else "."
            caption = f"{caption.rstrip()}{stop} It is {min(max(rec.bars, 4), MAX_BARS)} bars long."
            attrs = parsed_attributes(caption)
        pairs.append((EvalPrompt(rec.id, caption, attrs), rec))
    return pairs


def summary(result: dict) -> dict:
    metrics, ref = result["metrics"], result["reference_metrics"]
    return {
        "frechet_distance": round(result["realism"]["frechet_distance"], 3),
        "frechet_distance_real_vs_real": round(
            result["realism"]["frechet_distance_real_vs_real"], 3
        ),
        "classifier_accuracy": round(result["realism"]["classifier_accuracy"], 3),
        "attribute_accuracy": {
            k: round(v["accuracy"], 3) for k, v in result["attribute_accuracy"].items()
        },
        "generated_vs_real": {
            k: [round(metrics[k]["mean"], 2), round(ref[k]["mean"], 2)]
            for k in ("notes_per_bar", "pitch_range", "polyphony", "H1", "H4", "GS")
        },
    }


def panel_majority(scores_and_keys) -> float:
    """Share of (score, requested key) pairs whose key-profile panel's majority is that key."""
    hits = [verdicts(score_histogram(score), key)["majority_hit"] for score, key in scores_and_keys]
    return round(float(np.mean(hits)), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="data/music21", help="a prepared corpus (its test split)")
    ap.add_argument("--models", default=f"{SHIPPED},runs/v1/model")
    ap.add_argument("--pieces", type=int, default=300, help="test pieces drawn (default 300)")
    ap.add_argument("--seeds", default="1", help="comma-separated seeds per prompt")
    ap.add_argument(
        "--variants", default="default", help=f"sampling settings, of {', '.join(VARIANTS)}"
    )
    ap.add_argument("--work-dir", default="runs/matched_realism")
    ap.add_argument("--out", default="benchmarks/results/matched_realism.json")
    args = ap.parse_args()
    from tunesmith import Composer
    from tunesmith.evaluate.suite import compare, generate_for_prompts, measure
    from tunesmith.music.metrics import load_midi

    t0 = time.perf_counter()
    corpus = Path(args.corpus)
    pairs = matched_prompts(corpus, args.pieces)
    prompts = [p for p, _ in pairs]
    real_scores = [first_bars(load_midi(corpus / r.midi_path), MAX_BARS) for _, r in pairs]
    reference = [
        measure(r.id, score, form=r.form) for (_, r), score in zip(pairs, real_scores, strict=True)
    ]
    seeds = [int(x) for x in args.seeds.split(",")]
    models = args.models.split(",")
    results = {}
    for name in models:
        composer = Composer.load(None if name == SHIPPED else name)
        for variant in args.variants.split(","):
            label = name if variant == "default" else f"{name} {variant}"
            folder = Path(args.work_dir) / label.replace("/", "_").replace(" ", "_")
            generated = generate_for_prompts(
                composer, prompts, seeds, folder, sampling_changes=VARIANTS[variant]
            )
            sampling = composer.sampling_for().with_(**VARIANTS[variant])
            keyed = [
                (load_midi(folder / "midi" / f"{p.id}_s{seed}.mid"), p.attributes["key"])
                for p in prompts
                if p.attributes.get("key")
                for seed in seeds
            ]
            results[label] = {
                "sampling": {k: getattr(sampling, k) for k in ("temperature", "top_k", "top_p")},
                **summary(compare(generated, reference)),
                "key_panel_majority": panel_majority(keyed),
            }
            print(label, results[label], file=sys.stderr)
    sources = Counter(r.source for _, r in pairs)
    write_json(
        args.out,
        {
            "benchmark": "matched_realism",
            "machine": machine(),
            "corpus": str(corpus),
            "pieces": len(pairs),
            "single_line_pieces": sum(r.voices == 1 for _, r in pairs),
            "sources": dict(sources.most_common()),
            # the panel on the real pieces against their own metadata key (what a caption says)
            "real_key_panel_majority": panel_majority(
                (score, p.attributes["key"])
                for (p, _), score in zip(pairs, real_scores, strict=True)
                if p.attributes.get("key")
            ),
            "seeds": args.seeds,
            "variants": {v: VARIANTS[v] for v in args.variants.split(",")},
            "prompts": [
                {"id": p.id, "prompt": p.prompt, "attributes": p.attributes} for p in prompts
            ],
            "results": results,
            "wall_s": round(time.perf_counter() - t0, 1),
        },
        model={m: m for m in models},  # "shipped" names the shipped model there too
    )


if __name__ == "__main__":
    main()

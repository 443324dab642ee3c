"""What tells generated pieces from real ones? The realism classifier, feature by feature.

`tunesmith evaluate`'s real-vs-generated classifier (evaluate/realism.py) reads 11 features
per piece. For each `--models` entry this generates the public prompt set (`--seeds`, the
model's default sampling, as `tunesmith evaluate` does) and reports, against the real test
split:

- per feature: the generated and real means, the standardized mean difference (in real
  standard deviations), the classifier's accuracy on that feature alone, and its accuracy
  on all features but that one;
- notes per bar for the prompts whose form the test split has (>= 5 pieces) and for the
  others (pop, rock, ragtime, ...: forms the corpus lacks), and per such form the
  generated and real notes per bar and pitch range;
- the classifier on the prompts with such a form only, against real pieces of the same
  forms (three per generated piece, drawn with replacement).

    python benchmarks/realism_features.py --models shipped,runs/v1/model --out benchmarks/results/realism_features.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import SHIPPED, machine, write_json  # noqa: E402

MIN_FORM_PIECES = 5


def diagnose(generated, reference) -> dict:
    from tunesmith.evaluate.realism import (
        FEATURES,
        _clean,
        classifier_accuracy,
        frechet_distance,
    )

    g = _clean(np.array([e.features for e in generated]))
    r = _clean(np.array([e.features for e in reference]))
    mu, sd = r.mean(0), r.std(0)
    features = {}
    for i, name in enumerate(FEATURES):
        # The classifier takes FEATURES-wide rows; a column held at 0 carries no signal.
        alone = np.zeros(len(FEATURES), bool)
        alone[i] = True
        features[name] = {
            "generated_mean": round(float(g[:, i].mean()), 3),
            "real_mean": round(float(mu[i]), 3),
            "standardized_difference": round(float((g[:, i].mean() - mu[i]) / sd[i]), 3),
            "classifier_alone": round(classifier_accuracy(g * alone, r * alone), 3),
            "classifier_without": round(classifier_accuracy(g * ~alone, r * ~alone), 3),
        }
    counts = Counter(e.form for e in reference)
    known = [k for k, e in enumerate(generated) if e.form and counts[e.form] >= MIN_FORM_PIECES]
    unknown = sorted(set(range(len(generated))) - set(known))
    npb = FEATURES.index("notes_per_bar")
    by_form = defaultdict(list)
    for k, e in enumerate(reference):
        by_form[e.form].append(k)
    rng = np.random.default_rng(0)
    matched = [int(j) for k in known for j in rng.choice(by_form[generated[k].form], size=3)]
    out = {
        "pieces": len(generated),
        "classifier_accuracy": round(classifier_accuracy(g, r), 3),
        "frechet_distance": round(frechet_distance(g, r), 3),
        "features": features,
        "notes_per_bar": {
            "real": round(float(mu[npb]), 2),
            "prompts_with_a_corpus_form": round(float(g[known, npb].mean()), 2),
            "prompts_without": round(float(g[unknown, npb].mean()), 2) if unknown else None,
            "pieces_with_a_corpus_form": len(known),
        },
    }
    rng_of = FEATURES.index("pitch_range")
    per_form = {}
    for form in sorted({generated[k].form for k in known}):
        ks = [k for k in known if generated[k].form == form]
        real = by_form[form]
        per_form[form] = {
            "generated": len(ks),
            "real": len(real),
            "notes_per_bar": [round(float(g[ks, npb].mean()), 1), round(float(r[real, npb].mean()), 1)],
            "pitch_range": [round(float(g[ks, rng_of].mean()), 1), round(float(r[real, rng_of].mean()), 1)],
        }  # fmt: skip
    out["per_form_generated_vs_real"] = per_form
    if len(known) >= 10:
        out["form_matched"] = {
            "pieces": len(known),
            "real_pieces": len(matched),
            "classifier_accuracy": round(classifier_accuracy(g[known], r[matched]), 3),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="shipped", help="comma-separated; 'shipped' = default")
    ap.add_argument("--prompts", default="prompts/eval.jsonl")
    ap.add_argument("--reference", default="data/music21")
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--out", default="benchmarks/results/realism_features.json")
    args = ap.parse_args()
    from tunesmith import Composer
    from tunesmith.evaluate.prompts import load_prompts
    from tunesmith.evaluate.suite import generate_for_prompts, reference_pieces

    t0 = time.perf_counter()
    prompts = load_prompts(args.prompts)
    reference = reference_pieces(args.reference)
    seeds = [int(s) for s in args.seeds.split(",")]
    models = args.models.split(",")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label in models:
            composer = Composer.load(None if label == SHIPPED else label)
            pieces = generate_for_prompts(composer, prompts, seeds, Path(tmp) / str(len(results)))
            results[label] = diagnose(pieces, reference)
            print(label, results[label]["classifier_accuracy"], file=sys.stderr, flush=True)
    write_json(
        args.out,
        {
            "benchmark": "realism_features",
            "machine": machine(),
            "prompts": len(prompts),
            "seeds": seeds,
            "reference_pieces": len(reference),
            "results": results,
            "wall_s": round(time.perf_counter() - t0, 1),
        },
        model={m: m for m in models},  # "shipped" names the shipped model there too
    )


if __name__ == "__main__":
    main()

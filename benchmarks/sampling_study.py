"""Sampling study: which settings make music closest to real music of the same form?

For each setting (the default and the four presets proposed by the project's design notes,
and a temperature sweep at top-k 64 / top-p 0.95), generate pieces for the same prompts across
forms and compare H1, H4, GS and notes per bar with the test split's reference values of
that form (benchmarks/results/reference_test.json). The score is the mean relative
deviation |generated - real| / real over metrics and forms (lower is better); key accuracy
and the model's mean log-likelihood per token are reported beside it. Also gives the best
temperature per form.

    python benchmarks/sampling_study.py --seeds 4 --bars 16 --out benchmarks/results/sampling.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402

# form -> (prompt instrument, reference form name)
FORMS = {
    "reel": "fiddle",
    "jig": "flute",
    "hornpipe": "fiddle",
    "air": "tin whistle",
    "march": "fiddle",
    "chorale": "choir",
    "folk song": "flute",
}
METRICS = ("H1", "H4", "GS", "notes_per_bar")
SETTINGS = {
    "seed_report_default": {"temperature": 0.95, "top_k": 64, "top_p": 0.95},
    "seed_default_preset": {"temperature": 1.2, "top_k": 5, "repetition_penalty": 1.2},
    "balanced": {"temperature": 1.0, "top_k": 50, "repetition_penalty": 1.2},
    "creative": {"temperature": 1.5, "top_k": 100, "repetition_penalty": 1.1},
    "conservative": {"temperature": 0.8, "top_k": 20, "repetition_penalty": 1.3},
    **{f"T{t}": {"temperature": t, "top_k": 64, "top_p": 0.95} for t in (0.7, 0.85, 1.0, 1.15)},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--seeds", type=int, default=4, help="pieces per form and setting")
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--reference", default="benchmarks/results/reference_test.json")
    ap.add_argument("--out", default="benchmarks/results/sampling.json")
    ap.add_argument("--plot", default="docs/images/sampling_study.png")
    ap.add_argument("--replot", action="store_true", help="only redraw --plot from --out")
    args = ap.parse_args()
    if args.replot:
        plot(json.loads(Path(args.out).read_text()), args.plot)
        return

    import numpy as np

    from tunesmith import Composer
    from tunesmith.generate.sampling import SamplingConfig
    from tunesmith.music.keys import KEYS
    from tunesmith.music.metrics import compute_metrics
    from tunesmith.render.piece import Piece

    reference = json.loads(Path(args.reference).read_text())["forms"]
    composer = Composer.load(args.model)
    rng = random.Random(0)
    prompts = [
        (form, f"a {form} in {rng.choice(KEYS)} for {instrument}", seed)
        for form, instrument in FORMS.items()
        for seed in range(args.seeds)
    ]
    result = {"benchmark": "sampling", "machine": machine(), "bars": args.bars, "settings": {}}
    for name in args.settings.split(","):
        sampling = SamplingConfig(**SETTINGS[name])
        per_form = {form: {m: [] for m in METRICS} for form in FORMS}
        key_hits, loglik = [], []
        for form, prompt, seed in prompts:
            controls = composer.controls_for(prompt, bars=args.bars)
            res = composer.engine.generate(controls, prompt, 1, sampling.with_(seed=seed))[0]
            piece = Piece.from_tokens(composer.tokenizer, res.ids, controls, prompt)
            m = compute_metrics(piece.score)
            for k in METRICS:
                if m.get(k) is not None:
                    per_form[form][k].append(m[k])
            key_hits.append(m.get("key") == controls.key)
            loglik.append(res.logprob / max(1, res.n_sampled))
        deviations = {}
        for form, values in per_form.items():
            ref = reference[form]
            deviations[form] = float(
                np.mean(
                    [
                        abs(np.mean(v) - ref[k]["mean"]) / ref[k]["mean"]
                        for k, v in values.items()
                        if v
                    ]
                )
            )
        result["settings"][name] = {
            "sampling": SETTINGS[name],
            "deviation_from_real": float(np.mean(list(deviations.values()))),
            "deviation_per_form": deviations,
            "means_per_form": {
                f: {k: float(np.mean(v)) for k, v in vals.items() if v}
                for f, vals in per_form.items()
            },
            "key_accuracy": float(np.mean(key_hits)),
            "mean_loglik_per_token": float(np.mean(loglik)),
        }
        print(name, round(result["settings"][name]["deviation_from_real"], 4), flush=True)
    settings = result["settings"]
    result["best_overall"] = min(settings, key=lambda s: settings[s]["deviation_from_real"])
    temps = [s for s in settings if s.startswith("T") or s == "seed_report_default"]
    result["best_temperature_per_form"] = {
        form: SETTINGS[min(temps, key=lambda s: settings[s]["deviation_per_form"][form])][
            "temperature"
        ]
        for form in FORMS
    }
    write_json(args.out, result, model=args.model)
    plot(result, args.plot)


def plot(result: dict, path: str) -> None:
    """Heatmap: settings x forms, relative deviation from real music (lower is closer)."""
    from tunesmith.evaluate.report import plot_heatmap

    settings = result["settings"]
    names = list(settings)
    forms = list(next(iter(settings.values()))["deviation_per_form"])
    matrix = [[settings[n]["deviation_per_form"][f] for f in forms] for n in names]
    plot_heatmap(
        matrix, names, forms, "Sampling: relative deviation from real music (lower = closer)", path
    )


if __name__ == "__main__":
    main()

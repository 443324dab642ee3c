"""Where the decode speed comes from: grammar-forced tokens and speculative drafts.

For three prompts (a solo reel, a four-part chorale, a piano waltz), 512 tokens each over
three seeds with the shipped model: the share of tokens the grammar forces, tokens per
forward pass and tokens/s without drafts, with n-gram drafts only, and with n-gram +
rhythm-skeleton drafts (the default), interleaved in one process.

    python benchmarks/decode_ablation.py --out benchmarks/results/decode_ablation.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402

PROMPTS = [
    "A lively Irish reel in D major for fiddle",
    "a four-part chorale in G major for choir",
    "a slow waltz in A minor for piano",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/decode_ablation.json")
    args = ap.parse_args()

    from tunesmith import Composer
    from tunesmith.conditioning.controls import Controls
    from tunesmith.generate.sampling import SamplingConfig

    composer = Composer.load()
    engine, model = composer.engine, composer.model
    forwards = {"n": 0}
    step = model.step

    def counting_step(*a, **k):
        forwards["n"] += 1
        return step(*a, **k)

    model.step = counting_step
    from tunesmith.generate import engine as engine_module
    from tunesmith.generate.draft import NGramDrafter

    class NGramOnly(NGramDrafter):  # the drafter without its rhythm skeleton
        def __init__(self, **kwargs) -> None:
            kwargs.pop("wildcard", None)
            super().__init__(**kwargs)

    arms = {  # name: (speculative, drafter class)
        "without_drafts": (False, NGramDrafter),
        "ngram_drafts": (True, NGramOnly),
        "ngram_and_skeleton_drafts": (True, NGramDrafter),
    }
    result = {"benchmark": "decode_ablation", "machine": machine(), "prompts": {}}
    for prompt in PROMPTS:
        controls = Controls(**{**composer.controls_for(prompt).to_dict(), "bars": 256})
        engine.generate(controls, prompt, 1, SamplingConfig(seed=0, max_tokens=32))  # warm-up
        row = {}
        totals = {name: [0.0, 0, 0] for name in arms}  # seconds, tokens, forwards
        forced = sampled = 0
        for seed in range(args.seeds):
            for name, (spec, drafter) in arms.items():
                engine_module.NGramDrafter = drafter
                s = SamplingConfig(seed=seed, max_tokens=args.tokens, speculative=spec)
                forwards["n"] = 0
                t0 = time.perf_counter()
                r = engine.generate(controls, prompt, 1, s)[0]
                totals[name][0] += time.perf_counter() - t0
                totals[name][1] += r.n_sampled
                totals[name][2] += forwards["n"]
                if name == "without_drafts":
                    state = engine.grammar.new_state(controls.meter, controls.instruments, 256, 256)
                    for t in r.ids[r.music_start :]:
                        forced += state.forced() is not None
                        sampled += 1
                        state.update(t)
        engine_module.NGramDrafter = NGramDrafter
        for name, (sec, toks, fw) in totals.items():
            row[name] = {"tokens_per_s": toks / sec, "tokens_per_forward": toks / max(1, fw)}
        row["forced_token_share"] = forced / max(1, sampled)
        base = row["without_drafts"]["tokens_per_s"]
        row["speedup_ngram"] = row["ngram_drafts"]["tokens_per_s"] / base
        row["speedup_ngram_and_skeleton"] = row["ngram_and_skeleton_drafts"]["tokens_per_s"] / base
        result["prompts"][prompt] = row
        print(prompt, round(row["speedup_ngram"], 2), round(row["speedup_ngram_and_skeleton"], 2))
    write_json(args.out, result)


if __name__ == "__main__":
    main()

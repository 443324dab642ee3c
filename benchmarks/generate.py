"""Generation speed and memory of the shipped model, beside baselines measured in the same run.

- ours: the product's decode loop (KV cache, grammar constraints, sampling) at batch 1 and 8;
- hf: Hugging Face `GPT2LMHeadModel.generate()` on the same weights (logits checked equal);
  ours and hf alternate over several seeds (--runs, 7 by default) and the medians are
  compared, because a single run on this shared machine varies by +-20 %;
- no-cache: our model recomputing the whole sequence at every step;
- a 30-second clip end to end through `Composer` at batch 1, and its peak RSS in a fresh
  process.

"ours" and the clip run on the backend `Composer.load` picks (--backend auto: ONNX Runtime
where the model folder has an up-to-date model.onnx, as the shipped one does; PyTorch
otherwise); --backend torch measures the PyTorch loop, like for like with a model that has
no ONNX file. The JSON records the backend used.

    python benchmarks/generate.py --out benchmarks/results/generate.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402

PROMPT = "A lively Irish reel in D major for fiddle"
CLIP_CODE = """
import json, resource, time, sys
from tunesmith import Composer
c = Composer.load(sys.argv[1] or None, backend=sys.argv[2])
t0 = time.perf_counter(); c(%r, seconds=30, seed=0); warm = time.perf_counter() - t0
times = []
for seed in (1, 2, 3):
    t0 = time.perf_counter(); piece = c(%r, seconds=30, seed=seed); times.append(time.perf_counter() - t0)
print(json.dumps({"first_s": warm, "clip_s": sorted(times)[1], "clip_s_all": times,
                  "notes": piece.num_notes, "duration_s": piece.duration_s,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def ours(composer, batch: int, new_tokens: int, seed: int = 0) -> float:
    from tunesmith.conditioning.controls import Controls
    from tunesmith.generate.sampling import SamplingConfig

    c = composer.controls_for(PROMPT)
    c = Controls(**{**c.to_dict(), "bars": 256})
    s = SamplingConfig(seed=seed, max_tokens=new_tokens)
    t0 = time.perf_counter()
    res = composer.engine.generate(c, PROMPT, batch, s)
    dt = time.perf_counter() - t0
    return sum(r.n_sampled for r in res) / dt


def hf_generate(composer, hf, batch: int, new_tokens: int, seed: int = 0) -> float:
    import torch

    from tunesmith.model.hf_export import prefix_embeddings

    model = composer.model
    ids = torch.tensor([composer.tokenizer.prefix_ids(composer.controls_for(PROMPT))] * batch)
    text = torch.from_numpy(composer.engine.text_embedding(PROMPT)).expand(batch, -1)
    emb = prefix_embeddings(model, ids, text)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = hf.generate(
            inputs_embeds=emb,
            attention_mask=torch.ones(emb.shape[:2], dtype=torch.long),
            do_sample=True,
            top_k=64,
            top_p=0.95,
            temperature=0.95,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            pad_token_id=composer.tokenizer.pad_id,
        )
    dt = time.perf_counter() - t0
    return out.shape[0] * new_tokens / dt


def no_cache(composer, new_tokens: int) -> float:
    import torch

    model = composer.model
    ids = torch.tensor([composer.tokenizer.prefix_ids(composer.controls_for(PROMPT))])
    text = torch.from_numpy(composer.engine.text_embedding(PROMPT)).view(1, -1)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for _ in range(new_tokens):
            logits = model(ids, text)[:, -1] / 0.95
            nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=g)
            ids = torch.cat([ids, nxt], dim=1)
    return new_tokens / (time.perf_counter() - t0)


def logits_match(composer, hf) -> float:
    import torch

    from tunesmith.model.hf_export import prefix_embeddings

    model = composer.model
    ids = torch.randint(
        0, model.cfg.vocab_size, (2, 64), generator=torch.Generator().manual_seed(0)
    )
    text = torch.randn(2, 384)
    with torch.inference_mode():
        ours_logits = model(ids, text)
        hf_logits = hf(inputs_embeds=prefix_embeddings(model, ids, text)).logits[
            :, model.cfg.n_prefix :
        ]
    return float((ours_logits - hf_logits).abs().max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    ap.add_argument("--tokens", type=int, default=256, help="new tokens per sequence")
    ap.add_argument("--runs", type=int, default=7, help="seeds per batch size (medians reported)")
    ap.add_argument(
        "--backend",
        choices=("auto", "onnx", "torch"),
        default="auto",
        help="the decode backend for ours and the clip (default: what Composer.load picks)",
    )
    ap.add_argument("--out", default="benchmarks/results/generate.json")
    args = ap.parse_args()

    from tunesmith import Composer
    from tunesmith.model.hf_export import to_hf_gpt2

    code = CLIP_CODE % (PROMPT, PROMPT)
    proc = subprocess.run(
        [sys.executable, "-c", code, args.model or "", args.backend],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    clip = json.loads(proc.stdout.strip().splitlines()[-1])

    composer = Composer.load(args.model, backend=args.backend)
    hf = to_hf_gpt2(composer.model)
    diff = logits_match(composer, hf)
    ours(composer, 1, args.tokens)  # warm-up: every cache length once
    hf_generate(composer, hf, 1, args.tokens)
    result = {"benchmark": "generate", "machine": machine(), "new_tokens": args.tokens}
    result["backend"] = type(composer.backend).__name__
    result["logits_max_abs_diff_vs_hf"] = diff
    result["runs"] = args.runs
    for batch in (1, 8):
        o, h = [], []
        for seed in range(args.runs):  # alternating, so both see the same machine load
            o.append(ours(composer, batch, args.tokens, seed))
            h.append(hf_generate(composer, hf, batch, args.tokens, seed))
        result[f"batch{batch}"] = {
            "ours_tokens_per_s": statistics.median(o),
            "hf_generate_tokens_per_s": statistics.median(h),
            "speedup_vs_hf": statistics.median(o) / statistics.median(h),
            "ours_all": [round(x, 1) for x in o],
            "hf_all": [round(x, 1) for x in h],
        }
    nc = no_cache(composer, min(args.tokens, 128))
    result["batch1"]["no_cache_tokens_per_s"] = nc
    result["batch1"]["speedup_vs_no_cache"] = result["batch1"]["ours_tokens_per_s"] / nc
    result["clip_30s_batch1"] = clip
    result["targets"] = {"speedup_vs_hf_batch1": 4.0, "clip_30s_s": 1.5, "peak_rss_mb": 1024}
    write_json(args.out, result, model=args.model)


if __name__ == "__main__":
    main()

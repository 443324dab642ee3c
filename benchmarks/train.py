"""Training throughput (tokens/s with loss) for configs, on synthetic batches of real shape.

Each config is reported beside the first one measured in the same run (by default the
tiny config): machines here are noisy, so the ratios are what compare across runs.

    python benchmarks/train.py --configs tiny small --steps 10 --out benchmarks/results/train.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import NO_MODEL, machine, peak_rss_mb, write_json  # noqa: E402


def measure(config: str, steps: int, device: str) -> dict:
    import torch
    import torch.nn.functional as F

    from tunesmith.model.transformer import ModelConfig, MusicTransformer
    from tunesmith.tokens.tokenizer import MusicTokenizer
    from tunesmith.training.trainer import RunConfig, make_optimizer

    cfg = RunConfig.load(Path("configs") / f"{config}.yaml")
    vocab = MusicTokenizer(cfg.data.get("tokenization", "REMI")).vocab_size
    model = MusicTransformer(ModelConfig.from_dict({**cfg.model, "vocab_size": vocab})).to(device)
    opt = make_optimizer(model, cfg.optim)
    B, T = cfg.optim.batch_size, model.cfg.block_size
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, vocab, (B, T), generator=g).to(device)
    text = torch.randn(B, 384, generator=g).to(device)
    use_bf16 = device == "cuda" and torch.cuda.is_bf16_supported()

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
            logits = model(idx, text)
        loss = F.cross_entropy(logits.float().view(-1, vocab), idx.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(2):  # warm-up
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {
        "config": config,
        "device": device,
        "params_m": model.num_params() / 1e6,
        "batch": B,
        "block": T,
        "tokens_per_s": steps * B * T / dt,
        "s_per_step": dt / steps,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["tiny", "small"])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--out", default="benchmarks/results/train.json")
    args = ap.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    results = [measure(c, args.steps, device) for c in args.configs]
    base = results[0]["tokens_per_s"]
    for r in results:
        r["relative_to_first"] = r["tokens_per_s"] / base
    write_json(
        args.out,
        {
            "benchmark": "train",
            "machine": machine(),
            "results": results,
            "peak_rss_mb": peak_rss_mb(),
        },
        model=NO_MODEL,
    )


if __name__ == "__main__":
    main()

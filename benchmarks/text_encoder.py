"""The text encoder without PyTorch: every ONNX weight-storage variant against the PyTorch
encoder (all-MiniLM-L6-v2 with transformers), on every prompt text in the repository.

Texts: the prompts of prompts/*.jsonl, the string literals of tests/ that read like text
(two words or more), a fixed sample of the synthesised training captions (the caption
cache of the prepared corpus, or freshly made captions when there is none) and two edge
cases (an empty text and one longer than the 128-token limit). Per variant: file size,
load time (median of 3), throughput over all the texts (batches of 128), the latency of one
prompt (median of 20) and the cosine similarity of each embedding to the PyTorch one. The
variant shipped is the smallest whose minimum cosine is at least --min-cosine.

`--model-effect` feeds the shipped music model the ONNX and the PyTorch embeddings of each
prompt of prompts/eval.jsonl over the same 256 tokens of a corpus piece and compares the
next-token distributions (KL divergence, top-1 agreement), beside the same comparison
between two different prompts for scale.

`--cold-start` measures only the first embedding in a fresh process per backend (imports,
load, one prompt; median of --repeats), the cost a cold `tunesmith generate` pays, and
writes that alone:

    python benchmarks/text_encoder.py --cold-start --out benchmarks/results/text_encoder_cold.json

`--all-captions` also encodes every cached caption with the chosen variant and compares
it with the embeddings the cache holds (the PyTorch encoder's, stored as float16).

    python benchmarks/text_encoder.py --out benchmarks/results/text_encoder.json
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import NO_MODEL, REPO, SHIPPED, machine, sha256_file, write_json  # noqa: E402

CAPTION_CACHE = REPO / "data/music21/tokens/REMI-harmony-infill/text"


def _export_module():
    spec = importlib.util.spec_from_file_location(
        "export_text_encoder", REPO / "scripts/export_text_encoder.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prompt_texts() -> dict[str, list[str]]:
    """The texts by source, each list deduplicated and sorted."""
    prompts = set()
    for f in sorted((REPO / "prompts").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                prompts.add(json.loads(line)["prompt"])
    tests = set()
    for f in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                s = node.value.strip()
                if len(s.split()) >= 2 and re.search("[A-Za-z]{2}", s) and len(s) <= 2000:
                    tests.add(s.replace("\n", " "))
    return {
        "prompts": sorted(prompts),
        "tests": sorted(tests - prompts),
        "edge": ["", " ".join(["a lively reel in D major for fiddle"] * 30)],
    }


def cached_captions() -> tuple[list[str], np.ndarray | None]:
    """The caption cache (texts and their float16 PyTorch embeddings), or captions made
    for a few corpus records when no corpus is prepared here (then no embeddings)."""
    texts_file, emb_file = CAPTION_CACHE / "texts.txt", CAPTION_CACHE / "embeddings.npy"
    if texts_file.is_file() and emb_file.is_file():
        texts = texts_file.read_text(encoding="utf-8").split("\n")[:-1]
        emb = np.load(emb_file)
        if len(emb) == len(texts):
            return texts, emb
    from tunesmith.data.captions import make_captions
    from tunesmith.data.records import PieceRecord

    rng = random.Random(0)
    out: list[str] = []
    for i, (form, key, programs) in enumerate(
        [("reel", "D major", [40]), ("jig", "E minor", [73]), ("waltz", "G major", [0]),
         ("chorale", "F major", [52, 52, 52, 52]), ("fugue", "C minor", [0, 0]),
         ("air", "A minor", [71]), ("march", "B- major", [56, 57]), ("hymn", "E- major", [19])]
    ):  # fmt: skip
        record = PieceRecord(
            id=f"r{i}", tune_id=f"r{i}", source="bench", form=form, key=key, meter="4/4",
            tempo=110.0, programs=programs, voices=len(programs), bars=32, duration_s=60.0,
        )  # fmt: skip
        out += make_captions(record, rng, n=20)
    return sorted(set(out)), None


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(make, texts: list[str], one: str) -> tuple[dict, np.ndarray]:
    """Load time, throughput, one-prompt latency and the embeddings of an encoder."""
    load_s = _median_time(make, 3)
    enc = make()
    enc.encode([one])  # warm up
    t = time.perf_counter()
    emb = enc.encode(texts)
    total_s = time.perf_counter() - t
    latency = _median_time(lambda: enc.encode([one]), 20)
    return {
        "load_s": round(load_s, 3),
        "texts_per_s": round(len(texts) / total_s, 1),
        "one_prompt_ms": round(latency * 1000, 2),
    }, emb


def model_effect(onnx_encoder, torch_encoder, tokens_dir: Path, n_tokens: int = 256) -> dict:
    """How much the shipped model's next-token distributions move when the PyTorch text
    embedding of a prompt is replaced by the ONNX one."""
    import torch

    from tunesmith.model.folder import resolve_model_dir
    from tunesmith.model.transformer import MusicTransformer

    model = MusicTransformer.load(resolve_model_dir(None)).eval()
    prompts = [
        json.loads(line)["prompt"]
        for line in (REPO / "prompts/eval.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    tokens = np.load(tokens_dir / "tokens.npy", mmap_mode="r")
    offsets = np.load(tokens_dir / "offsets.npy")
    long_enough = [i for i in range(len(offsets) - 1) if offsets[i + 1] - offsets[i] > n_tokens]
    pieces = random.Random(0).sample(long_enough, len(prompts))
    emb = {
        "onnx": torch.from_numpy(onnx_encoder.encode(prompts)),
        "torch": torch.from_numpy(torch_encoder.encode(prompts)),
    }

    def stats(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float, float]:
        la, lb = a.log_softmax(-1), b.log_softmax(-1)
        kl = (la.exp() * (la - lb)).sum(-1).mean().item()
        top1 = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
        return kl, top1, (a - b).abs().max().item()

    same, other = [], []
    with torch.inference_mode():
        for i, piece in enumerate(pieces):
            start = int(offsets[piece])
            idx = torch.from_numpy(tokens[start : start + n_tokens].astype(np.int64))[None]
            logits = {k: model(idx, text_emb=e[i : i + 1])[0, -n_tokens:] for k, e in emb.items()}
            j = (i + 1) % len(prompts)
            neighbour = model(idx, text_emb=emb["torch"][j : j + 1])[0, -n_tokens:]
            same.append(stats(logits["torch"], logits["onnx"]))
            other.append(stats(logits["torch"], neighbour))

    def summary(rows: list[tuple[float, float, float]]) -> dict:
        a = np.array(rows)
        return {
            "mean_kl": float(a[:, 0].mean()),
            "max_kl": float(a[:, 0].max()),
            "top1_agreement": round(float(a[:, 1].mean()), 4),
            "max_abs_logit_diff": round(float(a[:, 2].max()), 4),
        }

    return {
        "n_prompts": len(prompts),
        "tokens_per_prompt": n_tokens,
        "onnx_vs_torch_same_prompt": summary(same),
        "torch_other_prompt_for_scale": summary(other),
    }


COLD = """
import sys, time
t = time.perf_counter()
from tunesmith.conditioning.text import TextEncoder
TextEncoder(backend=sys.argv[1]).encode(["A lively Irish reel in D major for fiddle"])
print(time.perf_counter() - t)
"""


def cold_start(repeats: int) -> dict:
    """Seconds from a fresh interpreter to the first embedding, per backend (the
    interpreter's own start-up excluded)."""
    import subprocess

    out = {}
    for backend in ("onnx", "torch"):
        times = []
        for _ in range(repeats):
            run = subprocess.run(
                [sys.executable, "-c", COLD, backend], capture_output=True, text=True, check=True
            )
            times.append(float(run.stdout.split()[-1]))
        out[backend] = {"median_s": round(statistics.median(times), 3), "runs_s": times}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--captions", type=int, default=2000, help="cached captions sampled")
    ap.add_argument("--min-cosine", type=float, default=0.999)
    ap.add_argument("--all-captions", action="store_true")
    ap.add_argument("--model-effect", action="store_true")
    ap.add_argument("--cold-start", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="ONNX intra-op threads")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/text_encoder.json")
    args = ap.parse_args()

    from tunesmith.conditioning.text import TextEncoder
    from tunesmith.conditioning.text_onnx import SHIPPED_DIR, OnnxTextEncoder

    if args.cold_start:
        import onnxruntime

        cold = cold_start(args.repeats)
        print(cold)
        payload = {
            "what": "fresh process to the first text embedding (import + load + encode)",
            "machine": {**machine(), "onnxruntime": onnxruntime.__version__},
            "cold_start": cold,
        }
        write_json(args.out, payload, model=NO_MODEL)
        return

    export = _export_module()
    sources = prompt_texts()
    captions, cache_emb = cached_captions()
    sample = sorted(random.Random(0).sample(captions, min(args.captions, len(captions))))
    sources["captions"] = sample
    texts = [t for group in sources.values() for t in group]
    one = "A lively Irish reel in D major for fiddle"
    print(f"{len(texts)} texts: " + ", ".join(f"{k} {len(v)}" for k, v in sources.items()))

    torch_row, ref = measure(lambda: TextEncoder(backend="torch"), texts, one)
    rows: dict[str, dict] = {"torch": {**torch_row, "backend": "torch (transformers)"}}
    print("torch", torch_row, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for variant in export.VARIANTS:
            folder = Path(tmp) / variant
            export.write_folder(variant, folder)
            row, emb = measure(lambda f=folder: OnnxTextEncoder(f, args.threads), texts, one)
            cos = (emb * ref).sum(axis=1)
            by_source, start = {}, 0
            for name, group in sources.items():
                by_source[name] = round(float(cos[start : start + len(group)].min()), 6)
                start += len(group)
            rows[variant] = {
                "backend": "onnx",
                "bytes": (folder / "model.onnx").stat().st_size,
                "mb": round((folder / "model.onnx").stat().st_size / 1e6, 1),
                **row,
                "min_cosine": round(float(cos.min()), 6),
                "mean_cosine": round(float(cos.mean()), 6),
                "min_cosine_by_source": by_source,
                "max_abs_diff": float(np.abs(emb - ref).max()),
                "sha256": sha256_file(folder / "model.onnx"),
            }
            print(variant, rows[variant], flush=True)
        passing = [v for v in export.VARIANTS if rows[v]["min_cosine"] >= args.min_cosine]
        chosen = min(passing, key=lambda v: rows[v]["bytes"])
        full = None
        if args.all_captions and cache_emb is not None:
            enc = OnnxTextEncoder(Path(tmp) / chosen, args.threads)
            t = time.perf_counter()
            emb = enc.encode(captions)
            seconds = time.perf_counter() - t
            ref_all = cache_emb.astype(np.float32)
            ref_all /= np.linalg.norm(ref_all, axis=1, keepdims=True)
            cos = (emb * ref_all).sum(axis=1)
            full = {
                "variant": chosen,
                "n_texts": len(captions),
                "reference": "the caption cache (PyTorch encoder, stored as float16)",
                "min_cosine": round(float(cos.min()), 6),
                "mean_cosine": round(float(cos.mean()), 6),
                "seconds": round(seconds, 1),
            }
            print("all captions", full, flush=True)

    effect = None
    if args.model_effect and (CAPTION_CACHE.parent / "tokens.npy").is_file():
        effect = model_effect(
            OnnxTextEncoder(SHIPPED_DIR, args.threads), TextEncoder(backend="torch"),
            CAPTION_CACHE.parent,
        )  # fmt: skip
        print("model effect", effect, flush=True)

    shipped = SHIPPED_DIR / "model.onnx"
    shipped_sha = sha256_file(shipped) if shipped.is_file() else None
    import onnxruntime

    payload = {
        "what": "all-MiniLM-L6-v2 on ONNX Runtime (weight-storage variants) vs PyTorch",
        "machine": {**machine(), "onnxruntime": onnxruntime.__version__},
        "n_texts": len(texts),
        "n_texts_by_source": {k: len(v) for k, v in sources.items()},
        "min_cosine_required": args.min_cosine,
        "variants": rows,
        "chosen": chosen,
        "shipped_sha256": shipped_sha,
        "shipped_is_chosen": shipped_sha == rows[chosen]["sha256"],
        "all_captions": full,
        "model_effect": effect,
    }
    write_json(args.out, payload, model=SHIPPED if effect else NO_MODEL)


if __name__ == "__main__":
    main()

"""Pack what a GPU-window training run needs into .gpu/ (git-ignored), under the device
tool's 64 MiB limit: the token dataset, with the caption embeddings as int8 plus one scale
per row (cosine to the originals >= 0.9999), and the wheels the training path imports that
the device image lacks (see scripts/gpu_window/run.sh).

    python scripts/gpu_window/pack.py [--tokens data/music21/tokens/REMI-harmony-infill]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", default="data/music21/tokens/REMI-harmony-infill")
    parser.add_argument("--out", default=".gpu/data")
    args = parser.parse_args()
    src, out = Path(args.tokens), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {
        name: np.load(src / f"{name}.npy") for name in ("tokens", "offsets", "bars", "bar_offsets")
    }
    np.savez_compressed(out / "arrays.npz", **arrays)
    emb = np.load(src / "text_emb.npy").astype(np.float32)
    scale = np.abs(emb).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    np.save(out / "text_emb_q.npy", np.round(emb / scale).astype(np.int8))
    np.save(out / "text_emb_scale.npy", scale.astype(np.float32))
    with gzip.open(out / "index.json.gz", "wb") as f:
        f.write((src / "index.json").read_bytes())
    shutil.copy(src / "tokenizer.json", out / "tokenizer.json")
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"packed {total / 2**20:.1f} MiB into {out}")


if __name__ == "__main__":
    main()

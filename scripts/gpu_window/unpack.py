"""Rebuild the token dataset that pack.py packed (on the device machine)."""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

import numpy as np


def main(packed: str, dest: str) -> None:
    src, out = Path(packed), Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    with np.load(src / "arrays.npz") as arrays:
        for name in arrays.files:
            np.save(out / f"{name}.npy", arrays[name])
    emb = np.load(src / "text_emb_q.npy").astype(np.float32) * np.load(src / "text_emb_scale.npy")
    np.save(out / "text_emb.npy", emb.astype(np.float16))
    with gzip.open(src / "index.json.gz", "rb") as f:
        (out / "index.json").write_bytes(f.read())
    shutil.copy(src / "tokenizer.json", out / "tokenizer.json")
    print(f"unpacked {len(emb)} caption rows into {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

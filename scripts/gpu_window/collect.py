"""Bring a window's runs home under the device tool's limits (8 files, 16 MiB each):
each run's best model folder and log as one tar, weights in float16 when `--half` names
the run, split into 15 MiB parts (`cat NAME.tar.part* | tar x` joins them).

    collect.py OUT_DIR RUN_DIR [RUN_DIR ...] [--half RUN_NAME ...]
"""

from __future__ import annotations

import argparse
import io
import tarfile
from pathlib import Path

PART = 15 * 2**20


def _half(path: Path) -> bytes:
    from safetensors.torch import load_file, save

    tensors = load_file(str(path))
    return save({k: v.half() if v.is_floating_point() else v for k, v in tensors.items()})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--half", nargs="*", default=[])
    args = parser.parse_args()
    out = Path(args.out)
    for run in map(Path, args.runs):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name in ("log.jsonl", "run_config.json"):
                if (run / name).is_file():
                    tar.add(run / name, arcname=f"{run.name}/{name}")
            for f in sorted((run / "model").glob("*")):
                arc = f"{run.name}/model/{f.name}"
                if f.suffix == ".safetensors" and run.name in args.half:
                    data = _half(f)
                    info = tarfile.TarInfo(arc)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                else:
                    tar.add(f, arcname=arc)
        data = buf.getvalue()
        for i in range(0, len(data), PART):
            (out / f"{run.name}.tar.part{i // PART:02d}").write_bytes(data[i : i + PART])
        print(f"{run.name}: {len(data) / 2**20:.1f} MiB in {-(-len(data) // PART)} parts")


if __name__ == "__main__":
    main()

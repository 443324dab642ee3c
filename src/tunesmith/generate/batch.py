"""Batch generation: `tunesmith generate --config configs/generate.yaml --num-clips 64 --out-dir D`.

The YAML lists prompts (with optional attributes and sampling settings); clips cycle
through them with seeds `seed + i`. Each clip is written atomically as it finishes, and a
rerun skips clips whose files already exist, so an interrupted batch resumes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..conditioning.limits import ATTRIBUTES, NUM_CLIPS, SAMPLING_OPTIONS
from ..errors import BadInputError
from ..fileio import atomic_write_text, read_yaml_mapping

if TYPE_CHECKING:
    from ..render.audio import AudioOptions

# What a batch config may set for every clip (the seed is the batch's: seed + i).
SAMPLING = tuple(o for o in SAMPLING_OPTIONS if o != "seed")


def load_batch_config(path: str | Path) -> dict:
    cfg = read_yaml_mapping(path, "batch config")
    prompts = cfg.get("prompts")
    if not isinstance(prompts, list) or not prompts:
        raise BadInputError(f"batch config {str(path)!r} needs a non-empty 'prompts' list")
    cfg["prompts"] = [p if isinstance(p, dict) else {"prompt": str(p)} for p in prompts]
    return cfg


def run_batch(
    composer,
    config: str | Path,
    out_dir: str | Path,
    num_clips: int | None,
    sampling: dict,
    attributes: dict,
    progress: Callable[..., None] | None = None,
    audio: AudioOptions | None = None,
) -> list[Path]:
    """Generate the clips; returns their paths (existing ones included). `audio`: the
    soundfont, reverb and loudness of audio clips (`format: wav`, flac, ogg or mp3)."""
    cfg = load_batch_config(config)
    n = num_clips or int(cfg.get("num_clips", len(cfg["prompts"])))
    NUM_CLIPS.check(n, field="num_clips")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BadInputError(f"the output folder {str(out)!r} is a file", field="out_dir")
    out.mkdir(parents=True, exist_ok=True)
    fmt = str(cfg.get("format", "mid")).lstrip(".")
    base_seed = int(sampling.get("seed") or cfg.get("seed", 0))
    defaults = {k: cfg[k] for k in (*ATTRIBUTES, *SAMPLING) if k in cfg}
    written: list[Path] = []
    manifest = []
    for i in range(n):
        entry = cfg["prompts"][i % len(cfg["prompts"])]
        path = out / f"clip_{i:05d}.{fmt}"
        options = {**defaults, **{k: v for k, v in entry.items() if k != "prompt"}}
        options.update({k: v for k, v in {**attributes, **sampling}.items() if v is not None})
        options["seed"] = base_seed + i
        manifest.append({"file": path.name, "prompt": entry.get("prompt", ""), **options})
        if not path.exists():
            piece = composer.generate(entry.get("prompt", ""), **options)
            piece.save(path, audio=audio)
        written.append(path)
        if progress:
            progress(i + 1, n, path.name)
    atomic_write_text(out / "manifest.jsonl", "".join(json.dumps(m) + "\n" for m in manifest))
    return written

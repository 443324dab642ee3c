"""A music transformer's sizes and conditioning (config.json's "model"), without PyTorch."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..conditioning.text import TEXT_DIM
from ..errors import BadInputError, CheckpointError

# Far beyond any model this project trains or loads (the shipped one: 6 layers, 256 wide).
SIZE_BOUNDS = {
    "vocab_size": 1_000_000,
    "n_layer": 256,
    "n_head": 256,
    "d_model": 16_384,
    "block_size": 1_048_576,
    "n_prefix": 256,
    "text_dim": 16_384,
}


@dataclass
class ModelConfig:
    vocab_size: int
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 256
    block_size: int = 512  # most token positions (text prefix excluded)
    n_prefix: int = 4  # K text vectors
    text_dim: int = TEXT_DIM
    conditioning: str = "prefix"  # "prefix" or "cross"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        # Checked before anything is allocated: a config.json may come from anywhere, and
        # n_layer 1e9 would otherwise grow memory until the process is killed.
        for name, high in SIZE_BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadInputError(f"model {name} must be a whole number, not {value!r}")
            if not 0 < value <= high:
                raise BadInputError(f"model {name} must be between 1 and {high:,}, not {value:,}")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise BadInputError("model dropout must be in [0, 1)")
        if self.d_model % self.n_head:
            raise BadInputError("model d_model must be divisible by n_head")
        if self.conditioning not in ("prefix", "cross"):
            raise BadInputError("model conditioning must be 'prefix' or 'cross'")

    @property
    def prefix_len(self) -> int:
        """Positions taken by the text prefix in the decoder's own sequence."""
        return self.n_prefix if self.conditioning == "prefix" else 0

    @property
    def max_positions(self) -> int:
        return self.block_size + self.prefix_len

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise BadInputError(f"unknown model config keys: {', '.join(sorted(unknown))}")
        if "vocab_size" not in d:
            raise BadInputError("model config lacks 'vocab_size'")
        return cls(**d)


def check_model_folder(folder: str | Path) -> ModelConfig:
    """The folder's config, when it and the weights' shapes agree; nothing is loaded
    (safetensors headers only). A server checks its model this way before it starts."""
    from safetensors import SafetensorError, safe_open

    folder = Path(folder)
    try:
        cfg = ModelConfig.from_dict(
            json.loads((folder / "config.json").read_text(encoding="utf-8"))["model"]
        )
        with safe_open(str(folder / "model.safetensors"), framework="numpy") as f:
            shapes = {k: _Shape(f.get_slice(k).get_shape()) for k in f.keys()}
    except (json.JSONDecodeError, KeyError, SafetensorError, OSError, BadInputError) as e:
        raise CheckpointError(f"checkpoint {str(folder)!r} is corrupt: {e}") from None
    check_shapes(folder, cfg, shapes)
    return cfg


class _Shape:
    """Stands in for a tensor where only its shape is known (a safetensors header)."""

    def __init__(self, shape: list[int]) -> None:
        self.shape = tuple(shape)


def check_shapes(folder: Path, cfg: ModelConfig, state: Mapping[str, Any]) -> None:
    """The weights agree with the config's sizes (layers, width, vocabulary, positions)."""
    where = f"checkpoint {str(folder)!r}"
    layers = {k.split(".")[1] for k in state if k.startswith("blocks.")}
    if len(layers) != cfg.n_layer:
        raise CheckpointError(
            f"{where}: config says {cfg.n_layer} layers, weights hold {len(layers)}"
        )
    expected = {
        "tok_emb.weight": (cfg.vocab_size, cfg.d_model),
        "pos_emb.weight": (cfg.max_positions, cfg.d_model),
    }
    for name, shape in expected.items():
        got = tuple(state[name].shape) if name in state else None
        if got != shape:
            raise CheckpointError(f"{where}: {name} is {got}, the config implies {shape}")

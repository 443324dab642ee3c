"""A music transformer's sizes and conditioning (config.json's "model"), without PyTorch."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..conditioning.text import TEXT_DIM
from ..errors import BadInputError

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

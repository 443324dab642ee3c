"""Where a model lives: the shipped default, a model folder, or a training run's model/."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import CheckpointError


def default_model_path() -> Path:
    """The model shipped inside the package (tunesmith/checkpoints/default)."""
    return Path(str(resources.files("tunesmith") / "checkpoints" / "default"))


def resolve_model_dir(path: str | Path | None) -> Path:
    """A folder holding model.safetensors: the path itself, its model/ (a run), or the default."""
    if path is None:
        path = default_model_path()
        if not (path / "model.safetensors").is_file():
            raise CheckpointError(
                "no default model is installed; train one ('tunesmith train') and give the "
                "model folder"
            )
        return path
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"model path {str(path)!r} does not exist")
    if (path / "model.safetensors").is_file():
        return path
    if (path / "model" / "model.safetensors").is_file():
        return path / "model"
    raise CheckpointError(f"{str(path)!r} holds no tunesmith model (model.safetensors)")

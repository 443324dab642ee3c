"""Where a model lives: the shipped default, a model folder, a training run's model/, or a
user model by name (a fine-tuned style in the per-user data folder).

User models live in `<data folder>/models/<name>/`; the data folder is the platform's
per-user data directory (platformdirs: ~/.local/share/tunesmith on Linux) or, when set, the
TUNESMITH_HOME environment variable (tests point it at a temporary folder). A model folder's
config.json may carry, beside the architecture, `styles` (prompt words the model learned,
each mapped to the style control it was trained with) and `finetune` (how it was made).
"""

from __future__ import annotations

import json
import logging
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from ..conditioning.controls import STYLES
from ..errors import BadInputError, CheckpointError

log = logging.getLogger(__name__)

HOME_ENV = "TUNESMITH_HOME"
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
WEIGHTS = "model.safetensors"


def default_model_path() -> Path:
    """The model shipped inside the package (tunesmith/checkpoints/default)."""
    return Path(str(resources.files("tunesmith") / "checkpoints" / "default"))


def user_home() -> Path:
    """The per-user data folder: $TUNESMITH_HOME, else the platform's user data directory."""
    home = os.environ.get(HOME_ENV, "").strip()
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("tunesmith", appauthor=False))


def user_models_dir() -> Path:
    """Where user models (fine-tuned styles) are kept: one folder per name."""
    return user_home() / "models"


def check_model_name(name: str) -> str:
    """A user model's name, checked: letters, digits, '.', '_' and '-', no path separators."""
    text = str(name).strip()
    if not text:
        raise BadInputError("a model name cannot be empty", field="name")
    if "/" in text or "\\" in text or os.sep in text:
        raise BadInputError(
            f"model name {text!r} contains a path separator; give a plain name such as "
            "'my-style' (user models are kept in the per-user data folder)",
            field="name",
        )
    if not MODEL_NAME.fullmatch(text) or set(text) <= {"."}:
        raise BadInputError(
            f"model name {text!r} is not usable: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field="name",
        )
    return text


def user_model_path(name: str) -> Path:
    """The folder of the user model `name` (it may not exist yet)."""
    return user_models_dir() / check_model_name(name)


def _bare_name(path: Path) -> str | None:
    """The text of `path` when it could name a user model (one plain part), else None."""
    text = str(path)
    if len(path.parts) != 1 or not MODEL_NAME.fullmatch(text) or set(text) <= {"."}:
        return None
    return text


def resolve_model_dir(path: str | Path | None) -> Path:
    """A folder holding model.safetensors: the path itself, its model/ (a run), a user model
    of that name (a plain name such as 'my-style'), or (None) the shipped default."""
    if path is None:
        path = default_model_path()
        if not (path / WEIGHTS).is_file():
            raise CheckpointError(
                "no default model is installed; train one ('tunesmith train') and give the "
                "model folder"
            )
        return path
    path = Path(path)
    if (path / WEIGHTS).is_file():
        return path
    if (path / "model" / WEIGHTS).is_file():
        return path / "model"
    name = _bare_name(path)
    if name is not None and (user_models_dir() / name / WEIGHTS).is_file():
        return user_models_dir() / name
    if not path.exists():
        if name is not None:
            raise CheckpointError(
                f"model path {str(path)!r} does not exist, and no user model has that name "
                "('tunesmith models' lists them)"
            )
        raise CheckpointError(f"model path {str(path)!r} does not exist")
    raise CheckpointError(f"{str(path)!r} holds no tunesmith model (model.safetensors)")


# -- what a model folder says about itself -----------------------------------------------------
def model_metadata(folder: str | Path) -> dict[str, Any]:
    """config.json of a model folder without its architecture section ({} if unreadable)."""
    try:
        raw = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if k != "model"}


def model_styles(folder: str | Path) -> dict[str, str]:
    """The prompt words a model learned (a fine-tuned style's name) and the style control each
    stands for; entries that are not a word and a known style are ignored (with a warning)."""
    styles = model_metadata(folder).get("styles") or {}
    if not isinstance(styles, dict):
        log.warning("%s: 'styles' in config.json is not a mapping; ignored", folder)
        return {}
    good: dict[str, str] = {}
    for word, style in styles.items():
        if isinstance(word, str) and word.strip() and style in STYLES:
            good[" ".join(word.lower().split())] = str(style)
        else:
            log.warning("%s: style word %r -> %r ignored", folder, word, style)
    return good


def folder_size(folder: Path) -> int:
    """Bytes of the files in a folder (recursive)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def parameter_count(folder: Path) -> int | None:
    """Parameters of the model in `folder`, read from the safetensors header (None: unreadable)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(folder / WEIGHTS), framework="pt") as f:
            total = 0
            for key in f.keys():
                n = 1
                for dim in f.get_slice(key).get_shape():
                    n *= int(dim)
                total += n
            return total
    except (SafetensorError, OSError):
        return None


def _adapter_kind(adapter: Any) -> str:
    """ "full" or "lora" from what a fine-tune recorded (a dict for adapters; older: none)."""
    if isinstance(adapter, dict):
        return str(adapter.get("kind", "lora"))
    return str(adapter or "full")


def list_user_models() -> list[dict[str, Any]]:
    """Every user model: name, folder, style words, parameters, bytes on disk, and what the
    fine-tune recorded (base model, validation loss before and after, minutes, complete)."""
    root = user_models_dir()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.name.startswith(".") or not (folder / WEIGHTS).is_file():
            continue
        meta = model_metadata(folder)
        made: dict[str, Any] = meta["finetune"] if isinstance(meta.get("finetune"), dict) else {}
        found.append(
            {
                "name": folder.name,
                "path": str(folder),
                "styles": model_styles(folder),
                "parameters": parameter_count(folder),
                "bytes": folder_size(folder),
                "base": made.get("base"),
                "val_loss_before": made.get("val_loss_before"),
                "val_loss_after": made.get("val_loss_after"),
                "minutes": made.get("train_minutes"),
                "pieces": made.get("pieces"),
                "adapter": _adapter_kind(made.get("adapter")) if made else None,
                "complete": made.get("complete", True),
            }
        )
    return found

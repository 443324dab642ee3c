"""tunesmith: text (and optional attributes or a MIDI to continue) in, music out.

from tunesmith import Composer
piece = Composer.load()("a lively reel in D major for fiddle", bars=16)
piece.save("reel.mid")
piece.save("reel.flac", audio=AudioOptions(soundfont="FluidR3_GM.sf2", reverb=0.3))
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["AudioOptions", "Composer", "Controls", "Piece", "SamplingConfig", "load"]


def __getattr__(name: str):
    # Lazy imports keep `import tunesmith` (and the CLI's --help) fast: torch loads on use.
    if name in ("Composer", "load"):
        from . import api

        return getattr(api, name)
    if name == "Controls":
        from .conditioning.controls import Controls

        return Controls
    if name == "Piece":
        from .render.piece import Piece

        return Piece
    if name == "AudioOptions":
        from .render.audio import AudioOptions

        return AudioOptions
    if name == "SamplingConfig":
        from .generate.sampling import SamplingConfig

        return SamplingConfig
    raise AttributeError(f"module 'tunesmith' has no attribute {name!r}")

"""tunesmith: text (and optional attributes or a MIDI to continue) in, music out."""

from __future__ import annotations

__version__ = "0.1.0"

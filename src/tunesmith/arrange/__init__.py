"""Arrangements: a band around the model's melody, from a groove library written as data.

The model writes the melody (and any counter-melody); drums, bass, comping and pads come
from the style files in `grooves/` (one YAML per style, written by hand, not learned),
laid on the piece's chords. See docs/ARRANGE.md.
"""

from __future__ import annotations

from .arranger import arrange, instrument_range
from .library import Style, load_library, load_style, nearest_styles, style_names
from .plan import ArrangementPlan, RolePart, plan_for

__all__ = [
    "ArrangementPlan",
    "RolePart",
    "Style",
    "arrange",
    "instrument_range",
    "load_library",
    "load_style",
    "nearest_styles",
    "plan_for",
    "style_names",
]

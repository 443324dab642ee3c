"""Corpus sources that `tunesmith prepare` turns into prepared corpora (MIDI + records).

One subpackage per source; each exports its `prepare_*` entry point. MIDI folders of the
user's own files are `data.midi_folder`.
"""

from .music21 import prepare_music21

__all__ = ["prepare_music21"]

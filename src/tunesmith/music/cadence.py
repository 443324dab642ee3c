"""Does a piece close on its tonic? The last sounding chord, read against the key.

Real pieces mostly end on the tonic, and the shipped model, stopped after the requested
bars, lands there far less often (benchmarks/form.py measures both), so long-form
generation scores its last chunk's candidates with this (generate/longform.py).
"""

from __future__ import annotations

import symusic

from .keys import key_pitch_class


def final_chord(score: symusic.Score) -> list[int]:
    """Pitches sounding at the last onset (drums excluded), lowest first; [] when silent."""
    notes = [n for t in score.tracks if not t.is_drum for n in t.notes]
    if not notes:
        return []
    last = max(n.time for n in notes)
    return sorted(n.pitch for n in notes if n.time == last)


def ends_on_tonic(score: symusic.Score, key: str) -> bool | None:
    """Is the lowest note of the last onset the key's tonic? None for a silent score."""
    chord = final_chord(score)
    return chord[0] % 12 == key_pitch_class(key)[0] if chord else None


def cadence_fit(score: symusic.Score, key: str) -> float:
    """In [0, 1]: half for the tonic in the bass of the last onset, half for the share of
    its notes that belong to the tonic triad."""
    chord = final_chord(score)
    if not chord:
        return 0.0
    tonic, mode = key_pitch_class(key)
    triad = {tonic, (tonic + (4 if mode == "major" else 3)) % 12, (tonic + 7) % 12}
    in_triad = sum(1 for p in chord if p % 12 in triad) / len(chord)
    return 0.5 * (chord[0] % 12 == tonic) + 0.5 * in_triad

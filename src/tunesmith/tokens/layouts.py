"""Model v2's sequence layouts: a chord token per bar, and the two infill layouts.

Harmony: `Bar TimeSig Harmony_<root>:<quality> Position ...` - each bar states its chord
before its notes (`Harmony_none` where no chord is claimed), so the model plans the bar's
harmony first and a requested progression can be written into the sequence itself.

Bar infill (fill-in-the-middle, as MIDI-GPT's MMM and code models do it in a decoder):

    BOS controls  Infill_before <bars before>  Infill_after <bars after>  Infill_begin
    <the missing bars> EOS                                                  (order "psm")

    BOS controls  Infill_after <bars after>  Infill_before <bars before>  Infill_begin
    <the missing bars> EOS                                                  (order "spm")

The tokenizer's `infill_order` says which; "spm" puts the missing bars right after the
bars they continue, as plain generation does (docs/HARMONY.md has the study).

Part infill (the given parts first, so every bar of them is in view before the model
writes the texture around them - an anticipation of the whole span, not only of the
current position):

    BOS controls  Infill_part <the given parts' notes, bar by bar>  Infill_begin
    <all parts, the given ones again exactly> EOS

The marker tokens are given, never predicted (training gives them no loss).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..music.chords import Chord
from .tokenizer import HARMONY_NONE, MusicTokenizer


def harmony_id(tok: MusicTokenizer, chord: Chord | None) -> int:
    """The Harmony token of a chord (its root and quality; the bass is not written)."""
    if chord is None:
        return tok.token_id(HARMONY_NONE)
    return tok.token_id(f"Harmony_{chord.root}:{chord.quality}")


def harmony_chord(tok: MusicTokenizer, token_id: int) -> Chord | None:
    """The chord a Harmony token names (None for Harmony_none)."""
    name = tok.token(token_id)
    if not name.startswith("Harmony_"):
        raise ValueError(f"{name!r} is not a Harmony token")
    value = name[len("Harmony_") :]
    if value == "none":
        return None
    root, quality = value.split(":")
    return Chord(int(root), quality)


def insert_harmony(
    tok: MusicTokenizer, ids: np.ndarray, chords: Sequence[Chord | None]
) -> np.ndarray:
    """`ids` (REMI music) with bar i's Harmony token after its TimeSig (chords[i], or
    Harmony_none past the end of `chords`)."""
    timesig = set(tok.ids_with_prefix("TimeSig_"))
    out: list[int] = []
    bar = -1
    after_bar = False
    for t in ids.tolist():
        out.append(t)
        if t == tok.bar_id:
            bar += 1
            after_bar = True
        elif after_bar and t in timesig:
            out.append(harmony_id(tok, chords[bar] if bar < len(chords) else None))
            after_bar = False
        else:
            after_bar = False
    return np.asarray(out, dtype=ids.dtype)


def split_bars(ids: Iterable[int], bar_id: int) -> list[list[int]]:
    """Music ids cut at each Bar token (anything before the first bar is dropped)."""
    bars: list[list[int]] = []
    for t in ids:
        if t == bar_id:
            bars.append([])
        if bars:
            bars[-1].append(int(t))
    return bars


def strip_extensions(tok: MusicTokenizer, ids: Iterable[int]) -> list[int]:
    """The sequence without Harmony and infill tokens (what a v1 model reads)."""
    first = tok.music_vocab_size + len(tok.control_names)
    return [int(t) for t in ids if int(t) < first]


def part_notes(tok: MusicTokenizer, ids: Sequence[int], slots: Iterable[int]) -> list[int]:
    """The notes of voice slots `slots` in REMI music, with every Bar and TimeSig kept (so
    bars can be counted) and a Position only where one of those notes starts; Harmony
    tokens are left out (the given parts say nothing about the chords)."""
    keep = set(slots)
    out: list[int] = []
    position: int | None = None
    writing = False
    for t in ids:
        name = tok.token(t)
        kind = name.split("_", 1)[0]
        if kind in ("Bar", "TimeSig"):
            out.append(t)
            position, writing = None, False
        elif kind == "Position":
            position, writing = t, False
        elif kind == "Program":
            writing = int(name.split("_", 1)[1]) in keep
            if writing:
                if position is not None:
                    out.append(position)
                    position = None
                out.append(t)
        elif kind in ("Pitch", "PitchDrum", "Duration", "Velocity") and writing:
            out.append(t)
    return out


def bar_infill_context(
    tok: MusicTokenizer, before: Sequence[int], after: Sequence[int]
) -> list[int]:
    """What follows the controls in a bar-infill sequence, up to the missing bars."""
    before_part = [tok.token_id("Infill_before"), *before]
    after_part = [tok.token_id("Infill_after"), *after]
    if tok.infill_order == "spm":
        return [*after_part, *before_part, tok.token_id("Infill_begin")]
    return [*before_part, *after_part, tok.token_id("Infill_begin")]


def part_context(tok: MusicTokenizer, given: Sequence[int]) -> list[int]:
    """What follows the controls in a part-infill sequence, up to the full texture."""
    return [tok.token_id("Infill_part"), *given, tok.token_id("Infill_begin")]


def infill_marker_ids(tok: MusicTokenizer) -> list[int]:
    return tok.ids_with_prefix("Infill_") if tok.has_infill else []

"""Training batches: crops of pieces with their controls, captions and augmentation.

Each example is  BOS controls... music-crop [EOS]  padded to the block size, with the
caption embedding of the (possibly transposed) piece. Crops begin at a barline; the Bars
control then says how many bars remain, so "16 bars" at generation time means "16 bars
to go" exactly as in training. Conditions are dropped independently (text and each
control), which makes the model usable with any subset of them and enables
classifier-free guidance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..conditioning.controls import MAX_BARS, MAX_TEMPO, MIN_TEMPO, Controls
from ..music.keys import transpose_key
from ..tokens.layouts import bar_infill_context, infill_marker_ids, part_context, part_notes
from .dataset import TokenDataset, transpose_table
from .sections import context_first_bar, phrase_length, section_of_bar

IGNORE = -100


@dataclass
class AugmentConfig:
    transpose: bool = True
    tempo_jitter: float = 0.08  # relative: tempo * U(1 - j, 1 + j)
    p_drop_text: float = 0.2
    p_drop_control: float = 0.2  # each control independently
    p_drop_all: float = 0.1  # every condition at once: the unconditional model
    p_start_at_beginning: float = 0.35
    # Pieces with a repeat structure (sections.py): how often a crop is the opening phrase
    # then a later section, labelled with its section (A / B) instead of start/middle/end.
    p_form_section: float = 0.5
    # How often a crop plays the opening phrase twice, as a repeat sign does (|: A :|),
    # labelled Section_A. The corpus keeps tunes as notated, repeats unexpanded, so
    # without this a literal return of the theme is rare in training.
    p_repeat_phrase: float = 0.0
    # Model v2 (a tokenizer with infill tokens; tokens/layouts.py): how often a crop is a
    # bar-infill example (1..max_hole_bars bars to write, with bars before and after in
    # view) or a part-infill example (some voices given first, then the whole texture).
    p_infill_bars: float = 0.0
    p_infill_part: float = 0.0
    max_hole_bars: int = 4
    p_melody_given: float = 0.5  # in a part-infill example: the top voice alone is given


class BatchSampler:
    """Draws random training examples (or the fixed validation examples) from a split."""

    def __init__(
        self,
        ds: TokenDataset,
        split: str,
        block_size: int,
        augment: AugmentConfig | None = None,
        seed: int = 0,
    ) -> None:
        self.ds = ds
        self.tok = ds.tokenizer
        self.indexes = ds.split_indexes(split)
        if len(self.indexes) == 0:
            raise ValueError(f"the {split!r} split is empty")
        self.block_size = block_size
        self.augment = augment
        self.rng = np.random.default_rng(seed)
        lengths = np.array(
            [ds.offsets[i + 1] - ds.offsets[i] for i in self.indexes], dtype=np.float64
        )
        # Longer pieces are drawn more often, but sub-linearly, so short tunes still count.
        self.weights = np.sqrt(lengths) / np.sqrt(lengths).sum()
        self._transpose: dict[int, np.ndarray] = {}
        self._control_ids = set(range(self.tok.music_vocab_size, self.tok.vocab_size))
        self._sections: dict[int, dict[int, str]] = {}  # piece -> {bar: "A" | "B"}
        self._markers = np.asarray(infill_marker_ids(self.tok), dtype=np.int64)
        # Pieces with two or more parts: where part-infill examples come from.
        poly = [len(ds.pieces[i]["controls"].get("instruments") or []) >= 2 for i in self.indexes]
        self._poly = self.indexes[np.asarray(poly, dtype=bool)]
        self._poly_weights = self.weights[np.asarray(poly, dtype=bool)]
        if len(self._poly):
            self._poly_weights = self._poly_weights / self._poly_weights.sum()
        self._program_slot = {
            i: int(self.tok.token(i).split("_")[1]) for i in self.tok.ids_with_prefix("Program_")
        }

    def sections(self, piece: int) -> dict[int, str]:
        if piece not in self._sections:
            self._sections[piece] = section_of_bar(
                self.tok, self.ds.piece_ids(piece), self.ds.piece_bars(piece)
            )
        return self._sections[piece]

    def _theme(self, ids: np.ndarray, bars: np.ndarray, n_bars: int) -> np.ndarray:
        """The piece's first `n_bars` bars, or their last whole bars within half a block."""
        first = context_first_bar(bars, n_bars, self.block_size // 2)
        return ids[bars[first] : bars[n_bars]].astype(np.int64)

    def _table(self, k: int) -> np.ndarray:
        if k not in self._transpose:
            self._transpose[k] = transpose_table(self.tok, k)
        return self._transpose[k]

    # -- infill examples (model v2) -----------------------------------------------------------
    def _transposition(self, info: dict, rng: np.random.Generator, aug: AugmentConfig) -> int:
        rows = info["caption_rows"]
        if aug.transpose and len(rows) > 1:
            return int(rng.choice([int(x) for x in rows]))
        return 0

    def _conditions(self, info: dict, k: int, bars: int, rng: np.random.Generator, aug):
        """(prefix ids, caption row, text kept?) for an infill example of `bars` bars."""
        c = info["controls"]
        controls = Controls(
            style=c.get("style"),
            key=transpose_key(c["key"], k) if c.get("key") else None,
            meter=c.get("meter"),
            tempo=c.get("tempo"),
            bars=max(1, min(MAX_BARS, bars)),
            instruments=c.get("instruments") or None,
        )
        keep_text = True
        if aug is not None:
            for name in ("style", "key", "meter", "tempo", "bars", "instruments"):
                if rng.random() < aug.p_drop_control:
                    setattr(controls, name, None)
            keep_text = rng.random() >= aug.p_drop_text
        caption_rows = info["caption_rows"][str(k)]
        row = int(caption_rows[int(rng.integers(0, len(caption_rows)))]) if caption_rows else -1
        return self.tok.prefix_ids(controls), row, keep_text and row >= 0

    def infill_example(self, piece: int, kind: str, rng: np.random.Generator, aug=None):
        """A bar-infill (`kind="bars"`) or part-infill (`"part"`) example of a piece, or None
        when the piece cannot make one (too short, one voice, a hole too long)."""
        info = self.ds.pieces[piece]
        ids = self.ds.piece_ids(piece).astype(np.int64)
        bars = self.ds.piece_bars(piece)
        n_bars = len(bars)
        if n_bars < 2:
            return None
        k = self._transposition(info, rng, aug) if aug is not None else 0
        if k:
            ids = self._table(k)[ids]
        bounds = [*bars.tolist(), len(ids)]
        if kind == "bars":
            hole = int(rng.integers(1, min(aug.max_hole_bars if aug else 4, n_bars - 1) + 1))
            i = int(rng.integers(0, n_bars - hole + 1))
            j = i + hole
            prefix, row, keep = self._conditions(info, k, hole, rng, aug)
            middle = ids[bounds[i] : bounds[j]]
            room = self.block_size + 1 - len(prefix) - 3 - len(middle) - 1
            if room < 0:
                return None
            # Bars before the hole get up to 60 % of the room, whole bars nearest the hole.
            a = i
            while a > 0 and bounds[i] - bounds[a - 1] <= 0.6 * room:
                a -= 1
            before = ids[bounds[a] : bounds[i]]
            room -= len(before)
            b = j
            while b < n_bars and bounds[b + 1] - bounds[j] <= room:
                b += 1
            after = ids[bounds[j] : bounds[b]]
            body = bar_infill_context(self.tok, before.tolist(), after.tolist())
            seq = prefix + body + middle.tolist() + [self.tok.eos_id]
            return seq, len(prefix), row, keep
        slots = sorted({self._program_slot[t] for t in ids.tolist() if t in self._program_slot})
        pitched = [s for s in slots if s >= 0]
        if len(slots) < 2 or not pitched:
            return None
        if rng.random() < (aug.p_melody_given if aug else 1.0):
            given = [pitched[0]]
        else:
            n_given = int(rng.integers(1, len(slots)))
            given = sorted(rng.choice(slots, size=n_given, replace=False).tolist())
        start = 0 if rng.random() < 0.35 else int(rng.integers(0, n_bars))
        prefix, row, keep = self._conditions(info, k, n_bars - start, rng, aug)
        # Both the given notes and the texture cover bars start..end, as many as fit.
        room = self.block_size + 1 - len(prefix) - 2
        end, used, given_ids = start, 0, []
        while end < n_bars:
            bar = ids[bounds[end] : bounds[end + 1]]
            notes = part_notes(self.tok, bar.tolist(), given)
            if used + len(bar) + len(notes) > room and end > start:
                break
            given_ids += notes
            used += len(bar) + len(notes)
            end += 1
        texture = ids[bounds[start] : bounds[end]].tolist()
        seq = prefix + part_context(self.tok, given_ids) + texture
        if end == n_bars:
            seq.append(self.tok.eos_id)
        return seq[: self.block_size + 1], len(prefix), row, keep

    # -- one example ------------------------------------------------------------------------
    def example(self, piece: int, rng: np.random.Generator, train: bool):
        """(token ids, caption embedding row or -1, text kept?) for one piece."""
        aug0 = self.augment if train else None
        if aug0 is not None and self.tok.has_infill:
            r = rng.random()
            kind = (
                "bars"
                if r < aug0.p_infill_bars
                else "part"
                if r < aug0.p_infill_bars + aug0.p_infill_part
                else None
            )
            if kind == "part" and len(self._poly):
                piece = int(rng.choice(self._poly, p=self._poly_weights))
            if kind is not None:
                made = self.infill_example(piece, kind, rng, aug0)
                if made is not None:
                    return made
        info = self.ds.pieces[piece]
        ids = self.ds.piece_ids(piece).astype(np.int64)
        bars = self.ds.piece_bars(piece)
        aug = self.augment if train else None
        # Where the crop starts: bar 0 or a random barline.
        start_bar = 0
        form_section = None
        theme = np.zeros(0, dtype=np.int64)  # the opening phrase, before a later section
        phrases = self.sections(piece) if aug and aug.p_form_section > 0 else {}
        if aug is not None and phrases and rng.random() < aug.p_form_section:
            # The opening phrase, then a later section with its label: "after the theme,
            # bring it back (A) or a contrast (B)", as long-form generation asks for a
            # section after its context. The label is about the phrase heard just before.
            starts = sorted(phrases)
            start_bar = int(rng.choice(starts[1:]))
            form_section = phrases[start_bar]
            theme = self._theme(ids, bars, starts[1])
        elif (
            aug
            and aug.p_repeat_phrase > 0
            and len(bars) >= 2 * phrase_length(len(bars))
            and rng.random() < aug.p_repeat_phrase
        ):
            form_section = "A"
            theme = self._theme(ids, bars, phrase_length(len(bars)))
        elif aug and len(bars) > 1 and rng.random() > aug.p_start_at_beginning:
            start_bar = int(rng.integers(0, len(bars)))
        start = int(bars[start_bar]) if len(bars) else 0
        # Transposition, among those whose captions were embedded.
        rows = info["caption_rows"]
        k = 0
        if aug and aug.transpose and len(rows) > 1:
            k = int(rng.choice([int(x) for x in rows]))
        if k:
            ids = self._table(k)[ids]
        c = info["controls"]
        tempo = c.get("tempo")
        if aug and tempo and aug.tempo_jitter:
            tempo = float(
                np.clip(
                    tempo * rng.uniform(1 - aug.tempo_jitter, 1 + aug.tempo_jitter),
                    MIN_TEMPO,
                    MAX_TEMPO,
                )
            )
        total_bars = int(info.get("bars") or len(bars))
        theme_bars = int((theme == self.tok.bar_id).sum())
        remaining = max(1, min(MAX_BARS, total_bars - start_bar + theme_bars))
        section = form_section or (
            "start"
            if start_bar == 0
            else ("end" if remaining <= max(2, total_bars // 4) else "middle")
        )
        controls = Controls(
            style=c.get("style"),
            key=transpose_key(c["key"], k) if c.get("key") else None,
            meter=c.get("meter"),
            tempo=tempo,
            bars=remaining,
            instruments=c.get("instruments") or None,
            section=section,
        )
        keep_text = True
        if aug:
            if rng.random() < aug.p_drop_all:
                controls, keep_text = Controls(), False
            else:
                for name in ("style", "key", "meter", "tempo", "bars", "instruments", "section"):
                    if rng.random() < aug.p_drop_control:
                        setattr(controls, name, None)
                keep_text = rng.random() >= aug.p_drop_text
        prefix = self.tok.prefix_ids(controls)
        room = self.block_size + 1 - len(prefix)
        if k and len(theme):
            theme = self._table(k)[theme]
        music = np.concatenate([theme, ids[start : start + room - len(theme)]])
        seq = prefix + music.tolist()
        if start + room - len(theme) > len(ids) and len(seq) < self.block_size + 1:
            seq.append(self.tok.eos_id)
        caption_rows = rows[str(k)]
        row = int(caption_rows[int(rng.integers(0, len(caption_rows)))]) if caption_rows else -1
        if row < 0:
            keep_text = False
        return seq, len(prefix), row, keep_text

    def _collate(self, examples) -> dict[str, torch.Tensor]:
        T = self.block_size
        B = len(examples)
        idx = np.full((B, T), self.tok.pad_id, dtype=np.int64)
        targets = np.full((B, T), IGNORE, dtype=np.int64)
        text = np.zeros((B, self.ds.text_emb.shape[1]), dtype=np.float32)
        use_text = np.zeros(B, dtype=bool)
        for b, (seq, n_prefix, row, keep) in enumerate(examples):
            seq = np.asarray(seq[: T + 1], dtype=np.int64)
            n = len(seq) - 1
            idx[b, :n] = seq[:-1]
            targets[b, :n] = seq[1:]
            # Positions that predict control tokens carry no loss: controls are given; so
            # are the infill markers.
            targets[b, : n_prefix - 1] = IGNORE
            if len(self._markers):
                targets[b][np.isin(targets[b], self._markers)] = IGNORE
            if row >= 0:
                text[b] = self.ds.text_emb[row]
            use_text[b] = keep
        return {
            "idx": torch.from_numpy(idx),
            "targets": torch.from_numpy(targets),
            "text_emb": torch.from_numpy(text),
            "use_text": torch.from_numpy(use_text),
        }

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """A random augmented training batch (uses and advances this sampler's RNG)."""
        pieces = self.rng.choice(self.indexes, size=batch_size, p=self.weights)
        return self._collate([self.example(int(p), self.rng, train=True) for p in pieces])

    def fixed_batches(self, batch_size: int, max_batches: int, drop: str = "none"):
        """Deterministic validation batches from the start of each piece.

        drop: 'none' keeps every condition, 'text' drops the text, 'all' drops text and
        controls (used to show how much the conditions help).
        """
        rng = np.random.default_rng(1234)
        chosen = self.indexes[: batch_size * max_batches]
        for s in range(0, len(chosen), batch_size):
            examples = []
            for p in chosen[s : s + batch_size]:
                seq, n_prefix, row, keep = self.example(int(p), rng, train=False)
                if drop == "all":
                    plain = self.tok.prefix_ids(Controls())
                    seq = plain + seq[n_prefix:]
                    n_prefix, keep = len(plain), False
                elif drop == "text":
                    keep = False
                examples.append((seq, n_prefix, row, keep))
            yield self._collate(examples)

"""Generation from controls, text and an optional music prompt, over a DecodingSession.

No Hugging Face `generate()`: owning the loop (session.py) is what lets us constrain every
step, guide with the text (classifier-free guidance), and slide the context window for
pieces longer than the model's block. The Engine sets a session up for one request (the
grammar states, the key guide, the reprise gate, the window rule) and runs it to the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..conditioning.controls import MAX_BARS, Controls
from ..errors import BadInputError
from ..music.chords import Chord
from ..music.keys import key_pitch_class
from ..tokens.tokenizer import MusicTokenizer
from .backends import Backend
from .chordguide import ChordGuide
from .fixed import FixedParts
from .grammar import Grammar
from .keyguide import KeyGuide
from .reprise import CopyGate, Reprise
from .sampling import SamplingConfig
from .session import DecodingSession
from .voicing import VoiceGuide

if TYPE_CHECKING:  # PyTorch is optional: a MusicTransformer is wrapped in TorchBackend
    from ..model.transformer import MusicTransformer

log = logging.getLogger(__name__)

# What a v2 sequence carries between its controls and the music being written (the infill
# layouts of tokens/layouts.py), for a window whose music starts at a given bar (0-based).
ContextFn = Callable[[int], list[int]]


@dataclass
class GenerationResult:
    """Token ids of one generated sequence and its mean log-likelihood per token."""

    ids: list[int]  # full sequence: BOS, controls, music, EOS
    music_start: int  # index of the first music token
    logprob: float  # sum of log-probabilities of the sampled tokens (unguided model)
    n_sampled: int


class Engine:
    """Generates token sequences from controls, text and an optional music prompt."""

    def __init__(
        self,
        backend: Backend | MusicTransformer,
        tokenizer: MusicTokenizer,
        gate: CopyGate | None = None,
    ) -> None:
        if not hasattr(backend, "prefill"):  # a MusicTransformer: the PyTorch backend
            from .torch_backend import TorchBackend

            backend = TorchBackend(backend)  # type: ignore[arg-type]
        self.backend: Backend = backend  # type: ignore[assignment]
        self.cfg = self.backend.cfg
        self.tok = tokenizer
        self.gate = gate  # the reprise gate (reprise.py): used when a theme is given
        self.grammar = Grammar(tokenizer)

    # -- conditions ------------------------------------------------------------------------
    def text_embedding(self, text: str | None) -> np.ndarray | None:
        if not text or not text.strip():
            return None
        from ..conditioning.text import default_encoder

        return default_encoder().encode([text])[0]

    # -- the loop -------------------------------------------------------------------------
    def generate(
        self,
        controls: Controls,
        text: str | None,
        n: int,
        sampling: SamplingConfig,
        prompt_music: list[int] | None = None,
        progress: Callable[[int, int], None] | None = None,
        text_emb: np.ndarray | None = None,
        theme: list[int] | None = None,
        section_start: int | None = None,
        theme_label: str | None = None,
        chords: Sequence[Sequence[Chord]] | None = None,
        fixed: FixedParts | None = None,
        context: ContextFn | None = None,
        voicing: VoiceGuide | None = None,
        meters: Sequence[str] | None = None,
        caps: dict[int, int] | None = None,
    ) -> list[GenerationResult]:
        """`n` sequences (a batch) for one set of conditions.

        `prompt_music`: music token ids to continue (kept exactly). Generation stops at the
        requested bars (controls.bars, else sampling.max_bars) counted from the start.
        `theme`: music tokens (from a barline) that the section being generated may bring
        back; with a reprise gate for the Section control, each token is offered the
        theme's token at the same place (reprise.py). The section begins at index
        `section_start` of the music (default: where `prompt_music` ends); the gate reads
        `theme_label` (default: the Section control): "A" the theme again, "B" a contrast.
        `chords`: a progression, bars of chords from the piece's first bar (repeating),
        that the chord guide pulls the pitches toward (chordguide.py).
        `fixed`: notes of kept voices that come out exactly (fixed.py); its rows must
        match `n`. `context`: the infill context the model sees after the controls (a v2
        model; ContextFn). `voicing`: voice-leading guidance for written parts (voicing.py).
        `meters`: each bar's meter, from the first bar written (a kept piece's own, which
        may change; Grammar.bar_meters), in place of the Meter control's one meter.
        `caps`: the most notes a voice slot may begin at once, where its instrument's
        limit (instruments.max_onsets) is not the right one (1: a single line).
        The results hold the controls and the music, not the context.
        """
        session = self.session(
            controls, n, sampling, text, prompt_music, text_emb, theme, section_start, theme_label,
            chords, fixed, context, voicing, meters, caps,
        )  # fmt: skip
        target = session.states[0].target_bars or sampling.max_bars
        while not session.finished:
            session.advance()
            if progress:
                progress(session.bars_done(), target)
        results = []
        prefix = self.tok.prefix_ids(controls.validated())
        for b in range(session.n):
            body = session.rows[b]
            if not session.states[b].done:  # budget exhausted mid-way: close cleanly
                body = body + [self.tok.eos_id]
            results.append(
                GenerationResult(
                    prefix + body, len(prefix), float(session.logprobs[b]), session.n_sampled[b]
                )
            )
        return results

    def session(
        self,
        controls: Controls,
        n: int,
        sampling: SamplingConfig,
        text: str | None = None,
        prompt_music: list[int] | None = None,
        text_emb: np.ndarray | None = None,
        theme: list[int] | None = None,
        section_start: int | None = None,
        theme_label: str | None = None,
        chords: Sequence[Sequence[Chord]] | None = None,
        fixed: FixedParts | None = None,
        context: ContextFn | None = None,
        voicing: VoiceGuide | None = None,
        meters: Sequence[str] | None = None,
        caps: dict[int, int] | None = None,
    ) -> DecodingSession:
        """A decoding session for `n` rows under `controls`, after `prompt_music` (see
        `generate` for the arguments); the caller drives it with `advance()`."""
        sampling = sampling.validated()
        if n < 1:
            raise ValueError("the number of candidates must be >= 1")
        controls = controls.validated()
        target_bars = controls.bars or sampling.max_bars
        if target_bars > MAX_BARS:
            raise BadInputError(f"at most {MAX_BARS} bars can be generated")
        if text_emb is None:
            text_emb = self.text_embedding(text)
        prefix = self.tok.prefix_ids(controls)
        music = list(prompt_music or [])
        states = [
            self.grammar.new_state(controls.meter, controls.instruments, target_bars, target_bars)
            for _ in range(n)
        ]
        if meters:
            unknown = sorted(set(meters) - set(self.grammar.timesig_id))
            if unknown:
                raise ValueError(f"this model has no time signature {unknown[0]}")
            for s in states:
                s.bar_meters = tuple(meters)
        if caps:
            for s in states:
                s.caps = {**s.caps, **caps}
        if fixed is not None:
            # Kept voices sound when their notes come (fixed.py forces them): they are never
            # "missing", so the grammar does not rush them in ahead of their written time.
            # Their notes are as given, however many begin at once (the caps are for voices
            # the model writes).
            for s in states:
                s.used |= set(fixed.slots)
                s.uncapped = frozenset(fixed.slots)
        for t in music:
            for s in states:
                s.update(t)
        guide = None
        if controls.key and (sampling.key_guidance > 0 or sampling.key_guide_args):
            guide = KeyGuide(
                self.grammar, controls.key, n, sampling.key_guidance, **sampling.key_guide_args
            )
            for t in music:
                for b in range(n):
                    guide.observe(b, t)
        requested = bool(chords)  # the user's progression, not the cadence frame below
        if not chords and sampling.cadence != "none" and controls.key and target_bars >= 3:
            chords = cadence_frame(controls.key, target_bars, opening=sampling.cadence == "frame")
        reprise = None
        label = theme_label or controls.section
        if theme and self.gate and label in self.gate.labels:
            if self.tok.bar_id is None:
                raise ValueError("a theme to bring back needs a bar-based tokenization")
            reprise = Reprise(self.gate, label, theme, self.tok, n)
            start = len(music) if section_start is None else section_start
            if not 0 <= start <= len(music):
                raise ValueError("the section must start inside the music given")
            for t in music[start:]:
                for b in range(n):
                    reprise.observe(b, t)

        def window(row: int, tokens: list[int]) -> list[int]:
            return self._window(prefix, controls, tokens, target_bars, context)

        budget = sampling.max_tokens or _token_budget(target_bars, controls)
        if fixed is not None and not sampling.max_tokens:
            # The kept notes' own tokens (position, voice, pitch, duration) on top: a budget
            # spent by dense free voices would otherwise end the piece before them.
            budget += 4 * len(fixed.notes)
        return DecodingSession(
            self.backend,
            self.tok,
            self.grammar,
            states,
            sampling,
            window,
            text_emb=text_emb,
            music=music,
            guide=guide,
            reprise=reprise,
            max_new=budget,
            chords=self.chord_guide(controls, chords, sampling, requested) if chords else None,
            fixed=fixed,
            voicing=voicing,
        )

    def chord_guide(
        self,
        controls: Controls,
        chords: Sequence[Sequence[Chord]],
        sampling: SamplingConfig,
        requested: bool = True,
    ) -> ChordGuide:
        """The chord guide for a request; the lowest voice is the last of several slots.
        `requested`: the user's progression (its chords are completed in each bar), not
        the cadence frame's."""
        if self.tok.bar_id is None:
            raise BadInputError("chord progressions need a bar-based tokenization (REMI)")
        slots = controls.instruments or []
        bass = len(slots) - 1 if len(slots) > 1 else None
        return ChordGuide(self.grammar, chords, bass, sampling.chord_guidance, complete=requested)

    def _window(
        self,
        prefix: list[int],
        controls: Controls,
        row: list[int],
        target_bars: int,
        context: ContextFn | None = None,
    ) -> list[int]:
        """A row's context: prefix + [infill context] + the tail of its music from a barline.

        When a row fits in the block it is used whole. Otherwise the tail keeps about half
        the block left after the infill context, starting at a barline, and the Bars
        control says how many bars remain, exactly like a training crop that starts
        mid-piece; the infill context is asked for again from the tail's first bar.
        """
        block = self.cfg.block_size
        extra = context(0) if context else []
        if len(prefix) + len(extra) + len(row) < block:
            return prefix + extra + row
        bar_starts = (
            [i for i, t in enumerate(row) if t == self.tok.bar_id]
            if self.tok.bar_id is not None
            else []
        )
        cut = len(row) - (block - len(extra)) // 2
        later = [i for i in bar_starts if i >= cut]
        start = later[0] if later else cut
        bars_before = sum(1 for i in bar_starts if i < start)
        remaining = max(1, target_bars - bars_before)
        section = "middle" if context is None else controls.section
        c = Controls(**{**controls.to_dict(), "bars": min(remaining, MAX_BARS), "section": section})
        head = self.tok.prefix_ids(c) + (context(bars_before) if context else [])
        tail = row[start:]
        if len(head) + len(tail) >= block:  # a context longer than the first one
            tail = tail[len(head) + len(tail) - block + 1 :]
        return head + tail


def _token_budget(bars: int, controls: Controls) -> int:
    """A generous cap on generated tokens for `bars` bars (the grammar ends sooner)."""
    voices = len(controls.instruments) if controls.instruments else 4
    return int(bars * (40 + 60 * voices)) + 64


def cadence_frame(key: str, bars: int, opening: bool = True) -> list[list[Chord]]:
    """A progression that closes on the key: the dominant seventh then the tonic in the
    last two bars, and with `opening` the tonic in the first bar; other bars left free."""
    tonic, mode = key_pitch_class(key)
    home = Chord(tonic, "maj" if mode == "major" else "min")
    dominant = Chord((tonic + 7) % 12, "7")  # major in minor keys too (the leading tone)
    first = [home] if opening else []
    return [first] + [[] for _ in range(bars - 3)] + [[dominant], [home]]

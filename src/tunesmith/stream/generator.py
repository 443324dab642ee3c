"""Endless token generation: a sliding window with a sticky prefix, rewindable by bar.

The context the model sees is always

    controls prefix + opening theme (sticky, <= ~1/8 of the block) + recent bars

The theme is the stream's own first bars, kept so the music stays about something. The
KV cache holds that window and grows one decode step at a time; when it is full, the
window is rebuilt once from a barline (the recent half of the block) with one prefill:
the model has absolute positions, so a cache cannot simply be shifted, and one prefill
per shift is the whole cost of sliding (`shift_seconds` measures it).

Live changes act at a bar boundary: `rewind_to_bar` cuts the tokens back to a Bar (the
caller first drops the notes not yet played), and the next `advance` rebuilds the window
under the new settings. A key change also transposes the context into the new key, so
the model continues a piece that was in that key all along, instead of being pulled back
by what it just heard; the key guide then holds it there.

`set_economy(True)` (the session calls it while the stream falls behind) spends less per
token: window rebuilds keep a quarter of the block instead of half (a shorter prefill and
a shorter context to attend to) and classifier-free guidance, which doubles the batch, is
off until the stream has caught up.
"""

from __future__ import annotations

import time
from dataclasses import replace

from ..conditioning.controls import Controls
from ..errors import BadInputError
from ..generate.engine import Engine
from ..generate.grammar import SequenceState
from ..generate.keyguide import KeyGuide
from ..generate.sampling import SamplingConfig
from ..generate.session import DecodingSession
from ..music.keys import key_pitch_class

ENDLESS_BARS = 10**9
PITCH_LOW, PITCH_HIGH = 21, 108  # the tokenizers' pitch range
ECONOMY_TAIL = 1 / 4  # of the block: the recent context a rebuild keeps while behind


class TokenStream:
    """Decides music tokens forever, one model step per `advance()`."""

    def __init__(
        self,
        engine: Engine,
        controls: Controls,
        text: str | None,
        sampling: SamplingConfig,
        theme_fraction: float = 1 / 8,
        tail_fraction: float = 1 / 2,
    ) -> None:
        if engine.tok.bar_id is None:
            raise BadInputError(
                f"streaming needs a bar-based tokenization (REMI or REMI+), not {engine.tok.name}"
            )
        self.engine = engine
        self.tok = engine.tok
        self.cfg = engine.cfg
        self.controls = replace(controls.validated(), bars=None, section="start")
        block = self.cfg.block_size
        self.theme_budget = int(block * theme_fraction)
        self.tail_fraction = tail_fraction
        self.tail_budget = int(block * tail_fraction)
        self.economy = False
        self.theme: list[int] | None = None  # frozen once the opening is long enough
        # Batch 1, endless, no drafts (a draft's verification would delay a note).
        self.session = DecodingSession(
            engine.backend,
            engine.tok,
            engine.grammar,
            [self._new_state()],
            sampling.validated(),
            lambda row, music: self._window(),
            text_emb=engine.text_embedding(text),
            speculative=False,
        )
        self.session.guide = self._new_guide()
        self.tokens_out = 0
        self.shift_seconds: list[float] = []  # cost of each window rebuild after the first

    @property
    def sampling(self) -> SamplingConfig:
        return self.session.sampling

    @property
    def history(self) -> list[int]:
        """The music tokens the model sees as the past."""
        return self.session.rows[0]

    @property
    def prefills(self) -> int:
        return self.session.prefills

    # -- setup -----------------------------------------------------------------------------
    def _new_state(self) -> SequenceState:
        c = self.controls
        state = self.engine.grammar.new_state(c.meter, c.instruments, None, ENDLESS_BARS)
        state.endless = True
        return state

    def _new_guide(self) -> KeyGuide | None:
        if not self.controls.key or self.sampling.key_guidance <= 0:
            return None
        strength = self.session.sampling.key_guidance
        return KeyGuide(self.engine.grammar, self.controls.key, 1, strength)

    @property
    def prefix(self) -> list[int]:
        return self.tok.prefix_ids(self.controls)

    # -- the window ------------------------------------------------------------------------
    def _window(self) -> list[int]:
        prefix = self.prefix
        theme = self.theme or []
        if self.theme is None or len(prefix) + len(self.history) < self.cfg.block_size:
            return prefix + self.history  # the opening: the whole piece fits
        starts = [m.index for m in self.session.marks[0] if m.index >= self.theme_len]
        cut = len(self.history) - self.tail_budget
        later = [i for i in starts if i >= cut]
        start = later[0] if later else max(self.theme_len, cut)
        if start < len(self.history) and self.history[start] != self.tok.bar_id:
            # no barline in range (very dense bars): start at the last note boundary
            start = self._note_boundary(start)
        return prefix + theme + self.history[start:]

    def _note_boundary(self, i: int) -> int:
        g = self.engine.grammar
        while i < len(self.history) and g.type_of[self.history[i]] != "Position":
            i += 1
        return i

    @property
    def theme_len(self) -> int:
        return len(self.theme) if self.theme is not None else 0

    def _maybe_freeze_theme(self) -> None:
        """The opening theme: whole notes from the start, within the theme budget."""
        if self.theme is not None:
            return
        room = self.theme_budget - len(self.prefix)
        if len(self.history) < room:
            return
        g = self.engine.grammar
        end = 0
        for i, t in enumerate(self.history[:room]):
            if g.type_of[t] == "Duration":
                end = i + 1
        self.theme = list(self.history[:end])

    def _prefill(self) -> None:
        t0 = time.perf_counter()
        self.controls = replace(self.controls, section="middle") if self.history else self.controls
        self.session.prefill()
        if self.session.prefills > 1:
            self.shift_seconds.append(time.perf_counter() - t0)

    # -- decoding ----------------------------------------------------------------------------
    def advance(self) -> list[int]:
        """Decide the next token (and any the grammar then forces); returns them."""
        if self.session.logits is None:
            self._prefill()
        new = self.session.advance()[0]
        self._maybe_freeze_theme()
        self.tokens_out += len(new)
        return new

    # -- live changes ------------------------------------------------------------------------
    def bar_marks(self) -> list[int]:
        return [m.index for m in self.session.marks[0]]

    def rewind_to_bar(self, index: int) -> None:
        """Cut history back to the Bar token at `index` (it will be decided again)."""
        self.session.rewind_to_bar(0, index)
        if self.theme is not None and index < len(self.theme):
            self.theme = None  # the opening itself is being replaced
        # The bar being played keeps exactly what it had: the next token is that Bar again
        # (the grammar would also allow more notes late in the current bar, which could
        # fall before the playhead and go out late).
        self.session.force_next([self.tok.bar_id])
        self._refresh()

    def _refresh(self) -> None:
        """Rebuild the key guide over the current context and re-prefill at the next step."""
        guide = self._new_guide()
        if guide is not None:
            for t in self.history[-self.tail_budget :]:
                guide.observe(0, t)
        self.session.guide = guide
        self.session.invalidate()

    def set_economy(self, on: bool) -> None:
        """Spend less per token (see the module's docstring) or go back to the full cost."""
        if on == self.economy:
            return
        self.economy = on
        block = self.cfg.block_size
        self.tail_budget = int(block * (ECONOMY_TAIL if on else self.tail_fraction))
        self.session.set_guidance(not on)  # guidance doubles the batch: off in economy

    def set_temperature(self, value: float) -> None:
        self.session.sampling = self.sampling.with_(temperature=value).validated()

    def set_style(self, style: str | None) -> None:
        self.controls = replace(self.controls, style=style).validated()
        self._refresh()

    def set_tempo(self, bpm: float) -> None:
        self.controls = replace(self.controls, tempo=bpm).validated()
        self._refresh()

    def set_key(self, key: str) -> None:
        """Move to `key`: the context is transposed there and the key control changes."""
        new = replace(self.controls, key=key).validated()
        if self.controls.key:
            assert new.key is not None  # validated() keeps a given key
            shift = _interval(self.controls.key, new.key)
            self.session.rows[0] = transpose_ids(self.engine.grammar, self.history, shift)
            if self.theme is not None:
                self.theme = transpose_ids(self.engine.grammar, self.theme, shift)
        self.controls = new
        self._refresh()

    def reset(self) -> None:
        """Panic: forget everything after the sticky prefix; the next token starts a bar."""
        self.session.replace_row(0, self.theme or [], self._new_state())
        self.session.force_next([self.tok.bar_id])  # the decoder restarts its bar grid here
        self._refresh()

    def window_tokens(self) -> list[int]:
        """The context the next rebuild would give the model (for tests and inspection)."""
        return self._window()


def _interval(old_key: str, new_key: str) -> int:
    """Semitones from the old tonic to the new one, the nearer way (-5..+6)."""
    d = (key_pitch_class(new_key)[0] - key_pitch_class(old_key)[0]) % 12
    return d - 12 if d > 6 else d


def transpose_ids(grammar, ids: list[int], semitones: int) -> list[int]:
    """Pitch tokens moved by `semitones`, folded by octaves to stay in range; drums kept."""
    if semitones == 0:
        return list(ids)
    out = []
    for t in ids:
        if grammar.type_of[t] == "Pitch":
            p = grammar.pitch_of[t] + semitones
            while p > PITCH_HIGH:
                p -= 12
            while p < PITCH_LOW:
                p += 12
            t = grammar.tok.token_id(f"Pitch_{p}")
        out.append(t)
    return out

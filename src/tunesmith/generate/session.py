"""The decoding session: the one place where tokens are decided.

A `DecodingSession` owns everything that decides the next tokens of a batch of rows: the
model behind a backend (its KV cache), one grammar state per row, the sampler and the
guides (classifier-free guidance, repetition penalty, the key guide, the chord guide, the
reprise gate, the missing-voice bonus), and the voices a request keeps (fixed.py: forced
where they belong). Generation, continuation, best-of-N, long-form, harmonizing and
streaming all drive it the same way:

    session = DecodingSession(...)          # rows start from their music so far
    while not session.finished:
        session.advance()                   # sample, forced tokens, one forward pass

`advance` (re)builds the cache from each row's window when it is missing or full
(`prefill`), samples one token per row, appends the tokens the grammar then forces, and
feeds them all in one pass (`feed`). At batch 1 a draft of guessed tokens (draft.py) is
fed too and kept for as long as ordinary sampling at each position reproduces it; the rest
is dropped from the cache. Callers may also force the next token (`force_next`), rewind a
row to one of its recent barlines (`rewind_to_bar`) and keep or fork rows (`select_rows`).

The model is reached only through a backend's calls (backends.py: new cache, prefill,
step, reorder), which take and give NumPy arrays: the session itself needs no PyTorch, and
PyTorch and ONNX Runtime sit behind it alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np

from ..deadline import check as check_deadline
from ..tokens.tokenizer import MusicTokenizer
from .backends import Backend
from .chordguide import ChordGuide
from .draft import NGramDrafter
from .fixed import FixedParts
from .grammar import Grammar, SequenceState
from .keyguide import KeyGuide
from .reprise import Reprise
from .sampling import (
    SamplingConfig,
    apply_repetition_penalty,
    log_softmax,
    sample_row,
    sample_top_k_top_p,
)
from .voicing import VoiceGuide

MISSING_VOICE_BONUS = 2.0  # logit bonus for a requested voice behind a real part's pace
# ... and for such a voice not yet heard in the bar being written: it comes in at the bar's
# next onset even where the model gives it almost nothing (a guitar under a folk song's
# voice; drums, which the corpus never has), so every requested instrument plays a real
# part. It only decides which voice plays when a voice may enter: no bar or length changes.
DUE_VOICE_BONUS = 1e4
END_SOON = 8  # tokens before the budget runs out at which every row is steered to its end
MAX_BAR_MARKS = 64  # recent barlines remembered per row for rewinding

WindowFn = Callable[[int, list[int]], list[int]]


@dataclass
class BarMark:
    """A Bar token in a row's music, with the grammar state just before it."""

    index: int
    state: SequenceState


def copy_state(s: SequenceState) -> SequenceState:
    return replace(s, open_notes=set(s.open_notes), used=set(s.used))


class DecodingSession:
    """A batch of rows being decoded under one set of conditions.

    `music`: every row's music so far (kept exactly; the caller has advanced the grammar
    states and the guides over it). `window(row, music)` gives the tokens the model sees
    for a row when the cache is (re)built: the conditioning prefix and the part of the
    music that fits the block. `max_new`: a cap on the tokens appended per row (None:
    endless). `text_emb` with `sampling.cfg_scale != 1` doubles the batch for
    classifier-free guidance (the second half without the text).
    """

    def __init__(
        self,
        backend: Backend,
        tokenizer: MusicTokenizer,
        grammar: Grammar,
        states: list[SequenceState],
        sampling: SamplingConfig,
        window: WindowFn,
        text_emb: np.ndarray | None = None,
        music: Sequence[int] = (),
        guide: KeyGuide | None = None,
        reprise: Reprise | None = None,
        max_new: int | None = None,
        speculative: bool | None = None,
        chords: ChordGuide | None = None,
        fixed: FixedParts | None = None,
        voicing: VoiceGuide | None = None,
    ) -> None:
        self.backend = backend
        self.tok = tokenizer
        self.grammar = grammar
        self.states = states
        self.n = len(states)
        self.sampling = sampling
        self.window = window
        self.text_emb = text_emb
        self.use_cfg = self.can_guide
        self.guide = guide
        self.reprise = reprise
        self.chords = chords
        self.fixed = fixed
        self.voicing = voicing
        self._fixed_cache: dict[tuple, tuple[np.ndarray, int | None, np.ndarray]] = {}
        self.max_new = max_new
        self.rows: list[list[int]] = [list(music) for _ in range(self.n)]
        self.logprobs = np.zeros(self.n)
        self.n_sampled = [0] * self.n  # plain ints: read at every step
        self.marks: list[list[BarMark]] = [[] for _ in range(self.n)]
        self.gen = np.random.default_rng(
            sampling.seed
            if sampling.seed is not None
            # fresh entropy is an int (numpy types `entropy` as int | Sequence[int] | None)
            else int(cast(int, np.random.SeedSequence().entropy) % (2**63))
        )
        # Speculative drafts need every row to accept the same number of tokens: batch 1.
        use_drafts = sampling.speculative if speculative is None else speculative
        self.drafter = (
            NGramDrafter(wildcard=grammar.pitch_of.keys()) if self.n == 1 and use_drafts else None
        )
        if self.drafter:
            self.drafter.extend(music)
        self.cache: Any = None  # the backend's KV cache
        self.logits: np.ndarray | None = None  # the next-token logits, once prefilled
        self.unfed: list[list[int]] = []  # appended to the rows, not yet in the cache
        self._next: list[int] | None = None  # a token per row that `force_next` imposed
        self.prefills = 0

    # -- state --------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        if all(s.done for s in self.states):
            return True
        return self.max_new is not None and max(self.n_sampled) >= self.max_new

    @property
    def room(self) -> int:
        """Positions left in the cache (0 before the first prefill)."""
        return self.cache.max_len - self.cache.length if self.cache is not None else 0

    def bars_done(self) -> int:
        return max(s.bars_done() for s in self.states)

    # -- the model ----------------------------------------------------------------------
    def prefill(self) -> None:
        """A fresh cache holding each row's window; the logits after it."""
        windows = [self.window(b, row) for b, row in enumerate(self.rows)]
        longest = max(len(w) for w in windows)
        pads = [longest - len(w) for w in windows]
        idx = np.array(
            [[self.tok.pad_id] * p + w for w, p in zip(windows, pads, strict=True)],
            dtype=np.int64,
        )
        te = use = None
        if self.text_emb is not None:
            te = np.repeat(self.text_emb.reshape(1, -1), self.n, axis=0)
            use = np.ones(self.n, dtype=bool)
        if self.use_cfg:  # second half of the batch: the same rows without the text
            assert te is not None and use is not None
            idx = np.concatenate([idx, idx])
            te = np.concatenate([te, te])
            use = np.concatenate([use, np.zeros_like(use)])
            pads = pads + pads
        self.cache = self.backend.new_cache(idx.shape[0], pads)
        self.logits = self.backend.prefill(idx, te, use, self.cache)
        self.unfed = []
        self.prefills += 1

    @property
    def can_guide(self) -> bool:
        """Whether classifier-free guidance applies: a text prompt and a scale other than 1."""
        return self.text_emb is not None and self.sampling.cfg_scale != 1.0

    def set_guidance(self, on: bool) -> bool:
        """Use classifier-free guidance (the batch doubled by the rows without the text) for
        the next tokens or not, where it applies (`can_guide`); the cache is rebuilt when
        that changes. Returns whether guidance is used now."""
        want = bool(on) and self.can_guide
        if want != self.use_cfg:
            self.use_cfg = want
            self.invalidate()  # the cache holds the unguided half or not: rebuild
        return self.use_cfg

    def invalidate(self) -> None:
        """Rebuild the cache from the rows before the next token (after a live change)."""
        self.logits = None
        self.unfed = []

    def feed(self, draft: Sequence[int] = ()) -> np.ndarray:
        """One forward pass over the unfed tokens (+ a draft at batch 1); returns its logits
        [B, T, vocab] and leaves the logits after the last unfed token as the next ones."""
        assert self.cache is not None
        feed = np.array(self.unfed + [[d] for d in draft], dtype=np.int64).T
        if self.use_cfg:
            feed = np.concatenate([feed, feed])
        feed = np.ascontiguousarray(feed)
        out = self.backend.step(feed, self.cache)
        self.logits = out[:, len(self.unfed) - 1]
        self.unfed = []
        return out

    # -- tokens -------------------------------------------------------------------------
    def append(self, ids: Sequence[int], lp: np.ndarray | None = None) -> None:
        """Append one token per row (a finished row ignores it) and account for it."""
        for b, t in enumerate(ids):
            state = self.states[b]
            if not state.done:
                if self.fixed is not None:
                    self.fixed.observe(b, state, t)
                if t == self.tok.bar_id:
                    marks = self.marks[b]
                    marks.append(BarMark(len(self.rows[b]), copy_state(state)))
                    if len(marks) > MAX_BAR_MARKS:
                        del marks[: len(marks) - MAX_BAR_MARKS]
                self.rows[b].append(t)
                if lp is not None:
                    self.logprobs[b] += lp[b]
                self.n_sampled[b] += 1
                if self.guide:
                    self.guide.observe(b, t)
                if self.reprise:
                    self.reprise.observe(b, t)
            state.update(t)
        if self.drafter:
            self.drafter.extend(ids[:1])
        self.unfed.append(list(ids))

    def forced(self) -> list[int] | None:
        """The only allowed token of every row, or None when some row chooses."""
        if self.fixed is None:
            forced = [s.forced() for s in self.states]
        else:
            forced = [self._forced_row(b) for b in range(self.n)]
        return None if None in forced else forced  # type: ignore[return-value]

    def allowed(self, row: int) -> np.ndarray:
        """The ids `row` may take next: the grammar's, narrowed by the fixed parts."""
        if self.fixed is None:
            return self.states[row].allowed()
        return self._entry(row)[0]

    def _forced_row(self, row: int) -> int | None:
        return self._entry(row)[1]

    def _entry(self, row: int) -> tuple[np.ndarray, int | None]:
        """(allowed mask, forced id) of a row under the fixed parts, built once per rule."""
        state = self.states[row]
        mask = state.allowed()
        rule = self.fixed.rule(row, state) if self.fixed is not None and not state.done else None
        if rule is None:
            return mask, state.forced()
        assert self.fixed is not None
        key = (state.last, state.position, state.bar_len, state.forced(), rule, int(mask.sum()))
        entry = self._fixed_cache.get(key)
        if entry is None or not np.array_equal(entry[2], mask):
            kept = self.fixed.mask(rule)
            both = mask & kept
            # never leave a row with no choice; a kept note wins (a doubled note in the input)
            narrowed = both if both.any() else kept if rule[0] in ("pitch", "duration") else mask
            ids = np.flatnonzero(narrowed)
            entry = (narrowed, int(ids[0]) if len(ids) == 1 else None, mask)
            self._fixed_cache[key] = entry
        return entry[0], entry[1]

    def force_next(self, ids: Sequence[int]) -> None:
        """The next token of each row is `ids` (e.g. a Bar after a rewind), not sampled."""
        self._next = list(ids)

    def choose(self) -> tuple[list[int], np.ndarray | None]:
        """The next token per row: imposed, forced by the grammar, or sampled."""
        if self._next is not None:
            ids, self._next = self._next, None
            return ids, None
        if self.max_new is not None and self.max_new - max(self.n_sampled) <= END_SOON:
            for s in self.states:
                s.force_end = True
        forced = self.forced()
        if forced is not None:  # nothing to choose: log-probability 0
            return forced, None
        assert self.logits is not None
        return self.sample(self.logits)

    def advance(self) -> list[list[int]]:
        """Decide the next token of every row and the tokens the grammar then forces, and
        feed them to the model; returns each row's new tokens (none for a finished row)."""
        check_deadline()  # a server job told to stop (timeout) ends here (deadline.py)
        if self.logits is None:
            self.prefill()
        before = [len(r) for r in self.rows]
        if not self.unfed:  # else: a sample that replaced a rejected draft is pending
            self.append(*self.choose())
        # Tokens the grammar forces (one allowed id, e.g. TimeSig after Bar, the Program of
        # a solo voice) need no sampling: append them now and feed them in the same pass.
        while not self.finished and (forced := self.forced()) is not None:
            self.append(forced)
        if not self.finished:
            if len(self.unfed) > self.room:
                self.logits = None  # the window is full: rebuild it from the rows
            else:
                self._feed_with_draft()
        return [row[n:] for row, n in zip(self.rows, before, strict=True)]

    def _feed_with_draft(self) -> None:
        """Feed the unfed tokens and, at batch 1, a draft verified by ordinary sampling."""
        draft: list[int] = []
        if self.drafter:
            limit = self.room - len(self.unfed)
            if self.max_new is not None:
                limit = min(limit, self.max_new - max(self.n_sampled))
            draft = self.drafter.propose(limit)
        out = self.feed(draft)
        accepted = 0
        for j, d in enumerate(draft):
            ids, lp = self.choose()
            self.append(ids, lp)
            if ids[0] != d:  # a fresh sample: drop the rest of the draft from the cache
                assert self.cache is not None
                self.cache.length -= len(draft) - j
                break  # the fresh sample stays unfed
            self.unfed = []  # the draft token is already in the cache
            accepted += 1
            if self.finished:
                break
            self.logits = out[:, -len(draft) + j]
        if self.drafter:
            self.drafter.observe(len(draft), accepted)

    # -- live changes and candidates ------------------------------------------------------
    def rewind_to_bar(self, row: int, index: int) -> None:
        """Cut `row` back to its Bar token at `index` (it will be decided again); the
        cache is rebuilt before the next token. Guides are the caller's to rebuild."""
        mark = next((m for m in self.marks[row] if m.index == index), None)
        if mark is None:
            raise ValueError(f"no bar starts at token {index}")
        self.rows[row] = self.rows[row][:index]
        self.marks[row] = [m for m in self.marks[row] if m.index < index]
        self.states[row] = copy_state(mark.state)
        self.invalidate()

    def replace_row(self, row: int, music: Sequence[int], state: SequenceState) -> None:
        """Start `row` again from `music` under a fresh grammar `state` (which is advanced
        over it); the cache is rebuilt before the next token. Guides are the caller's."""
        self.rows[row], self.marks[row], self.states[row] = [], [], state
        for t in music:
            if t == self.tok.bar_id:
                self.marks[row].append(BarMark(len(self.rows[row]), copy_state(state)))
            self.rows[row].append(t)
            state.update(t)
        self.invalidate()

    def select_rows(self, index: Sequence[int]) -> None:
        """Keep rows `index`, in that order; an index may repeat (fork a row)."""
        index = list(index)
        old_n = self.n
        self.rows = [list(self.rows[i]) for i in index]
        self.states = [copy_state(self.states[i]) for i in index]
        self.marks = [list(self.marks[i]) for i in index]
        self.logprobs = self.logprobs[index]
        self.n_sampled = [self.n_sampled[i] for i in index]
        self.unfed = [[ids[i] for i in index] for ids in self.unfed]
        if self.guide is not None:
            self.guide.select_rows(index)
        if self.reprise is not None:
            self.reprise.select_rows(index)
        if self.fixed is not None:
            self.fixed.select_rows(index)
        if len(index) != 1:
            self.drafter = None
        self.n = len(index)
        if self.cache is None or self.logits is None:
            self.invalidate()
            return
        # The cache holds the text rows, then (with guidance) the same rows without it.
        full = index + [old_n + i for i in index] if self.use_cfg else index
        self.backend.reorder(self.cache, full)
        self.logits = self.logits[full]

    # -- the sampler -----------------------------------------------------------------------
    def sample(self, logits: np.ndarray) -> tuple[list[int], np.ndarray]:
        """One token per row from `logits` under guidance, guides and the grammar; and
        each token's log-probability under the unguided model (what the scorer uses)."""
        n, sampling = self.n, self.sampling
        logits = logits.astype(np.float32, copy=False)
        if self.use_cfg:
            cond, uncond = logits[:n], logits[n:]
            base = cond
            logits = uncond + sampling.cfg_scale * (cond - uncond)
        else:
            base = logits
        if sampling.repetition_penalty != 1.0:
            logits = self._penalised(logits)
        if self.reprise is not None:  # before the key guide, which steers what is sampled
            logits, base = self.reprise.apply(logits, base)
        if self.guide is not None:
            logits = self.guide.apply(logits)
        if self.chords is not None:
            logits = self.chords.apply(logits, self.states)
        if self.voicing is not None:
            logits = self.voicing.apply(logits, self.states, self.rows)
        # A requested voice behind a real part's pace after the first bar (silent in over
        # half the bars, or a missing one) is invited in; the grammar also keeps the piece
        # from ending without it.
        for b, s in enumerate(self.states):
            if s.bar >= 2 and (ids := s.thin_program_ids()):
                logits = logits.copy() if logits is base else logits
                logits[b, ids] += MISSING_VOICE_BONUS
                if due := s.due_program_ids():
                    logits[b, due] += DUE_VOICE_BONUS - MISSING_VOICE_BONUS
        if self.tok.bar_id is not None:
            # In the last requested bar a new Bar is not allowed: the model's wish to start
            # one means "this bar is over", which is the end of the piece. Give that
            # probability to EOS instead of letting the bar fill up with extra notes.
            last = [b for b, s in enumerate(self.states) if s.at_last_bar()]
            if last:
                eos, bar = self.tok.eos_id, self.tok.bar_id
                logits = logits.copy()  # `base` may be the same array
                logits[last, eos] = np.logaddexp(logits[last, eos], logits[last, bar])
        if n == 1:  # the batch-1 path: a few hundred numbers, cheaper in NumPy
            u = float(self.gen.random())
            token, token_lp = sample_row(
                logits[0],
                base[0],
                self.allowed(0),
                sampling.top_k,
                sampling.top_p,
                sampling.temperature,
                u,
            )
            return [token], np.array([token_lp])
        blocked = ~np.stack([self.allowed(b) for b in range(self.n)])
        logits = np.where(blocked, -np.inf, logits)
        if sampling.temperature != 1.0:
            logits = logits / sampling.temperature
        next_ids = sample_top_k_top_p(logits, sampling.top_k, sampling.top_p, self.gen)
        lp = log_softmax(np.where(blocked, -np.inf, base))[np.arange(self.n), next_ids]
        return next_ids.tolist(), lp.astype(np.float64)

    def _penalised(self, logits: np.ndarray) -> np.ndarray:
        W = self.sampling.repetition_window
        hist = [r[-W:] for r in self.rows]
        width = max((len(h) for h in hist), default=0)
        if not width:
            return logits
        h = np.full((self.n, width), self.tok.pad_id, dtype=np.int64)
        for b, r in enumerate(hist):
            if r:
                h[b, : len(r)] = r
        return apply_repetition_penalty(
            logits, h, self.sampling.repetition_penalty, self.grammar.penalizable
        )

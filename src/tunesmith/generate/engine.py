"""The decode loop: batched, over a preallocated KV cache, grammar-constrained.

No Hugging Face `generate()`: owning the loop is what lets us constrain every step, guide
with the text (classifier-free guidance), and slide the context window for pieces longer
than the model's block (the cache is rebuilt once per shift, from a barline, keeping the
conditioning prefix). Each forward pass (`MusicTransformer.step`) takes every token that
is already decided: the sampled one, the tokens the grammar forces after it, and at batch
1 a draft of guessed tokens (draft.py) that is kept for as long as ordinary sampling at
each position reproduces it; a rejected draft is dropped from the cache by rewinding it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..controls import MAX_BARS, Controls
from ..errors import BadInputError
from ..model import MusicTransformer
from ..tokens.tokenizer import MusicTokenizer
from .draft import NGramDrafter
from .grammar import Grammar, SequenceState
from .keyguide import KeyGuide
from .reprise import CopyGate, Reprise
from .sampling import (
    SamplingConfig,
    apply_repetition_penalty,
    sample_row,
    sample_top_k_top_p,
)

log = logging.getLogger(__name__)

MISSING_VOICE_BONUS = 2.0  # logit bonus for a requested voice that has not played yet


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
        self, model: MusicTransformer, tokenizer: MusicTokenizer, gate: CopyGate | None = None
    ) -> None:
        self.model = model.eval()
        self.tok = tokenizer
        self.gate = gate  # the reprise gate (reprise.py): used when a theme is given
        self.device = next(model.parameters()).device
        self.grammar = Grammar(tokenizer, self.device)

    # -- conveniences -------------------------------------------------------------------
    def generate_prompt(self, prompt: str, sampling: SamplingConfig | None = None):
        """Parse a free-text prompt and generate one Piece (used for training samples)."""
        from ..piece import Piece
        from ..prompt import parse_prompt

        parsed = parse_prompt(prompt)
        res = self.generate(parsed.controls, prompt, 1, sampling or SamplingConfig())[0]
        return Piece.from_tokens(self.tok, res.ids, parsed.controls, prompt)

    def text_embedding(self, text: str | None) -> torch.Tensor | None:
        if not text or not text.strip():
            return None
        from ..text import default_encoder

        return torch.from_numpy(default_encoder().encode([text])[0]).to(self.device)

    # -- the loop -------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self,
        controls: Controls,
        text: str | None,
        n: int,
        sampling: SamplingConfig,
        prompt_music: list[int] | None = None,
        progress: Callable[[int, int], None] | None = None,
        text_emb: torch.Tensor | None = None,
        theme: list[int] | None = None,
        section_start: int | None = None,
        theme_label: str | None = None,
    ) -> list[GenerationResult]:
        """`n` sequences (a batch) for one set of conditions.

        `prompt_music`: music token ids to continue (kept exactly). Generation stops at the
        requested bars (controls.bars, else sampling.max_bars) counted from the start.
        `theme`: music tokens (from a barline) that the section being generated may bring
        back; with a reprise gate for the Section control, each token is offered the
        theme's token at the same place (reprise.py). The section begins at index
        `section_start` of the music (default: where `prompt_music` ends); the gate reads
        `theme_label` (default: the Section control): "A" the theme again, "B" a contrast.
        """
        sampling = sampling.validated()
        if n < 1:
            raise BadInputError("the number of candidates must be >= 1")
        controls = controls.validated()
        target_bars = controls.bars or sampling.max_bars
        if target_bars > MAX_BARS:
            raise BadInputError(f"at most {MAX_BARS} bars can be generated")
        gen = torch.Generator(device="cpu")
        gen.manual_seed(
            sampling.seed
            if sampling.seed is not None
            else int(np.random.SeedSequence().entropy % (2**63))
        )
        if text_emb is None:
            text_emb = self.text_embedding(text)
        use_cfg = text_emb is not None and sampling.cfg_scale != 1.0
        prefix = self.tok.prefix_ids(controls)
        music = list(prompt_music or [])
        states = [
            self.grammar.new_state(controls.meter, controls.instruments, target_bars, target_bars)
            for _ in range(n)
        ]
        for t in music:
            for s in states:
                s.update(t)
        rows = [list(music) for _ in range(n)]
        logprobs = np.zeros(n)
        n_sampled = [0] * n  # plain ints: read at every step, numpy scalars cost more
        guide = None
        if controls.key and (sampling.key_guidance > 0 or sampling.key_guide_args):
            guide = KeyGuide(
                self.grammar, controls.key, n, sampling.key_guidance, **sampling.key_guide_args
            )
            for t in music:
                for b in range(n):
                    guide.observe(b, t)
        max_new = sampling.max_tokens or _token_budget(target_bars, controls)
        # Speculative drafts need every row to accept the same number of tokens: batch 1.
        drafter = None
        if n == 1 and sampling.speculative:
            drafter = NGramDrafter(wildcard=self.grammar.pitch_of.keys())
        if drafter:
            drafter.extend(music)
        reprise = None
        label = theme_label or controls.section
        if theme and self.gate and label in self.gate.labels:
            if self.tok.bar_id is None:
                raise BadInputError("a theme to bring back needs a bar-based tokenization")
            reprise = Reprise(self.gate, label, theme, self.tok, n)
            start = len(music) if section_start is None else section_start
            if not 0 <= start <= len(music):
                raise BadInputError("the section must start inside the music given")
            for t in music[start:]:
                for b in range(n):
                    reprise.observe(b, t)

        def append(ids, lp=None) -> None:
            for b, t in enumerate(ids):
                if not states[b].done:
                    rows[b].append(t)
                    if lp is not None:
                        logprobs[b] += lp[b]
                    n_sampled[b] += 1
                    if guide:
                        guide.observe(b, t)
                    if reprise:
                        reprise.observe(b, t)
                states[b].update(t)
            if drafter:
                drafter.extend(ids[:1])

        def finished() -> bool:
            return all(s.done for s in states) or max(n_sampled) >= max_new

        def sample(logits):
            if max_new - max(n_sampled) <= 8:
                for s in states:
                    s.force_end = True
            forced = [s.forced() for s in states]
            if None not in forced:  # nothing to choose: log-probability 0
                return forced, None
            return self._sample(logits, states, rows, sampling, guide, use_cfg, gen, reprise)

        while not finished():
            # (Re)build the cache from each row's window, then decode until it fills.
            cache, logits = self._prefill(prefix, controls, rows, target_bars, text_emb, use_cfg)
            unfed: list[list[int]] = []  # appended to the rows, not yet in the cache
            while not finished():
                if not unfed:
                    ids, lp = sample(logits)
                    append(ids, lp)
                    unfed = [ids]
                # Tokens the grammar forces (one allowed id, e.g. TimeSig after Bar, the
                # Program of a solo voice) need no sampling: append them now and feed them
                # in the same forward pass.
                while not finished():
                    forced = [s.forced() for s in states]
                    if None in forced:
                        break
                    append(forced)
                    unfed.append(forced)
                if progress:
                    progress(max(s.bars_done() for s in states), target_bars)
                room = cache.max_len - cache.length
                if finished() or len(unfed) > room:
                    break  # done, or the window is full: rebuild it from the rows
                draft = []
                if drafter:
                    budget = max_new - max(n_sampled)
                    draft = drafter.propose(min(room - len(unfed), budget))
                feed = torch.tensor(unfed + [[d] for d in draft], device=self.device).T
                if use_cfg:
                    feed = torch.cat([feed, feed])
                out = self.model.step(feed, cache)
                logits = out[:, len(unfed) - 1]
                unfed = []
                accepted = 0
                for j, d in enumerate(draft):
                    ids, lp = sample(logits)
                    append(ids, lp)
                    if ids[0] != d:  # a fresh sample: drop the rest of the draft
                        cache.length -= len(draft) - j
                        unfed = [ids]
                        break
                    accepted += 1
                    if finished():
                        break
                    logits = out[:, -len(draft) + j]
                if drafter:
                    drafter.observe(len(draft), accepted)
        results = []
        for b in range(n):
            body = rows[b]
            if not states[b].done:  # budget exhausted mid-way: close cleanly
                body = body + [self.tok.eos_id]
            ids = prefix + body
            results.append(
                GenerationResult(ids, len(prefix), float(logprobs[b]), int(n_sampled[b]))
            )
        return results

    def _prefill(self, prefix, controls, rows, target_bars, text_emb, use_cfg):
        """A fresh cache holding each row's window, and the logits after it."""
        windows, pads = self._windows(prefix, controls, rows, target_bars)
        idx = torch.tensor(windows, device=self.device)
        B = idx.shape[0]
        te = use = None
        if text_emb is not None:
            te = text_emb.expand(B, -1)
            use = torch.ones(B, dtype=torch.bool, device=self.device)
        if use_cfg:  # second half of the batch: the same rows without the text
            idx = torch.cat([idx, idx])
            te = torch.cat([te, te])
            use = torch.cat([use, torch.zeros_like(use)])
            pads = pads + pads
        cache = self.model.new_cache(idx.shape[0])
        if any(pads):
            cache.left_pad = torch.tensor(pads, device=self.device)
        return cache, self.model(idx, te, use, cache=cache)[:, -1]

    def _windows(self, prefix, controls, rows, target_bars):
        """Each row's context: prefix + the tail of its music from a barline, left-padded.

        When a row fits in the block it is used whole. Otherwise the tail keeps about half
        the block, starting at a barline, and the Bars control says how many bars remain,
        exactly like a training crop that starts mid-piece.
        """
        block = self.model.cfg.block_size
        windows = []
        for row in rows:
            if len(prefix) + len(row) < block:
                windows.append(prefix + row)
                continue
            bar_starts = (
                [i for i, t in enumerate(row) if t == self.tok.bar_id]
                if self.tok.bar_id is not None
                else []
            )
            budget = block // 2
            cut = len(row) - budget
            later = [i for i in bar_starts if i >= cut]
            start = later[0] if later else cut
            bars_before = sum(1 for i in bar_starts if i < start)
            remaining = max(1, target_bars - bars_before)
            c = Controls(
                **{**controls.to_dict(), "bars": min(remaining, MAX_BARS), "section": "middle"}
            )
            windows.append(self.tok.prefix_ids(c) + row[start:])
        longest = max(len(w) for w in windows)
        pads = [longest - len(w) for w in windows]
        padded = [[self.tok.pad_id] * p + w for w, p in zip(windows, pads, strict=True)]
        return padded, pads

    def _sample(
        self, logits, states: list[SequenceState], rows, sampling, guide, use_cfg, gen, reprise=None
    ):
        n = len(states)
        logits = logits.float()
        if use_cfg:
            cond, uncond = logits[:n], logits[n:]
            base = cond
            logits = uncond + sampling.cfg_scale * (cond - uncond)
        else:
            base = logits
        if sampling.repetition_penalty != 1.0:
            W = sampling.repetition_window
            hist = [r[-W:] for r in rows]
            width = max((len(h) for h in hist), default=0)
            if width:
                h = torch.full((n, width), self.tok.pad_id, dtype=torch.long)
                for b, r in enumerate(hist):
                    if r:
                        h[b, : len(r)] = torch.tensor(r)
                logits = apply_repetition_penalty(
                    logits,
                    h.to(logits.device),
                    sampling.repetition_penalty,
                    self.grammar.penalizable,
                )
        if reprise is not None:  # before the key guide, which steers what is sampled
            logits, base = reprise.apply(logits, base)
        if guide is not None:
            logits = guide.apply(logits)
        # A requested voice that has not played after the first bar is invited in (the
        # grammar also keeps the piece from ending without it).
        for b, s in enumerate(states):
            if s.bar >= 2 and (ids := s.missing_program_ids()):
                logits = logits.clone() if logits is base else logits
                logits[b, ids] += MISSING_VOICE_BONUS
        if self.tok.bar_id is not None:
            # In the last requested bar a new Bar is not allowed: the model's wish to start
            # one means "this bar is over", which is the end of the piece. Give that
            # probability to EOS instead of letting the bar fill up with extra notes.
            last = [b for b, s in enumerate(states) if s.at_last_bar()]
            if last:
                eos, bar = self.tok.eos_id, self.tok.bar_id
                logits = logits.clone()  # `base` may be the same tensor
                logits[last, eos] = torch.logaddexp(logits[last, eos], logits[last, bar])
        if n == 1:  # the batch-1 path: a few hundred numbers, cheaper in NumPy
            u = float(torch.rand(1, generator=gen))
            token, lp = sample_row(
                logits[0].cpu().numpy(),
                base[0].cpu().numpy(),
                states[0].allowed().cpu().numpy(),
                sampling.top_k,
                sampling.top_p,
                sampling.temperature,
                u,
            )
            return [token], np.array([lp])
        blocked = ~torch.stack([s.allowed() for s in states])
        logits = logits.masked_fill(blocked, float("-inf"))
        if sampling.temperature != 1.0:
            logits = logits / sampling.temperature
        next_ids = sample_top_k_top_p(logits, sampling.top_k, sampling.top_p, gen).view(-1, 1)
        base = base.masked_fill(blocked, float("-inf"))
        lp = base.gather(1, next_ids) - torch.logsumexp(base, dim=-1, keepdim=True)
        return next_ids.view(-1).tolist(), lp.view(-1).cpu().numpy()


def _token_budget(bars: int, controls: Controls) -> int:
    """A generous cap on generated tokens for `bars` bars (the grammar ends sooner)."""
    voices = len(controls.instruments) if controls.instruments else 4
    return int(bars * (40 + 60 * voices)) + 64

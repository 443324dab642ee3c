"""The decode loop: batched, over a preallocated KV cache, grammar-constrained.

No Hugging Face `generate()`: owning the loop is what lets us constrain every step, guide
with the text (classifier-free guidance), and slide the context window for pieces longer
than the model's block (the cache is rebuilt once per shift, from a barline, keeping the
conditioning prefix).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..controls import MAX_BARS, Controls, key_pitch_class
from ..errors import BadInputError
from ..model import MusicTransformer
from ..tokens.tokenizer import MusicTokenizer
from .grammar import Grammar, SequenceState
from .sampling import SamplingConfig, apply_repetition_penalty, filter_top_k_top_p

log = logging.getLogger(__name__)

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # natural + raised 7th (harmonic minor's leading tone)


@dataclass
class GenerationResult:
    """Token ids of one generated sequence and its mean log-likelihood per token."""

    ids: list[int]  # full sequence: BOS, controls, music, EOS
    music_start: int  # index of the first music token
    logprob: float  # sum of log-probabilities of the sampled tokens (unguided model)
    n_sampled: int


class Engine:
    """Generates token sequences from controls, text and an optional music prompt."""

    def __init__(self, model: MusicTransformer, tokenizer: MusicTokenizer) -> None:
        self.model = model.eval()
        self.tok = tokenizer
        self.device = next(model.parameters()).device
        self.grammar = Grammar(tokenizer, self.device)
        self._key_masks: dict[str, torch.Tensor] = {}

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

    def key_mask(self, key: str) -> torch.Tensor:
        """True on pitch tokens outside the key's scale (harmonic minor for minor keys)."""
        if key not in self._key_masks:
            pc, mode = key_pitch_class(key)
            scale = {(pc + d) % 12 for d in (MAJOR_SCALE if mode == "major" else MINOR_SCALE)}
            m = torch.zeros(self.tok.vocab_size, dtype=torch.bool)
            for i, p in self.grammar.pitch_of.items():
                if self.grammar.type_of[i] in ("Pitch", "NoteOn") and p % 12 not in scale:
                    m[i] = True
            self._key_masks[key] = m.to(self.device)
        return self._key_masks[key]

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
    ) -> list[GenerationResult]:
        """`n` sequences (a batch) for one set of conditions.

        `prompt_music`: music token ids to continue (kept exactly). Generation stops at the
        requested bars (controls.bars, else sampling.max_bars) counted from the start.
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
        n_sampled = np.zeros(n, dtype=np.int64)
        key_mask = self.key_mask(controls.key) if controls.key and sampling.key_bias else None
        max_new = sampling.max_tokens or _token_budget(target_bars, controls)
        block = self.model.cfg.block_size
        step = 0
        while step < max_new and not all(s.done for s in states):
            # (Re)build the cache from each row's window, then decode until it fills.
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
            logits = self.model(idx, te, use, cache=cache)[:, -1]
            room = block - idx.shape[1]
            while room > 0 and step < max_new and not all(s.done for s in states):
                if max_new - step <= 8:
                    for s in states:
                        s.force_end = True
                next_ids, lp = self._sample(logits, states, rows, sampling, key_mask, use_cfg, gen)
                for b, t in enumerate(next_ids):
                    if not states[b].done:
                        rows[b].append(t)
                        logprobs[b] += lp[b]
                        n_sampled[b] += 1
                    states[b].update(t)
                step += 1
                room -= 1
                if progress:
                    progress(max(s.bars_done() for s in states), target_bars)
                if all(s.done for s in states) or room == 0:
                    break
                feed = torch.tensor(next_ids, device=self.device).view(-1, 1)
                if use_cfg:
                    feed = torch.cat([feed, feed])
                logits = self.model(feed, cache=cache)[:, -1]
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

    def _sample(self, logits, states: list[SequenceState], rows, sampling, key_mask, use_cfg, gen):
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
        if key_mask is not None:
            logits = logits - sampling.key_bias * key_mask.float()
        if self.tok.bar_id is not None:
            # In the last requested bar a new Bar is not allowed: the model's wish to start
            # one means "this bar is over", which is the end of the piece. Give that
            # probability to EOS instead of letting the bar fill up with extra notes.
            last = [b for b, s in enumerate(states) if s.at_last_bar()]
            if last:
                eos, bar = self.tok.eos_id, self.tok.bar_id
                logits[last, eos] = torch.logaddexp(logits[last, eos], logits[last, bar])
        allowed = torch.stack([s.allowed() for s in states])
        logits = logits / sampling.temperature
        logits = logits.masked_fill(~allowed, float("-inf"))
        filtered = filter_top_k_top_p(logits, sampling.top_k, sampling.top_p)
        probs = torch.softmax(filtered, dim=-1).cpu()
        next_ids = torch.multinomial(probs, 1, generator=gen).view(-1)
        base_lp = torch.log_softmax(base.masked_fill(~allowed, float("-inf")), dim=-1).cpu()
        lp = base_lp.gather(1, next_ids.view(-1, 1)).view(-1).numpy()
        return next_ids.tolist(), lp


def _token_budget(bars: int, controls: Controls) -> int:
    """A generous cap on generated tokens for `bars` bars (the grammar ends sooner)."""
    voices = len(controls.instruments) if controls.instruments else 4
    return int(bars * (40 + 60 * voices)) + 64

"""Draft tokens for speculative decoding, looked up in the piece's own past.

Music repeats itself: a reel plays its phrase twice, a chorale voice holds its rhythm. So
the tokens that followed the last occurrence of the current n-gram are a good guess for
what comes next ("prompt lookup decoding"). The engine feeds the guesses together with the
real token in one forward pass, then samples each position as usual and keeps the guesses
only while the sample equals them: the output distribution is exactly that of plain
sampling, and every accepted guess saves a forward pass.

Two sources of guesses, merged:
- the n-gram of the last tokens, pitches included: long guesses where a passage repeats;
- the rhythm skeleton, the same n-grams with every pitch replaced by a wildcard: after a
  note at Position p with Duration d, the Position (or Bar) that followed such a note last
  time, its Program, and the Duration a note at that position had. Melodies vary far more
  than their rhythm, so this guesses the structural tokens between two pitches far more
  often (measured in docs/BENCHMARKS.md), and stops at the next pitch.
The n-gram guess is used where it agrees with the skeleton's, or where the skeleton has
none; otherwise the skeleton's.
"""

from __future__ import annotations

from collections.abc import Collection

WILDCARD = -1


class NGramDrafter:
    """Proposes tokens that followed the latest earlier match of the suffix.

    `wildcard`: ids the rhythm skeleton ignores (pitches); empty disables the skeleton.
    The draft length adapts to how well guesses are doing (as in Hugging Face's assisted
    generation schedule): +2 after a fully accepted draft, -1 after a rejection, between 1
    and `max_k`; long wrong drafts cost more than they save.
    """

    def __init__(
        self,
        orders: tuple[int, ...] = (4, 2),
        k: int = 4,
        max_k: int = 8,
        wildcard: Collection[int] = (),
        skeleton_orders: tuple[int, ...] = (4, 3),
    ) -> None:
        self.orders = orders
        self.k = k
        self.max_k = max_k
        self.tokens: list[int] = []
        # n-gram -> index of the token that followed its latest occurrence
        self.follower: dict[tuple[int, ...], int] = {}
        self.wildcard = frozenset(wildcard)
        self.skeleton_orders = skeleton_orders if self.wildcard else ()
        self.skeleton: list[int] = []  # the tokens with pitches replaced by WILDCARD
        self.skeleton_follower: dict[tuple[int, ...], int] = {}

    def extend(self, tokens) -> None:
        for t in tokens:
            self.tokens.append(t)
            end = len(self.tokens) - 1  # index of `t`: it follows the n-gram before it
            for n in self.orders:
                if end >= n:
                    self.follower[tuple(self.tokens[end - n : end])] = end
            if self.skeleton_orders:
                self.skeleton.append(WILDCARD if t in self.wildcard else t)
                for n in self.skeleton_orders:
                    if end >= n:
                        self.skeleton_follower[tuple(self.skeleton[end - n : end])] = end

    def observe(self, proposed: int, accepted: int) -> None:
        """Adapt the draft length after a verification."""
        if proposed:
            self.k = min(self.max_k, self.k + 2) if accepted == proposed else max(1, self.k - 1)

    def propose(self, limit: int | None = None) -> list[int]:
        k = self.k if limit is None else min(self.k, limit)
        if k <= 0:
            return []
        guess = self._ngram(k)
        rhythm = self._skeleton(k)
        if rhythm and guess[: len(rhythm)] != rhythm:
            return rhythm
        return guess

    def _ngram(self, k: int) -> list[int]:
        for n in self.orders:
            if len(self.tokens) < n:
                continue
            start = self.follower.get(tuple(self.tokens[-n:]))
            if start is not None:
                return self.tokens[start : start + k]
        return []

    def _skeleton(self, k: int) -> list[int]:
        """Structural tokens up to the next pitch, from the rhythm skeleton."""
        if not self.skeleton_orders:
            return []
        context = self.skeleton[-max(self.skeleton_orders) :]
        out: list[int] = []
        while len(out) < k:
            nxt = None
            for n in self.skeleton_orders:
                if len(context) >= n:
                    i = self.skeleton_follower.get(tuple(context[-n:]))
                    if i is not None:
                        nxt = self.tokens[i]
                        break
            if nxt is None or nxt in self.wildcard:
                break
            out.append(nxt)
            context.append(nxt)
        return out

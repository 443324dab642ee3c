"""Draft tokens for speculative decoding, looked up in the piece's own past.

Music repeats itself: a reel plays its phrase twice, a chorale voice holds its rhythm. So
the tokens that followed the last occurrence of the current n-gram are a good guess for
what comes next ("prompt lookup decoding"). The engine feeds the guesses together with the
real token in one forward pass, then samples each position as usual and keeps the guesses
only while the sample equals them: the output distribution is exactly that of plain
sampling, and every accepted guess saves a forward pass.
"""

from __future__ import annotations


class NGramDrafter:
    """Proposes tokens that followed the latest earlier match of the suffix.

    The draft length adapts to how well guesses are doing (as in Hugging Face's assisted
    generation schedule): +2 after a fully accepted draft, -1 after a rejection, between 1
    and `max_k`; long wrong drafts cost more than they save.
    """

    def __init__(self, orders: tuple[int, ...] = (4, 2), k: int = 4, max_k: int = 8) -> None:
        self.orders = orders
        self.k = k
        self.max_k = max_k
        self.tokens: list[int] = []
        # n-gram -> index of the token that followed its latest occurrence
        self.follower: dict[tuple[int, ...], int] = {}

    def extend(self, tokens) -> None:
        for t in tokens:
            self.tokens.append(t)
            end = len(self.tokens) - 1  # index of `t`: it follows the n-gram before it
            for n in self.orders:
                if end >= n:
                    self.follower[tuple(self.tokens[end - n : end])] = end

    def observe(self, proposed: int, accepted: int) -> None:
        """Adapt the draft length after a verification."""
        if proposed:
            self.k = min(self.max_k, self.k + 2) if accepted == proposed else max(1, self.k - 1)

    def propose(self, limit: int | None = None) -> list[int]:
        k = self.k if limit is None else min(self.k, limit)
        if k <= 0:
            return []
        for n in self.orders:
            if len(self.tokens) < n:
                continue
            start = self.follower.get(tuple(self.tokens[-n:]))
            if start is not None:
                return self.tokens[start : start + k]
        return []

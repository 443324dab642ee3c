"""Incremental token decoder: REMI tokens in, complete notes out, one token at a time.

A batch decode (`MusicTokenizer.decode`) needs the whole sequence; a live stream cannot
wait. In REMI a note is complete when its Duration token arrives (Position, Program,
Pitch, Duration), so the decoder emits it right then, timed in quarter notes from the
stream's origin. `horizon` is the time before which no further note can start: the
scheduler may play everything before it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..conditioning.instruments import DRUMS
from ..errors import BadInputError
from ..tokens.tokenizer import MusicTokenizer

DEFAULT_VELOCITY = 80
POSITIONS_PER_BEAT = 8  # the tokenizers' finest resolution (beat = the meter's denominator)


@dataclass(frozen=True)
class Note:
    """A decoded note; times in quarter notes from the stream's origin."""

    start: float
    duration: float
    pitch: int
    slot: int  # voice slot (Program token value; -1 = drums)
    velocity: int = DEFAULT_VELOCITY


@dataclass
class DecoderState:
    bar_start: float = 0.0  # quarter notes
    bar_len: float = 4.0  # quarter notes in the current bar
    beat: float = 1.0  # quarter notes per meter beat (4 / denominator)
    cursor: float = 0.0  # time of the current Position
    slot: int = 0
    pitch: int | None = None
    bars: int = 0  # Bar tokens seen
    origin: float = 0.0  # where the next bar starts when no bar has been seen yet


class IncrementalDecoder:
    """Turns REMI / REMI+ token ids into `Note`s as soon as each note is complete."""

    def __init__(self, tokenizer: MusicTokenizer, origin: float = 0.0) -> None:
        if tokenizer.bar_id is None:
            raise BadInputError(
                f"streaming needs a bar-based tokenization (REMI or REMI+), not {tokenizer.name}"
            )
        self.tok = tokenizer
        kinds: dict[int, tuple[str, str]] = {}
        for i in range(tokenizer.music_vocab_size):
            kind, _, value = tokenizer.token(i).partition("_")
            kinds[i] = (kind, value)
        self._kinds = kinds
        self.state = DecoderState(cursor=origin, bar_start=origin, origin=origin)

    # -- state ------------------------------------------------------------------------------
    @property
    def horizon(self) -> float:
        """No note decoded later can start before this time (quarter notes)."""
        return self.state.cursor

    def snapshot(self) -> DecoderState:
        return replace(self.state)

    def restore(self, state: DecoderState) -> None:
        self.state = replace(state)

    def restart_at(self, time: float) -> None:
        """Forget the bar grid: the next Bar token starts at `time` (after a panic)."""
        self.state = DecoderState(cursor=time, bar_start=time, origin=time)

    # -- decoding ---------------------------------------------------------------------------
    def feed(self, token_id: int) -> Note | None:
        """Advance by one token; the note it completes, if any."""
        kind, value = self._kinds.get(int(token_id), ("", ""))
        s = self.state
        if kind == "Bar":
            s.bar_start = s.origin if s.bars == 0 else s.bar_start + s.bar_len
            s.bars += 1
            s.cursor = s.bar_start
        elif kind == "TimeSig":
            num, den = (int(x) for x in value.split("/"))
            s.beat = 4.0 / den
            s.bar_len = num * s.beat
        elif kind == "Position":
            s.cursor = s.bar_start + int(value) / POSITIONS_PER_BEAT * s.beat
        elif kind == "Rest":
            s.cursor += _beats(value) * s.beat
        elif kind == "Program":
            s.slot = int(value)
        elif kind in ("Pitch", "PitchDrum"):
            s.pitch = int(value)
        elif kind == "Duration" and s.pitch is not None:
            note = Note(s.cursor, _beats(value) * s.beat, s.pitch, s.slot)
            s.pitch = None
            return note
        return None

    def feed_all(self, ids) -> list[Note]:
        return [n for i in ids if (n := self.feed(i)) is not None]


def _beats(value: str) -> float:
    """'1.2.8' -> 1 + 2/8 beats (MidiTok's duration notation)."""
    a, b, res = (int(x) for x in value.split("."))
    return a + b / res


def channel_for(slot: int) -> int:
    """MIDI channel of a voice slot: drums on channel 10 (index 9), voices skip it."""
    if slot == DRUMS:
        return 9
    return slot if slot < 9 else slot + 1

"""MidiTok tokenizations (REMI, REMI+, MIDILike) plus tunesmith's control vocabulary.

Sequence layout, the same in training and generation:

    BOS  Style_* Key_* Meter_* Tempo_* Bars_* Section_* Instr_*...  Controls_end  music...  EOS

Extensions (model v2, `extensions=("harmony", "infill")`; a v1 tokenizer has none, so v1
models keep loading): `Harmony_<root>:<quality>` (or `Harmony_none`) right after each
bar's TimeSig token, the chord of that bar (harmony.py), and the infill markers of
harmony.py's sequence layouts. Both are appended after the control tokens, so the ids of
every v1 token are unchanged and a v1 model's weights carry over into a v2 fine-tune.

Voices: MidiTok merges tracks that share a program when it writes one token stream, which
would fold a 4-voice chorale (four choir parts) into one track. So the Program tokens in
the music carry *voice slots* (track 0, 1, 2, ... -> Program_0, Program_1, ...; drums keep
-1), and the GM program of each slot is the slot's `Instr_*` control. Decoding maps the
slots back, so every voice comes out as its own playable track.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import symusic
from miditok import REMI, MIDILike, TokenizerConfig
from miditok.classes import TokSequence

from ..conditioning.controls import MAX_VOICES, Controls, control_token_names, controls_to_tokens
from ..conditioning.instruments import DRUMS
from ..errors import BadInputError, CheckpointError
from ..fileio import atomic_write_json
from ..music.chords import QUALITIES

TOKENIZATIONS = ("REMI", "REMI+", "MIDILike")
TICKS_PER_QUARTER = 480
DEFAULT_VELOCITY = 80
_TIME_SIGNATURES = {8: [3, 5, 6, 7, 9, 12], 4: [1, 2, 3, 4, 5, 6], 2: [2, 3, 4]}
EXTENSIONS = ("harmony", "infill")
HARMONY_NONE = "Harmony_none"
# Infill layouts (harmony.py): bars before the hole, bars after it, the parts given, and
# where the music to write begins.
INFILL_TOKENS = ("Infill_before", "Infill_after", "Infill_part", "Infill_begin")
# Where the bars after a hole go in a bar-infill sequence (layouts.bar_infill_context):
# "psm" prefix-suffix-middle (the bars before, then after, then the hole), "spm" suffix-
# prefix-middle (the bars after first, so the hole directly continues the bars before it).
INFILL_ORDERS = ("psm", "spm")


def harmony_token_names() -> list[str]:
    return [HARMONY_NONE] + [f"Harmony_{r}:{q}" for r in range(12) for q in QUALITIES]


def extension_token_names(extensions: tuple[str, ...]) -> list[str]:
    names: list[str] = []
    if "harmony" in extensions:
        names += harmony_token_names()
    if "infill" in extensions:
        names += list(INFILL_TOKENS)
    return names


def _miditok_config(name: str) -> TokenizerConfig:
    """The MidiTok configuration behind each tokenization name."""
    common = dict(
        pitch_range=(21, 109),
        beat_res={(0, 4): 8, (4, 12): 4},
        use_velocities=False,  # the bundled corpus carries no dynamics worth modelling
        use_programs=True,
        programs=list(range(MAX_VOICES)) + [DRUMS],  # voice slots, see module docstring
        one_token_stream_for_programs=True,
        use_time_signatures=True,  # bars follow the real meter, not an assumed 4/4
        time_signature_range=_TIME_SIGNATURES,
        use_tempos=False,  # tempo is a control; decoding sets it
    )
    if name == "REMI":
        return TokenizerConfig(**common)
    if name == "REMI+":
        return TokenizerConfig(**common, use_chords=True, use_rests=True)
    if name == "MIDILike":
        return TokenizerConfig(**common)
    raise BadInputError(f"unknown tokenization {name!r}; choose one of: {', '.join(TOKENIZATIONS)}")


@dataclass(frozen=True)
class TokenizedPiece:
    """Music token ids of one piece (no BOS/controls/EOS) and its bar start offsets."""

    ids: np.ndarray  # int32
    bar_starts: np.ndarray  # int32 indexes into ids where each bar begins


class MusicTokenizer:
    """A MidiTok tokenizer with tunesmith's control tokens appended to its vocabulary."""

    def __init__(
        self, name: str = "REMI", extensions: tuple[str, ...] = (), infill_order: str = "psm"
    ) -> None:
        if name not in TOKENIZATIONS:
            raise BadInputError(
                f"unknown tokenization {name!r}; choose one of: {', '.join(TOKENIZATIONS)}"
            )
        unknown = [e for e in extensions if e not in EXTENSIONS]
        if unknown:
            raise BadInputError(
                f"unknown tokenizer extension {unknown[0]!r}; choose from: {', '.join(EXTENSIONS)}"
            )
        if extensions and name != "REMI":
            raise BadInputError("harmony and infill tokens are defined for the REMI tokenization")
        if infill_order not in INFILL_ORDERS:
            raise BadInputError(
                f"unknown infill order {infill_order!r}; choose from: {', '.join(INFILL_ORDERS)}"
            )
        self.name = name
        self.extensions = tuple(e for e in EXTENSIONS if e in extensions)
        # A layout choice, not a vocabulary one: the token dataset is the same for both.
        self.infill_order = infill_order
        cls = MIDILike if name == "MIDILike" else REMI
        self.miditok = cls(_miditok_config(name))
        base = self.miditok.vocab  # token string -> id
        self.music_vocab_size = len(base)
        self.control_names = control_token_names()
        self._vocab: dict[str, int] = dict(base)
        for i, tok in enumerate(self.control_names):
            self._vocab[tok] = self.music_vocab_size + i
        for tok in extension_token_names(self.extensions):
            self._vocab[tok] = len(self._vocab)
        self._id_to_token = {i: t for t, i in self._vocab.items()}
        self.pad_id = base["PAD_None"]
        self.bos_id = base["BOS_None"]
        self.eos_id = base["EOS_None"]
        self.controls_end_id = self._vocab["Controls_end"]
        self.bar_id = base.get("Bar_None")  # None for MIDILike, which has no bar tokens

    # -- vocabulary -----------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self._vocab)

    @property
    def has_harmony(self) -> bool:
        return "harmony" in self.extensions

    @property
    def has_infill(self) -> bool:
        return "infill" in self.extensions

    @property
    def dir_name(self) -> str:
        """The token dataset folder name: the tokenization, then its extensions."""
        return "-".join([self.name, *self.extensions])

    def token_id(self, token: str) -> int:
        return self._vocab[token]

    def token(self, token_id: int) -> str:
        return self._id_to_token[int(token_id)]

    def tokens(self, ids) -> list[str]:
        return [self._id_to_token[int(i)] for i in ids]

    def ids_with_prefix(self, prefix: str) -> list[int]:
        """Ids of every token whose name starts with `prefix` (e.g. 'Pitch_')."""
        return [i for t, i in self._vocab.items() if t.startswith(prefix)]

    # -- controls -----------------------------------------------------------------------
    def control_ids(self, controls: Controls) -> list[int]:
        return [self._vocab[t] for t in controls_to_tokens(controls)]

    def prefix_ids(self, controls: Controls) -> list[int]:
        """BOS followed by the control tokens: the start of every sequence."""
        return [self.bos_id, *self.control_ids(controls)]

    # -- music -----------------------------------------------------------------------------
    def _to_voice_slots(self, score: symusic.Score) -> symusic.Score:
        """A copy whose tracks carry voice slots as programs (drums stay drums)."""
        out = score.copy()
        tracks = [t for t in out.tracks if len(t.notes) > 0][:MAX_VOICES]
        out.tracks = type(out.tracks)()  # keep symusic's own track-list type
        for slot, track in enumerate(tracks):
            track.program = 0 if track.is_drum else slot
            out.tracks.append(track)
        return out

    def encode_music(self, score: symusic.Score) -> TokenizedPiece:
        """Music token ids of a Score (voices become slots in track order)."""
        if sum(len(t.notes) for t in score.tracks) == 0:
            raise BadInputError("the MIDI holds no notes")
        seq = self.miditok.encode(self._to_voice_slots(score))
        if isinstance(seq, list):  # a tokenizer configured per track; ours is one stream
            seq = seq[0]
        ids = np.asarray(seq.ids, dtype=np.int32)
        bar_starts = self._bar_starts(ids)
        return TokenizedPiece(ids=ids, bar_starts=bar_starts)

    def _bar_starts(self, ids: np.ndarray) -> np.ndarray:
        if self.bar_id is not None:
            return np.flatnonzero(ids == self.bar_id).astype(np.int32)
        return self._midilike_bar_starts(ids)

    def _midilike_bar_starts(self, ids: np.ndarray) -> np.ndarray:
        """MIDILike has no Bar token: walk the time shifts and mark each barline.

        MidiTok counts time in beats of the time signature's denominator, so a bar is
        `numerator` beats long; a TimeSig token applies from the moment it appears.
        """
        starts: list[int] = []
        time = 0.0  # beats since the current time signature began
        bar_len, bars_done = 4.0, 0  # bars completed before the current time signature
        next_bar = 0.0
        for i, tok_id in enumerate(ids):
            tok = self._id_to_token[int(tok_id)]
            if tok.startswith("TimeSig_"):
                bars_done += int(np.ceil(time / bar_len - 1e-9)) if time > 0 else 0
                time, next_bar = 0.0, 0.0
                bar_len = float(tok[8:].split("/")[0])
            elif tok.startswith("TimeShift_"):
                a, b, res = (int(x) for x in tok[10:].split("."))
                time += a + b / res
            while time >= next_bar - 1e-9:
                starts.append(i)
                next_bar += bar_len
        return np.asarray(starts, dtype=np.int32)

    def decode(
        self,
        ids,
        programs: list[int] | None = None,
        tempo: float | None = None,
    ) -> symusic.Score:
        """A Score from a token sequence (BOS/controls/EOS are skipped).

        `programs` maps voice slots to GM programs; when None it is read from the
        sequence's own Instr_* controls, else piano. `tempo` likewise from Tempo_*.
        """
        ids = [int(i) for i in ids]
        controls = self.read_controls(ids)
        music = [i for i in ids if i < self.music_vocab_size and i not in self._special_ids]
        if programs is None:
            programs = controls.instruments or []
        if tempo is None:
            tempo = controls.tempo or 120.0
        score = self.miditok.decode(TokSequence(ids=music))
        score = score.resample(TICKS_PER_QUARTER)
        slots = []
        for track in score.tracks:
            slot = track.program
            slots.append(len(programs) + 128 if track.is_drum else slot)
            if track.is_drum:
                continue
            program = programs[slot] if slot < len(programs) else 0
            if program == DRUMS:
                track.is_drum = True
                track.program = 0
            else:
                track.program = program
            track.name = f"voice {slot + 1}"
        # Tracks in voice order, not in the order the voices first sound (a tenor may enter
        # before the alto): part N of a decoded piece is voice N.
        order = sorted(range(len(slots)), key=slots.__getitem__)
        if order != list(range(len(slots))):
            score.tracks = type(score.tracks)([score.tracks[i].copy() for i in order])
        for track in score.tracks:
            for note in track.notes:
                note.velocity = DEFAULT_VELOCITY
        score.tempos = type(score.tempos)()
        score.tempos.append(symusic.Tempo(0, float(tempo)))
        return score

    @property
    def _special_ids(self) -> set[int]:
        return {self.pad_id, self.bos_id, self.eos_id}

    def read_controls(self, ids) -> Controls:
        """The Controls written in a sequence's control tokens ('any' -> None)."""
        from ..conditioning.controls import (
            BAR_BINS,
            SECTIONS,
            STYLES,
            TEMPO_BINS,
            key_token,
            token_safe,
        )
        from ..music.keys import KEYS

        c = Controls()
        instruments: list[int] = []
        style_of = {token_safe(s): s for s in STYLES}
        key_of = {key_token(k): k for k in KEYS}
        for i in ids:
            i = int(i)
            if i < self.music_vocab_size:
                continue
            kind, _, value = self._id_to_token[i].partition("_")
            if value == "any" or kind == "Controls":
                continue
            if kind == "Style":
                c.style = style_of[value]
            elif kind == "Key":
                c.key = key_of[value]
            elif kind == "Meter":
                c.meter = value
            elif kind == "Tempo" and int(value) in TEMPO_BINS:
                c.tempo = float(value)
            elif kind == "Bars" and int(value) in BAR_BINS:
                c.bars = int(value)
            elif kind == "Section" and value in SECTIONS:
                c.section = value
            elif kind == "Instr":
                instruments.append(DRUMS if value == "drums" else int(value))
        c.instruments = instruments or None
        return c

    # -- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": "tunesmith-tokenizer/1",
            "tokenization": self.name,
            "miditok": self.miditok.config.to_dict(serialize=True),
            "controls": self.control_names,
            **({"extensions": list(self.extensions)} if self.extensions else {}),
            **({"infill_order": self.infill_order} if self.infill_order != "psm" else {}),
        }

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / "tokenizer.json"
        atomic_write_json(path, self.to_dict())
        return path

    @classmethod
    def load(cls, folder_or_file: str | Path) -> MusicTokenizer:
        path = Path(folder_or_file)
        if path.is_dir():
            path = path / "tokenizer.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise CheckpointError(f"cannot read tokenizer {str(path)!r}: {e}") from None
        if data.get("format") != "tunesmith-tokenizer/1":
            raise CheckpointError(f"{str(path)!r} is not a tunesmith tokenizer file")
        try:
            tok = cls(
                data["tokenization"],
                tuple(data.get("extensions", ())),
                data.get("infill_order", "psm"),
            )
        except BadInputError as e:
            raise CheckpointError(f"tokenizer {str(path)!r}: {e}") from None
        current = json.loads(json.dumps(tok.to_dict()))
        if current["controls"] != data["controls"] or current["miditok"] != data["miditok"]:
            raise CheckpointError(
                f"tokenizer {str(path)!r} was made by an incompatible tunesmith version"
            )
        return tok

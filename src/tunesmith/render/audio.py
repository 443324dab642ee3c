"""MIDI -> audio with a General MIDI soundfont, offline, mastered and encoded.

The synthesizer is `midirenderer` (Rust, rustysynth inside; a self-contained wheel with
no system libraries). symusic 0.6's own `Synthesizer.render` fails under numpy 2 and
`tinysoundfont` needs PyAudio built against system PortAudio, so neither installs and
runs from PyPI alone. rustysynth reads SF2 only: SF3 (Ogg-compressed samples, as in
MuseScore_General_Full.sf3) is refused with one clear line.

The soundfont, first found wins: the `soundfont` argument (`--soundfont`), then
$TUNESMITH_SOUNDFONT, then a better General MIDI SF2 installed by the system
(`SYSTEM_SOUNDFONTS`: Debian's musescore-general-soundfont-lossless, fluid-soundfont-gm),
then TimGM6mb.sf2 (6 MB, GPL-2) shipped inside the `pretty_midi` wheel. Nothing is
downloaded at run time.

midirenderer always renders 16-bit stereo at 48 kHz; other rates are made by FFT
resampling. Then (render/mastering.py) a light reverb and loudness normalisation to
-16 LUFS with a -1 dBTP true-peak ceiling; `loudness=None` peak-normalises to -1 dBFS
instead. WAV is written here; FLAC, Ogg Vorbis and MP3 through `soundfile` (libsndfile
>= 1.1 in its wheels writes all three).
"""

from __future__ import annotations

import importlib.util
import io
import logging
import math
import os
import struct
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import symusic

from ..errors import BadInputError
from ..fileio import atomic_write_bytes
from .mastering import (
    DEFAULT_REVERB,
    TARGET_LUFS,
    check_loudness,
    check_reverb,
    fft_size,
    master,
)
from .mastering import reverb as add_reverb

log = logging.getLogger(__name__)

SYNTH_RATE = 48_000  # what midirenderer produces, whatever is asked
MIN_RATE, MAX_RATE = 8_000, 192_000
PEAK = 10 ** (-1 / 20)  # -1 dBFS: room for inter-sample peaks after conversion
TAIL_S = 1.5  # let releases and reverb ring after the last note-off
MELODIC_CHANNELS = 15  # 16 MIDI channels less channel 10 (drums)
SOUNDFONT_ENV = "TUNESMITH_SOUNDFONT"


# -- soundfont --------------------------------------------------------------------------
# General MIDI SF2 files that system packages install, best first (Debian 12 paths, read
# from the packages' file lists). musescore-general-soundfont and -small install only SF3
# (/usr/share/sounds/sf3/MuseScore_General_{Full,Lite}.sf3), which rustysynth cannot read.
SYSTEM_SOUNDFONTS: tuple[tuple[str, str], ...] = (
    ("/usr/share/sounds/sf2/MuseScore_General_Full.sf2", "musescore-general-soundfont-lossless"),
    ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "fluid-soundfont-gm"),
    ("/usr/share/sounds/sf2/default-GM.sf2", "the system's default GM soundfont"),
)


@dataclass(frozen=True)
class Soundfont:
    """A soundfont file and why it was chosen (for logs, `explain` and benchmarks)."""

    path: Path
    source: str

    def __str__(self) -> str:
        return f"{self.path} ({self.source})"


def shipped_soundfont() -> Path:
    """TimGM6mb.sf2 inside the pretty_midi package, located without importing it (which
    would pull in its dependencies)."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        raise BadInputError(
            "no soundfont: install pretty_midi (it ships TimGM6mb.sf2), "
            f"name a soundfont file or set {SOUNDFONT_ENV} to an .sf2 file"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2"


def _sf_version(path: Path) -> tuple[int, int] | None:
    """The `ifil` version of an SF2/SF3 file (2.x or 3.x), None when it is not one."""
    try:
        with path.open("rb") as f:
            head = f.read(64)
    except OSError:
        return None
    at = head.find(b"ifil")
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk" or at < 0 or len(head) < at + 12:
        return None
    major, minor = struct.unpack("<HH", head[at + 8 : at + 12])
    return major, minor


def system_soundfonts() -> list[Soundfont]:
    """The installed system soundfonts that the synthesizer can read (SF2, not SF3)."""
    found, seen = [], set()
    for name, package in SYSTEM_SOUNDFONTS:
        path = Path(name)
        version = _sf_version(path)
        real = path.resolve() if path.exists() else path
        if version is None or version[0] != 2 or real in seen:
            continue
        seen.add(real)
        found.append(Soundfont(path, f"installed by {package}"))
    return found


def find_soundfont(soundfont: str | Path | None = None) -> Soundfont:
    """The soundfont to render with: the argument, $TUNESMITH_SOUNDFONT, the best
    installed system SF2 (`SYSTEM_SOUNDFONTS`), else the shipped TimGM6mb.sf2."""
    if soundfont:
        return Soundfont(Path(soundfont).expanduser(), "given")
    if env := os.environ.get(SOUNDFONT_ENV):
        return Soundfont(Path(env).expanduser(), f"${SOUNDFONT_ENV}")
    if system := system_soundfonts():
        return system[0]
    return Soundfont(shipped_soundfont(), "shipped with pretty_midi")


def default_soundfont() -> Path:
    """Path of the soundfont used when none is given (see `find_soundfont`)."""
    return find_soundfont().path


SF2_CHUNKS = (b"INFO", b"sdta", b"pdta")
PDTA_CHUNKS = (b"phdr", b"pbag", b"pmod", b"pgen", b"inst", b"ibag", b"imod", b"igen", b"shdr")


def _next_chunk(data: bytes, at: int, size: int) -> int:
    """Where the chunk after the one at `at` (of `size` bytes) starts. RIFF pads an odd
    size to even, but some writers do not (MuseScore_General_Lite.sf3's sdta list): when
    the byte after the data starts a chunk name, that is where the next one is."""
    end = at + 8 + size
    if size & 1 and not data[end : end + 4].isalnum():
        return end + 1
    return end


def check_soundfont(data: bytes, name: str) -> None:
    """Raise BadInputError unless `data` is a whole SF2 file: the RIFF sfbk header, an
    SF2 (not SF3) version, the INFO/sdta/pdta lists with their hydra chunks, and no
    chunk running past the end (a truncated download)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise BadInputError(f"{name} is not a soundfont (no RIFF sfbk header)")
    if struct.unpack("<I", data[4:8])[0] + 8 > len(data):
        raise BadInputError(f"{name} is truncated (the file is shorter than its header says)")
    lists: dict[bytes, tuple[int, int]] = {}
    at = 12
    while at + 8 <= len(data):
        tag, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        if at + 8 + size > len(data):
            raise BadInputError(f"{name} is truncated or corrupt (chunk {tag!r} runs past the end)")
        if tag == b"LIST":
            lists[data[at + 8 : at + 12]] = (at + 12, at + 8 + size)
        at = _next_chunk(data, at, size)
    missing = [t.decode() for t in SF2_CHUNKS if t not in lists]
    if missing:
        raise BadInputError(f"{name} is not a usable soundfont (missing {', '.join(missing)})")
    start, end = lists[b"INFO"]
    ifil = data.find(b"ifil", start, end)
    major = struct.unpack("<H", data[ifil + 8 : ifil + 10])[0] if ifil >= 0 else 0
    if major == 3:
        raise BadInputError(
            f"{name} is an SF3 soundfont (compressed samples), which the synthesizer "
            "(rustysynth) cannot read; use an SF2 file"
        )
    start, end = lists[b"pdta"]
    found = set()
    while start + 8 <= end:
        found.add(data[start : start + 4])
        start = _next_chunk(data, start, struct.unpack("<I", data[start + 4 : start + 8])[0])
    missing = [t.decode() for t in PDTA_CHUNKS if t not in found]
    if missing:
        raise BadInputError(f"{name} is a corrupt soundfont (missing {', '.join(missing)})")


@lru_cache(maxsize=2)
def _soundfont_bytes(path: Path) -> bytes:
    """Read and check an SF2 once (kept for the next render; the synthesizer parses it
    from memory)."""
    name = repr(str(path))
    if not path.exists():
        raise BadInputError(f"soundfont {name} does not exist")
    if path.is_dir():
        raise BadInputError(f"soundfont {name} is a folder, not an .sf2 file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BadInputError(f"cannot read soundfont {name}: {e.strerror}") from None
    check_soundfont(data, f"soundfont {name}")
    return data


def load_soundfont(soundfont: str | Path | None = None) -> Soundfont:
    """`find_soundfont`, read and checked (one BadInputError line when it cannot be used),
    so a bad --soundfont is reported before any model loads."""
    chosen = find_soundfont(soundfont)
    _soundfont_bytes(chosen.path)
    return chosen


# -- MIDI prepared for the synthesizer ------------------------------------------------------
def _num_notes(score: symusic.Score) -> int:
    return sum(len(t.notes) for t in score.tracks)


def _fit_channels(score: symusic.Score) -> None:
    """Merge melodic tracks that share a program when there are more than 15 of them.

    symusic hands out channels in track order and wraps past 16, which would play some
    tracks with another track's instrument.
    """
    melodic = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    if len(melodic) <= MELODIC_CHANNELS:
        return
    merged: dict[tuple[int, bool], symusic.Track] = {}
    for track in score.tracks:
        key = (track.program, track.is_drum)
        if key not in merged:
            merged[key] = track.copy()
            continue
        for events in ("notes", "controls", "pitch_bends", "pedals"):
            getattr(merged[key], events).extend(getattr(track, events))
    score.tracks = list(merged.values())
    if sum(not t.is_drum for t in score.tracks) > MELODIC_CHANNELS:
        log.warning("more than 15 melodic programs: some tracks will share a channel")


def _set_gain(score: symusic.Score, gain: float) -> None:
    """Scale every channel by `gain` with expression (CC11), whose gain goes as value**2."""
    scale = math.sqrt(gain)
    for track in score.tracks:
        for cc in track.controls:
            if cc.number == 11:
                cc.value = round(cc.value * scale)
        # first, so that a track's own expression at time 0 (scaled above) wins
        track.controls.insert(0, symusic.ControlChange(0, 11, round(127 * scale)))


def _midi_for_synth(score: symusic.Score, gain: float) -> bytes:
    """Standard MIDI bytes with channels fitted, a gain applied and a silent tail marker."""
    s = score.to("tick").copy()
    _fit_channels(s)
    if gain < 1.0:
        _set_gain(s, gain)
    end = max(t.end() for t in s.tracks if len(t.notes))
    qpm = s.tempos[-1].qpm if len(s.tempos) else 120.0
    tail = round(TAIL_S * qpm / 60 * s.ticks_per_quarter)
    s.markers.append(symusic.TextMeta(end + tail, "end"))
    return s.dumps_midi()


# -- rendering --------------------------------------------------------------------------
def _synthesize(midi: bytes, soundfont: bytes) -> np.ndarray:
    """(frames, 2) int16 at SYNTH_RATE."""
    import midirenderer

    try:
        wav = midirenderer.render_wave_from(soundfont, midi)
    except RuntimeError as e:  # rustysynth's own checks ("SoundFont error: ...")
        raise BadInputError(f"the soundfont cannot be used: {e}") from None
    with wave.open(io.BytesIO(wav)) as f:
        if f.getsampwidth() != 2 or f.getframerate() != SYNTH_RATE:
            raise RuntimeError(f"unexpected synthesizer output {f.getparams()}")
        frames = f.readframes(f.getnframes())
        channels = f.getnchannels()
    return np.frombuffer(frames, dtype="<i2").reshape(-1, channels)


def _resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling along axis 0 by zero-padded FFT (exact ratio, no scipy)."""
    if rate_in == rate_out or not len(x):
        return x
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    m = fft_size(-(-len(x) // down))
    n_in, n_out = m * down, m * up
    spectrum = np.fft.rfft(x, n=n_in, axis=0)
    y = np.fft.irfft(spectrum, n=n_out, axis=0) * (n_out / n_in)
    return y[: round(len(x) * up / down)].astype(np.float32)


def _check_rate(sample_rate: int) -> int:
    if not isinstance(sample_rate, int | np.integer) or not MIN_RATE <= sample_rate <= MAX_RATE:
        raise BadInputError(
            f"sample rate must be an integer {MIN_RATE}-{MAX_RATE} Hz, not {sample_rate!r}"
        )
    return int(sample_rate)


def render_audio(
    score: symusic.Score,
    sample_rate: int = 44100,
    soundfont: str | Path | None = None,
    reverb: float = DEFAULT_REVERB,
    loudness: float | None = TARGET_LUFS,
) -> np.ndarray:
    """Render `score` to stereo float32 of shape (frames, 2), mastered.

    Programs and drum tracks (`is_drum`, played on channel 10) are honoured. The synthesizer
    clips internally, so a clipped render is redone quieter (up to three times). Then
    `reverb` (0: off, 1: wet as loud as dry) and `loudness`: a target in LUFS with a -1 dBTP
    true-peak ceiling, or None to peak-normalise to -1 dBFS. `soundfont`: see
    `find_soundfont`.
    """
    rate = _check_rate(sample_rate)
    reverb = check_reverb(reverb)
    loudness = check_loudness(loudness)
    if not _num_notes(score):
        raise BadInputError("the score has no notes to render")
    chosen = find_soundfont(soundfont)
    sf = _soundfont_bytes(chosen.path)
    log.info("audio: soundfont %s", chosen)
    gain = 1.0
    for _ in range(4):
        pcm = _synthesize(_midi_for_synth(score, gain), sf)
        if pcm.size == 0 or np.abs(pcm).max() < 32767 or gain < 0.1:
            break
        gain *= 0.4
        log.debug("render clipped; retrying at gain %.3f", gain)
    audio = pcm.astype(np.float32) / 32768.0
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    audio = _resample(audio, SYNTH_RATE, rate)
    audio = add_reverb(audio, rate, reverb)
    if loudness is not None:
        audio, report = master(audio, rate, loudness)
        log.info(
            "audio: loudness %.1f -> %.1f LUFS, true peak %.1f dBTP, limited by %.1f dB",
            report.loudness_in, report.loudness_out, report.true_peak_db, report.limited_db,
        )  # fmt: skip
        return audio
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak > 0:
        audio *= PEAK / peak
    return audio


def _pcm16(audio: np.ndarray) -> np.ndarray:
    """(frames, channels) little-endian int16 for float audio in [-1, 1]; every format is
    quantised here, so a FLAC holds exactly the WAV's samples."""
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[:, None]
    return np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV file bytes for float audio in [-1, 1] of shape (frames, channels)."""
    pcm = _pcm16(audio)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as f:
        f.setnchannels(pcm.shape[1])
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(pcm.tobytes())
    return buf.getvalue()


# -- files -----------------------------------------------------------------------------------
# extension -> (libsndfile format, subtype, compression level: VBR quality, 0 = best)
ENCODINGS: dict[str, tuple[str, str, float | None]] = {
    ".flac": ("FLAC", "PCM_16", None),
    ".ogg": ("OGG", "VORBIS", 0.5),  # about 110-180 kbit/s
    ".mp3": ("MP3", "MPEG_LAYER_III", 0.3),  # VBR, about 120-170 kbit/s
}
AUDIO_FORMATS = (".wav", *ENCODINGS)
ENCODE_BLOCK = 1 << 15  # frames per write to the encoder
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def check_audio_format(ext: str, sample_rate: int = 44100) -> str:
    """`ext` (".wav", ".flac", ".ogg", ".mp3") lower-cased, or one BadInputError line."""
    ext = ext.lower()
    if ext not in AUDIO_FORMATS:
        raise BadInputError(
            f"unknown audio format {ext or '(none)'!r}; use one of: {', '.join(AUDIO_FORMATS)}"
        )
    if ext == ".mp3" and sample_rate not in MP3_RATES:
        raise BadInputError(
            f"MP3 cannot hold {sample_rate} Hz; use one of {', '.join(map(str, MP3_RATES))}"
        )
    return ext


def encode(audio: np.ndarray, sample_rate: int, ext: str) -> bytes:
    """File bytes of float audio (frames, channels) in the format of extension `ext`."""
    ext = check_audio_format(ext, sample_rate)
    if ext == ".wav":
        return wav_bytes(audio, sample_rate)
    try:
        import soundfile
    except ImportError:
        raise BadInputError(
            f"writing {ext} needs the soundfile package (pip install soundfile); or write .wav"
        ) from None
    fmt, subtype, level = ENCODINGS[ext]
    buf = io.BytesIO()
    # FLAC gets the WAV's int16 samples; the lossy encoders float (libsndfile 1.2.2's MP3
    # encoder garbles int16 input: a decoded sine correlated 0.46 with the original)
    pcm = _pcm16(audio) if ext == ".flac" else np.clip(audio, -1.0, 1.0).astype(np.float32)
    if pcm.ndim == 1:
        pcm = pcm[:, None]
    with soundfile.SoundFile(
        buf, "w", int(sample_rate), pcm.shape[1], subtype, format=fmt, compression_level=level
    ) as f:
        # in blocks: libsndfile 1.2.2's Vorbis encoder crashes (SIGSEGV) when handed about
        # a minute of audio in one write
        for start in range(0, len(pcm), ENCODE_BLOCK):
            f.write(pcm[start : start + ENCODE_BLOCK])
    return buf.getvalue()


@dataclass(frozen=True)
class AudioOptions:
    """How a piece sounds when rendered: the soundfont (None: `find_soundfont`), the
    reverb (0: off, 1: wet as loud as dry), the loudness target in LUFS (None: peak
    normalisation only) and the sample rate. The CLI's --soundfont/--reverb/--loudness,
    the API's keywords and the server's settings all end here."""

    soundfont: str | Path | None = None
    reverb: float = DEFAULT_REVERB
    loudness: float | None = TARGET_LUFS
    sample_rate: int = 44100

    def checked(self) -> AudioOptions:
        """The same options with every value checked and the soundfont read, so a bad
        one is one BadInputError line before any model loads."""
        _check_rate(self.sample_rate)
        check_reverb(self.reverb)
        check_loudness(self.loudness)
        load_soundfont(self.soundfont)
        return self

    def soundfont_used(self) -> Soundfont:
        """The soundfont a render with these options uses, and why."""
        return find_soundfont(self.soundfont)


def render_file(
    score: symusic.Score, path: str | os.PathLike, options: AudioOptions | None = None
) -> Path:
    """Render `score` to `path` (.wav, .flac, .ogg or .mp3 by its extension), written
    atomically: a file already there is replaced whole or left as it was."""
    o = options or AudioOptions()
    path = Path(path)
    check_audio_format(path.suffix, o.sample_rate)
    audio = render_audio(score, o.sample_rate, o.soundfont, o.reverb, o.loudness)
    atomic_write_bytes(path, encode(audio, o.sample_rate, path.suffix))
    return path


def render_wav(
    score: symusic.Score,
    path: str | os.PathLike,
    sample_rate: int = 44100,
    soundfont: str | Path | None = None,
    reverb: float = DEFAULT_REVERB,
    loudness: float | None = TARGET_LUFS,
) -> Path:
    """Render `score` to a 16-bit stereo WAV at `path`, written atomically; returns the path."""
    audio = render_audio(score, sample_rate, soundfont, reverb, loudness)
    path = Path(path)
    atomic_write_bytes(path, wav_bytes(audio, sample_rate))
    return path

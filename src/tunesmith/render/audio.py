"""MIDI -> audio with a General MIDI soundfont, offline.

The synthesizer is `midirenderer` (Rust, rustysynth inside; a self-contained wheel with
no system libraries). symusic 0.6's own `Synthesizer.render` fails under numpy 2 and
`tinysoundfont` needs PyAudio built against system PortAudio, so neither installs and
runs from PyPI alone. The soundfont is TimGM6mb.sf2 (6 MB, GPL-2) shipped inside the
`pretty_midi` wheel; `TUNESMITH_SOUNDFONT` or the `soundfont` argument picks another
SF2 file. Nothing is downloaded at run time.

midirenderer always renders 16-bit stereo at 48 kHz; other rates are made by FFT
resampling, and the result is peak-normalised to -1 dBFS.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import math
import os
import wave
from functools import lru_cache
from pathlib import Path

import numpy as np
import symusic

from ..errors import BadInputError
from ..fileio import atomic_write_bytes

log = logging.getLogger(__name__)

SYNTH_RATE = 48_000  # what midirenderer produces, whatever is asked
MIN_RATE, MAX_RATE = 8_000, 192_000
PEAK = 10 ** (-1 / 20)  # -1 dBFS: room for inter-sample peaks after conversion
TAIL_S = 1.5  # let releases and reverb ring after the last note-off
MELODIC_CHANNELS = 15  # 16 MIDI channels less channel 10 (drums)
SOUNDFONT_ENV = "TUNESMITH_SOUNDFONT"


# -- soundfont --------------------------------------------------------------------------
def default_soundfont() -> Path:
    """Path of the GM soundfont to use: $TUNESMITH_SOUNDFONT, else pretty_midi's TimGM6mb.

    The package is located without importing it, which would pull in its dependencies.
    """
    if env := os.environ.get(SOUNDFONT_ENV):
        return Path(env)
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        raise BadInputError(
            "no soundfont: install pretty_midi (it ships TimGM6mb.sf2) "
            f"or set {SOUNDFONT_ENV} to an .sf2 file"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2"


@lru_cache(maxsize=2)
def _soundfont_bytes(path: Path) -> bytes:
    """Read and check an SF2 once; rustysynth panics (not raises) on a malformed file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BadInputError(f"cannot read soundfont {str(path)!r}: {e.strerror}") from None
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise BadInputError(f"{str(path)!r} is not an SF2 soundfont (SF3 is not supported)")
    return data


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

    wav = midirenderer.render_wave_from(soundfont, midi)
    with wave.open(io.BytesIO(wav)) as f:
        if f.getsampwidth() != 2 or f.getframerate() != SYNTH_RATE:
            raise RuntimeError(f"unexpected synthesizer output {f.getparams()}")
        frames = f.readframes(f.getnframes())
        channels = f.getnchannels()
    return np.frombuffer(frames, dtype="<i2").reshape(-1, channels)


def _next_smooth(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n: FFT lengths that are fast."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling along axis 0 by zero-padded FFT (exact ratio, no scipy)."""
    if rate_in == rate_out or not len(x):
        return x
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    m = _next_smooth(-(-len(x) // down))
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
    score: symusic.Score, sample_rate: int = 44100, soundfont: str | Path | None = None
) -> np.ndarray:
    """Render `score` to stereo float32 of shape (frames, 2), peak-normalised to -1 dBFS.

    Programs and drum tracks (`is_drum`, played on channel 10) are honoured. The synthesizer
    clips internally, so a clipped render is redone quieter (up to three times) before
    normalising.
    """
    rate = _check_rate(sample_rate)
    if not _num_notes(score):
        raise BadInputError("the score has no notes to render")
    sf = _soundfont_bytes(Path(soundfont) if soundfont else default_soundfont())
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
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak > 0:
        audio *= PEAK / peak
    return audio


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV file bytes for float audio in [-1, 1] of shape (frames, channels)."""
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[:, None]
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as f:
        f.setnchannels(pcm.shape[1])
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(pcm.tobytes())
    return buf.getvalue()


def render_wav(
    score: symusic.Score,
    path: str | os.PathLike,
    sample_rate: int = 44100,
    soundfont: str | Path | None = None,
) -> Path:
    """Render `score` to a 16-bit stereo WAV at `path`, written atomically; returns the path."""
    audio = render_audio(score, sample_rate, soundfont)
    path = Path(path)
    atomic_write_bytes(path, wav_bytes(audio, sample_rate))
    return path

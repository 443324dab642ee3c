"""WAV rendering with the bundled GM soundfont: real files, real sound."""

from __future__ import annotations

import wave

import numpy as np
import pytest
import symusic

from tunesmith.errors import BadInputError
from tunesmith.render.audio import PEAK, TAIL_S, _resample, render_audio, render_wav

TPQ = 480


def make_score(tracks: list[tuple[int, bool, list[int]]], beats: int = 4, qpm: float = 120.0):
    """One note per beat per track: (program, is_drum, pitches cycled)."""
    score = symusic.Score(TPQ)
    score.tempos.append(symusic.Tempo(0, qpm))
    for program, is_drum, pitches in tracks:
        track = symusic.Track(program=program, is_drum=is_drum)
        for i in range(beats):
            track.notes.append(symusic.Note(i * TPQ, TPQ, pitches[i % len(pitches)], 100))
        score.tracks.append(track)
    return score


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_render_wav_writes_valid_stereo_wave(tmp_path):
    score = make_score([(0, False, [60, 64, 67]), (32, False, [36, 43])], beats=4)  # 2 s
    path = render_wav(score, tmp_path / "out.wav", sample_rate=22050)

    assert path == tmp_path / "out.wav"
    head = path.read_bytes()[:12]
    assert head[:4] == b"RIFF" and head[8:12] == b"WAVE"
    with wave.open(str(path)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (2, 2, 22050)
        seconds = f.getnframes() / f.getframerate()
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    assert 2.0 <= seconds <= 2.0 + TAIL_S + 0.1
    assert rms(pcm / 32768.0) > 0.02
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temp file left behind


def test_render_audio_is_normalised_float_stereo():
    audio = render_audio(make_score([(0, False, [72])], beats=2), sample_rate=44100)
    assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[1] == 2
    assert np.abs(audio).max() == pytest.approx(PEAK, rel=1e-3)


def test_drum_track_makes_sound_and_uses_the_drum_kit():
    kit = [36, 38, 42, 46]
    drums = render_audio(make_score([(0, True, kit)]), sample_rate=22050)
    as_piano = render_audio(make_score([(0, False, kit)]), sample_rate=22050)
    assert rms(drums[: 2 * 22050]) > 0.02
    assert drums.shape == as_piano.shape
    assert not np.allclose(drums, as_piano, atol=1e-2)


def test_programs_change_the_sound():
    piano = render_audio(make_score([(0, False, [60])]), sample_rate=22050)
    strings = render_audio(make_score([(48, False, [60])]), sample_rate=22050)
    assert not np.allclose(piano, strings, atol=1e-2)


def test_dense_score_does_not_clip():
    chords = [(p, False, [48, 52, 55, 60, 64, 67]) for p in (0, 19, 30, 48, 56, 61, 81)]
    score = make_score(chords, beats=2)
    for track in score.tracks:  # stack the six pitches into chords
        notes = list(track.notes)
        track.notes.clear()
        for n in notes:
            for p in (48, 52, 55, 60, 64, 67):
                track.notes.append(symusic.Note(n.time, n.duration, p, 127))
    audio = render_audio(score, sample_rate=22050)
    at_peak = np.mean(np.abs(audio) >= 0.999 * PEAK)
    assert at_peak < 1e-4  # a clipped render would sit on a flat top


def test_resample_keeps_pitch_and_length():
    t = np.arange(48000) / 48000
    sine = np.stack([np.sin(2 * np.pi * 1000 * t)] * 2, axis=1).astype(np.float32)
    out = _resample(sine, 48000, 44100)
    assert out.shape == (44100, 2)
    spectrum = np.abs(np.fft.rfft(out[:, 0]))
    assert np.argmax(spectrum) == pytest.approx(1000, abs=1)


def test_empty_score_is_bad_input(tmp_path):
    score = symusic.Score(TPQ)
    score.tracks.append(symusic.Track(program=0))
    with pytest.raises(BadInputError):
        render_wav(score, tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("rate", [0, 100, 10**6])
def test_absurd_sample_rate_is_bad_input(rate):
    with pytest.raises(BadInputError):
        render_audio(make_score([(0, False, [60])]), sample_rate=rate)


def test_soundfont_must_be_an_sf2(tmp_path):
    not_sf2 = tmp_path / "x.sf2"
    not_sf2.write_bytes(b"RIFF\0\0\0\0WAVEjunk")
    score = make_score([(0, False, [60])])
    with pytest.raises(BadInputError):
        render_audio(score, soundfont=not_sf2)
    with pytest.raises(BadInputError):
        render_audio(score, soundfont=tmp_path / "missing.sf2")

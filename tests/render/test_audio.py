"""WAV rendering with the bundled GM soundfont: real files, real sound."""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import pytest
import soundfile
import symusic

from tunesmith.errors import BadInputError
from tunesmith.render import audio as audio_module
from tunesmith.render.audio import (
    PEAK,
    SOUNDFONT_ENV,
    TAIL_S,
    AudioOptions,
    _resample,
    encode,
    find_soundfont,
    render_audio,
    render_file,
    render_wav,
    shipped_soundfont,
    system_soundfonts,
)
from tunesmith.render.mastering import (
    CEILING_DBTP,
    TARGET_LUFS,
    impulse_response,
    loudness,
    true_peak,
)
from tunesmith.render.piece import Piece

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
    reverb_tail = len(impulse_response(22050)) / 22050
    assert 2.0 <= seconds <= 2.0 + TAIL_S + reverb_tail + 0.1
    assert rms(pcm / 32768.0) > 0.02
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temp file left behind


def test_render_audio_is_normalised_float_stereo():
    score = make_score([(0, False, [72])], beats=2)
    audio = render_audio(score, sample_rate=44100, loudness=None)  # peak normalisation
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
    audio = render_audio(score, sample_rate=22050, reverb=0, loudness=None)
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


# -- soundfonts, mastering and formats (issue 21) ------------------------------------------
SHIPPED = shipped_soundfont()


def sixteen_bars():
    """Piano chords and a bass line, 16 beats at 120 bpm: enough for a loudness reading."""
    score = make_score([(0, False, [60, 64, 67, 72]), (32, False, [36, 43, 41, 38])], beats=16)
    return score


def test_shipped_soundfont_renders_at_the_loudness_target_under_the_ceiling():
    audio = render_audio(sixteen_bars(), 44100, soundfont=SHIPPED)
    assert loudness(audio, 44100) == pytest.approx(TARGET_LUFS, abs=0.5)
    assert 20 * np.log10(true_peak(audio)) <= CEILING_DBTP + 0.01
    quieter = render_audio(sixteen_bars(), 44100, soundfont=SHIPPED, loudness=-23)
    assert loudness(quieter, 44100) == pytest.approx(-23, abs=0.5)


def test_reverb_lengthens_and_changes_the_sound():
    dry = render_audio(sixteen_bars(), 22050, soundfont=SHIPPED, reverb=0, loudness=None)
    wet = render_audio(sixteen_bars(), 22050, soundfont=SHIPPED, loudness=None)
    assert len(wet) - len(dry) == len(impulse_response(22050)) - 1
    # after the last note's release the wet render still rings; the dry one is quieter
    end = len(dry) - round(0.3 * 22050)
    assert rms(wet[end : len(dry)]) > 2 * rms(dry[end:])
    with pytest.raises(BadInputError, match="reverb"):
        render_audio(sixteen_bars(), 22050, soundfont=SHIPPED, reverb=3)


def test_flac_holds_exactly_the_wav_samples(tmp_path):
    score = sixteen_bars()
    options = AudioOptions(soundfont=SHIPPED, sample_rate=22050)
    wav = render_file(score, tmp_path / "a.wav", options)
    flac = render_file(score, tmp_path / "a.flac", options)
    assert flac.read_bytes()[:4] == b"fLaC"
    pcm_wav, rate_wav = soundfile.read(wav, dtype="int16")
    pcm_flac, rate_flac = soundfile.read(flac, dtype="int16")
    assert rate_wav == rate_flac == 22050
    np.testing.assert_array_equal(pcm_flac, pcm_wav)
    assert flac.stat().st_size < wav.stat().st_size


@pytest.mark.parametrize(("ext", "magic"), [(".ogg", b"OggS"), (".mp3", None)])
def test_lossy_formats_decode_to_the_same_music(tmp_path, ext, magic):
    score = sixteen_bars()
    options = AudioOptions(soundfont=SHIPPED, sample_rate=44100)
    wav = render_file(score, tmp_path / "a.wav", options)
    lossy = render_file(score, tmp_path / f"a{ext}", options)
    head = lossy.read_bytes()[:4]
    assert head == magic if magic else (head[:3] == b"ID3" or head[0] == 0xFF)
    ref, _ = soundfile.read(wav, dtype="float32")
    got, rate = soundfile.read(lossy, dtype="float32")
    assert rate == 44100 and got.shape[1] == 2
    assert abs(len(got) - len(ref)) < 0.1 * 44100  # an encoder may pad a frame or two
    n = min(len(ref), len(got))
    # the encoder's delay, if any, found by cross-correlation, then the same waveform
    lags = range(0, 3000)
    a, b = ref[:n, 0], got[:n, 0]
    lag = max(lags, key=lambda k: float(np.dot(a[: n - k], b[k:n])))
    corr = np.corrcoef(a[: n - lag], b[lag:n])[0, 1]
    assert corr > 0.95
    assert loudness(got, 44100) == pytest.approx(loudness(ref, 44100), abs=1.0)
    assert lossy.stat().st_size < wav.stat().st_size / 4


def test_piece_save_picks_the_format_by_extension_and_names_the_ones_it_knows(tmp_path):
    piece = Piece(score=sixteen_bars())
    options = AudioOptions(soundfont=SHIPPED, sample_rate=22050)
    for ext in (".wav", ".flac", ".ogg"):
        path = piece.save(tmp_path / f"p{ext}", audio=options)
        _, rate = soundfile.read(path)
        assert rate == 22050
    kept = tmp_path / "p.aiff"
    kept.write_bytes(b"earlier work")
    with pytest.raises(BadInputError, match=r"\.flac.*\.ogg.*\.mp3"):
        piece.save(kept, audio=options)
    assert kept.read_bytes() == b"earlier work"


def test_mp3_refuses_a_rate_it_cannot_hold(tmp_path):
    with pytest.raises(BadInputError, match="MP3"):
        render_file(sixteen_bars(), tmp_path / "x.mp3", AudioOptions(SHIPPED, sample_rate=96000))
    assert not (tmp_path / "x.mp3").exists()


@pytest.fixture
def bad_soundfonts(tmp_path):
    """A text file named .sf2, a truncated SF2, an SF2 whose hydra lost a chunk, an SF3."""
    data = SHIPPED.read_bytes()
    text = tmp_path / "text.sf2"
    text.write_text("this is not a soundfont\n")
    truncated = tmp_path / "truncated.sf2"
    truncated.write_bytes(data[: len(data) // 2])
    at = data.find(b"shdr")
    no_shdr = tmp_path / "no_shdr.sf2"
    no_shdr.write_bytes(data[:at] + b"xxxx" + data[at + 4 :])
    at = data.find(b"ifil")
    sf3 = tmp_path / "fake.sf3"
    sf3.write_bytes(data[: at + 8] + struct.pack("<H", 3) + data[at + 10 :])
    return {
        "not a soundfont": text,
        "truncated": truncated,
        "corrupt": no_shdr,
        "SF3": sf3,
        "does not exist": tmp_path / "nothere.sf2",
        "folder": tmp_path,
    }


def test_missing_or_corrupt_soundfont_is_one_clear_error_and_nothing_is_lost(
    tmp_path, bad_soundfonts
):
    out = tmp_path / "keep.wav"
    out.write_bytes(b"earlier render")
    for fragment, path in bad_soundfonts.items():
        with pytest.raises(BadInputError, match=fragment) as e:
            render_file(sixteen_bars(), out, AudioOptions(soundfont=path))
        assert "\n" not in str(e.value) and str(path) in str(e.value)
        with pytest.raises(BadInputError):
            AudioOptions(soundfont=path).checked()
    assert out.read_bytes() == b"earlier render"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_soundfont_choice_order(tmp_path, monkeypatch):
    """Given > $TUNESMITH_SOUNDFONT > an installed system SF2 (SF3 skipped) > shipped."""
    system = tmp_path / "System_GM.sf2"
    system.symlink_to(SHIPPED)
    sf3 = tmp_path / "Better.sf3"
    data = SHIPPED.read_bytes()
    at = data.find(b"ifil")
    sf3.write_bytes(data[: at + 8] + struct.pack("<H", 3) + data[at + 10 :])
    monkeypatch.delenv(SOUNDFONT_ENV, raising=False)
    monkeypatch.setattr(
        audio_module, "SYSTEM_SOUNDFONTS", ((str(sf3), "sf3 pkg"), (str(system), "sf2 pkg"))
    )
    chosen = find_soundfont()
    assert chosen.path == system and "sf2 pkg" in chosen.source
    monkeypatch.setenv(SOUNDFONT_ENV, str(SHIPPED))
    assert find_soundfont().path == SHIPPED
    assert find_soundfont(system).source == "given"
    monkeypatch.delenv(SOUNDFONT_ENV)
    monkeypatch.setattr(audio_module, "SYSTEM_SOUNDFONTS", ((str(tmp_path / "no.sf2"), "x"),))
    assert find_soundfont().path == SHIPPED and "shipped" in find_soundfont().source


def test_installed_system_soundfont_is_used_and_renders(monkeypatch):
    """Runs where fluid-soundfont-gm or musescore-general-soundfont-lossless is installed."""
    installed = system_soundfonts()
    if not installed:
        pytest.skip("no system General MIDI SF2 installed (e.g. apt install fluid-soundfont-gm)")
    monkeypatch.delenv(SOUNDFONT_ENV, raising=False)
    assert find_soundfont() == installed[0]
    system = render_audio(sixteen_bars(), 22050)
    shipped = render_audio(sixteen_bars(), 22050, soundfont=SHIPPED)
    assert loudness(system, 22050) == pytest.approx(TARGET_LUFS, abs=0.5)
    n = min(len(system), len(shipped))
    assert not np.allclose(system[:n], shipped[:n], atol=1e-2)  # another instrument set


def test_a_long_piece_encodes_to_ogg_and_mp3():
    """libsndfile's Vorbis encoder crashed on a minute of audio in one write: blocks."""
    rate = 44100
    t = np.arange(65 * rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    audio = np.stack([tone, tone], axis=1)
    for ext in (".ogg", ".mp3"):
        decoded, got_rate = soundfile.read(io.BytesIO(encode(audio, rate, ext)))
        assert got_rate == rate and abs(len(decoded) - len(audio)) < rate // 10


def test_odd_chunks_are_read_padded_or_not():
    """RIFF pads odd sizes; MuseScore_General_Lite.sf3's sdta list is odd and unpadded."""
    from tunesmith.render.audio import _next_chunk

    unpadded = b"AAAA" + struct.pack("<I", 3) + b"xyz" + b"LIST"
    padded = b"AAAA" + struct.pack("<I", 3) + b"xyz\0" + b"LIST"
    assert _next_chunk(unpadded, 0, 3) == 11
    assert _next_chunk(padded, 0, 3) == 12

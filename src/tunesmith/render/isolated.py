"""Audio rendering that a server job can stop at once: long renders run in a child process.

The synthesizer (midirenderer, Rust) and the FFT resampler are single calls that cannot
look at a deadline, and on the 2-core machine a 64-bar piece (about two minutes of audio)
spends 2-4 s in them. Inside a server job (`deadline.current()` is set) a piece longer
than `IN_PROCESS_MAX_S` is therefore rendered by `python -m tunesmith.render.isolated` in a
child process: the job polls its stop flag every `POLL_S` while it waits and kills the
child when told to stop, so the job ends (and frees its slot) within a fraction of a
second. The memory of the render (the resampler's FFT of a ten-minute piece needs well
over a gigabyte) goes back to the system when the child exits. Short pieces and every
render outside a job (CLI, Python API) stay in process: no child to start.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import symusic

from ..deadline import check, current
from ..errors import BadInputError

if TYPE_CHECKING:
    from ..music.chords import ChordSpan
    from .audio import AudioOptions

IN_PROCESS_MAX_S = 20.0  # seconds of music rendered in process even inside a job
POLL_S = 0.05  # how often a waiting job looks at its stop flag
BAD_INPUT_EXIT = 3  # the child's exit status for a BadInputError (its message on stderr)


def wav_bytes_bounded(
    score: symusic.Score, sample_rate: int, seconds: float | None = None
) -> bytes:
    """16-bit stereo WAV bytes of `score`; in a child process when a job's long render.

    `seconds`: the piece's length if known (else it is computed from the score).
    """
    from .audio import AudioOptions

    return audio_bytes_bounded(score, AudioOptions(sample_rate=sample_rate), ".wav", seconds)


def audio_bytes_bounded(
    score: symusic.Score, options: AudioOptions, ext: str = ".wav", seconds: float | None = None
) -> bytes:
    """`score` rendered with `options` (soundfont, reverb, loudness, rate) as the bytes of
    an `ext` file (.wav, .flac, .ogg, .mp3); in a child process when a job's long render."""
    from .audio import check_audio_format, encode, render_audio

    ext = check_audio_format(ext, options.sample_rate)
    check()
    if seconds is None:
        seconds = float(score.to("second").end())
    o = options
    if current() is None or seconds <= IN_PROCESS_MAX_S:
        audio = render_audio(score, o.sample_rate, o.soundfont, o.reverb, o.loudness)
        check()
        return encode(audio, o.sample_rate, ext)
    spec = {
        "rate": o.sample_rate,
        "ext": ext,
        "soundfont": str(o.soundfont) if o.soundfont else None,
        "reverb": o.reverb,
        "loudness": o.loudness,
    }
    return _render_in_child(score.to("tick").dumps_midi(), spec)


NOTATION_IN_PROCESS_MAX = 64  # bars x parts written as MusicXML in process inside a job


def musicxml_bytes_bounded(
    score: symusic.Score,
    title: str | None = None,
    key: str | None = None,
    chords: Sequence[ChordSpan] | None = None,
    measures: int | None = None,
) -> bytes:
    """`notation.musicxml_bytes`, in a child process when a job asks for a large score.

    music21's barring and export of one voice or one part are single calls that run for
    seconds on hundreds of bars; in a child they end the moment the job is told to stop
    (and music21's memory never enters the server). `measures`: bars x parts, if known.
    """
    check()
    if current() is None or (measures is not None and measures <= NOTATION_IN_PROCESS_MAX):
        from .notation import musicxml_bytes

        return musicxml_bytes(score, title, key, chords)
    spans = [
        [c.bar, c.beat, c.start, c.end, *((c.chord.root, c.chord.quality, c.chord.bass)
                                          if c.chord else (None, None, None))]
        for c in chords or ()
    ]  # fmt: skip
    spec = {"kind": "musicxml", "title": title, "key": key, "chords": spans}
    return _render_in_child(score.to("tick").dumps_midi(), spec)


def _render_in_child(midi: bytes, spec: dict) -> bytes:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunesmith.render.isolated", json.dumps(spec)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = _communicate(proc, midi)
    finally:
        if proc.poll() is None:  # told to stop (or anything else went wrong): end it now
            proc.kill()
            proc.communicate()
    if proc.returncode == 0:
        return out
    lines = err.decode("utf-8", "replace").strip().splitlines()
    if proc.returncode == BAD_INPUT_EXIT and lines:
        raise BadInputError(lines[-1])
    raise RuntimeError(
        f"the {spec.get('kind', 'audio')} renderer exited with status {proc.returncode}: "
        f"{lines[-1] if lines else 'no message'}"
    )


def _communicate(proc: subprocess.Popen, midi: bytes) -> tuple[bytes, bytes]:
    """The child's (stdout, stderr), checking the job's stop flag every POLL_S."""
    data: bytes | None = midi
    while True:
        check()
        try:
            return proc.communicate(data, timeout=POLL_S)
        except subprocess.TimeoutExpired:
            data = None  # sent on the first call; later calls only go on reading


def _main(argv: list[str]) -> int:
    """The child: MIDI bytes on stdin, audio file bytes on stdout; argv[0] is the JSON
    spec (rate, ext, soundfont, reverb, loudness) that `audio_bytes_bounded` sends."""
    from .audio import encode, render_audio

    spec = json.loads(argv[0])
    if spec.get("kind") == "musicxml":
        return _notation_main(spec)
    rate = int(spec["rate"])
    try:
        score = symusic.Score.from_midi(sys.stdin.buffer.read())
        audio = render_audio(score, rate, spec["soundfont"], spec["reverb"], spec["loudness"])
        sys.stdout.buffer.write(encode(audio, rate, spec["ext"]))
    except BadInputError as e:
        print(" ".join(str(e).split()), file=sys.stderr)
        return BAD_INPUT_EXIT
    sys.stdout.buffer.flush()
    return 0


def _notation_main(spec: dict) -> int:
    """The child for MusicXML: MIDI bytes on stdin, MusicXML bytes on stdout."""
    from ..music.chords import Chord, ChordSpan
    from .notation import musicxml_bytes

    chords = [
        ChordSpan(bar, beat, start, end, Chord(root, quality, bass) if quality else None)
        for bar, beat, start, end, root, quality, bass in spec["chords"]
    ]
    try:
        score = symusic.Score.from_midi(sys.stdin.buffer.read())
        xml = musicxml_bytes(score, spec["title"], spec["key"], chords or None)
        sys.stdout.buffer.write(xml)
    except BadInputError as e:
        print(" ".join(str(e).split()), file=sys.stderr)
        return BAD_INPUT_EXIT
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
